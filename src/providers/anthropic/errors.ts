import { GatewayError } from '../../errors/gateway-error.js';
import { scrubAccountIds } from '../scrub-account-ids.js';
import { headerValue, isRecord } from '../wire-utils.js';

/**
 * Anthropic error responses (`{type:'error', error:{type, message}}`) -> GatewayError,
 * keeping the upstream status so clients and the retry logic see what the provider said.
 */

/** Anthropic error types and the HTTP status each one comes with. */
const STATUS_BY_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** How Anthropic words "the prompt does not fit the context window". */
const CONTEXT_LENGTH_RE = /prompt is too long|exceeds? (the )?(context|model's maximum)|context (window|limit)|too many (input )?tokens/i;

/** Anything that looks like a credential is cut from messages we pass on. */
const SECRET_RE = /sk-[A-Za-z0-9_-]{4,}|[A-Za-z0-9_-]{32,}/g;

type Headers = Record<string, string | string[] | undefined>;

/** Parses Anthropic's error envelope; undefined fields when the body is not one. */
function parseEnvelope(body: unknown): { type?: string; message?: string } {
  if (!isRecord(body) || !isRecord(body['error'])) return {};
  const type = body['error']['type'];
  const message = body['error']['message'];
  return {
    ...(typeof type === 'string' ? { type } : {}),
    ...(typeof message === 'string' && message !== '' ? { message: scrubAccountIds(message) } : {}),
  };
}

function build(status: number, type: string | undefined, upstreamMessage: string | undefined, extraHeaders: Record<string, string>): GatewayError {
  const message = upstreamMessage ?? `Upstream returned ${status}`;
  const upstream = type === undefined ? {} : { upstreamType: type };
  if (status === 401) {
    // The client's own key was fine; the gateway's provider key was not. Say so, but never echo it.
    const detail = upstreamMessage === undefined ? '' : `: ${upstreamMessage.replace(SECRET_RE, '[redacted]')}`;
    return new GatewayError('SF_ERR_UPSTREAM_AUTH', { message: `The provider rejected the gateway's credentials (upstream status 401)${detail}`, retryable: false });
  }
  if (status === 429) return new GatewayError('SF_ERR_UPSTREAM_RATE_LIMITED', { status, message, headers: extraHeaders, ...upstream });
  if (status === 400 && upstreamMessage !== undefined && CONTEXT_LENGTH_RE.test(upstreamMessage)) {
    // Our own code and type, so OpenAI SDKs see `context_length_exceeded` as they would from OpenAI.
    return new GatewayError('SF_ERR_CONTEXT_LENGTH_EXCEEDED', { status, message, retryable: false });
  }
  return new GatewayError('SF_ERR_UPSTREAM_ERROR', { status, message, headers: extraHeaders, ...upstream });
}

/**
 * Maps an Anthropic HTTP error response to a GatewayError. The status is preserved (429 and
 * 529 stay as they are and stay retryable), `retry-after` is carried over, a 401 is reworded
 * so it cannot leak the gateway's key, and "prompt is too long" becomes
 * SF_ERR_CONTEXT_LENGTH_EXCEEDED. A body that is not Anthropic's error JSON yields the message
 * `Upstream returned <status>`.
 */
export function anthropicError(status: number, bodyText: string, headers: Headers): GatewayError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  const { type, message } = parseEnvelope(parsed);
  const retryAfter = headerValue(headers, 'retry-after');
  return build(status, type, message, retryAfter === undefined ? {} : { 'retry-after': retryAfter });
}

/**
 * Maps an in-stream `error` event (sent after a 200, so there is no HTTP status) to a
 * GatewayError, deriving the status from the error type: `overloaded_error` is 529 and
 * retryable, `rate_limit_error` 429, unknown types 502.
 */
export function anthropicStreamError(data: unknown): GatewayError {
  const { type, message } = parseEnvelope(data);
  const status = (type === undefined ? undefined : STATUS_BY_TYPE[type]) ?? 502;
  return build(status, type, message ?? `Upstream stream failed${type === undefined ? '' : ` with ${type}`}`, {});
}
