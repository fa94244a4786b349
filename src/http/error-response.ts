import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, toGatewayError } from '../errors/gateway-error.js';
import { renderError, type ErrorSurface } from '../errors/to-wire.js';

/** Fastify's own error codes, mapped to ours. */
const FASTIFY_CODES: Record<string, (request: FastifyRequest) => GatewayError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (request) => bodyTooLarge(request.routeOptions.bodyLimit),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new GatewayError('SF_ERR_UNSUPPORTED_MEDIA_TYPE'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new GatewayError('SF_ERR_INVALID_JSON', { message: 'The request body is empty; a JSON object was expected.' }),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The Content-Length header does not match the body.' }),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new GatewayError('SF_ERR_INVALID_JSON'),
  FST_ERR_VALIDATION: () => new GatewayError('SF_ERR_INVALID_REQUEST'),
  FST_ERR_BAD_URL: () => new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The request URL is not valid.' }),
};

function byteSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** Says the limit, so the client knows what fits, and the setting, so the operator knows what to raise. */
function bodyTooLarge(limit: number | undefined): GatewayError {
  if (limit === undefined) return new GatewayError('SF_ERR_BODY_TOO_LARGE');
  return new GatewayError('SF_ERR_BODY_TOO_LARGE', { message: `The request body is larger than this gateway's limit of ${byteSize(limit)} (${limit} bytes), set by server.body_limit_bytes.` });
}

/** Any error reaching the HTTP layer as a GatewayError, including fastify's body-parser errors. */
function normaliseError(err: unknown, request: FastifyRequest): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string } | undefined;
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return mapped(request);
  // fastify's JSON parser raises a SyntaxError with statusCode 400 for malformed bodies.
  if (err instanceof SyntaxError && e?.statusCode === 400) return new GatewayError('SF_ERR_INVALID_JSON', { message: `The request body is not valid JSON: ${err.message}` });
  return toGatewayError(err);
}


/** RFC 6750: a 401 names the scheme that would work (MCP clients read it before starting their auth). */
const UNAUTHORIZED_HEADERS = { 'www-authenticate': 'Bearer' };

/** Sends an error with its status, its own headers (Retry-After ...) and the given extra headers. */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown, headers: Record<string, string> = {}, surface: ErrorSurface = 'openai'): FastifyReply {
  const gerr = normaliseError(err, request);
  if (gerr.codeName === 'SF_ERR_INTERNAL') request.log.error({ err }, 'unhandled error');
  return reply
    .code(gerr.status)
    .headers({ 'x-request-id': request.id, ...(gerr.status === 401 ? UNAUTHORIZED_HEADERS : {}), ...headers, ...gerr.headers })
    .type('application/json')
    .send(JSON.stringify(renderError(gerr, surface)));
}
