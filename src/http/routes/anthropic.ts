import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Authenticator } from '../../keys/authenticator.js';
import { Cancellation } from '../../core/cancellation.js';
import type { GatewayContext } from '../../pipeline/types.js';
import type { ByokRule } from '../../providers/anthropic/byok.js';
import { anthropicClientHeaders, callerAnthropicKey } from '../../providers/anthropic/client-headers.js';
import type { ProviderRegistry } from '../../providers/registry.js';
import { scrubAccountIds } from '../../providers/scrub-account-ids.js';
import { readText } from '../../providers/upstream-stream.js';
import { createContext } from '../context.js';
import { sendError } from '../error-response.js';
import { authenticatedScope, principalOf } from '../plugins/authenticate.js';
import { answerThroughPipeline } from '../run-pipeline.js';

export interface AnthropicRoutesDeps {
  pipeline: (ctx: GatewayContext) => Promise<void>;
  registry: ProviderRegistry;
  authenticator: Authenticator;
  /** passthrough.anthropic.allow_byok */
  allowByok: boolean;
  /** Which provider a caller's own Anthropic key may go to. */
  byok: ByokRule;
  /** The gateway's clock, for the time a request arrived. */
  now: () => number;
}

const PASSTHROUGH = { 'x-smartflow-passthrough': 'anthropic' };
/** Endpoints that cost nothing, forwarded for every key; anything else bypasses budgets and model lists, so only admin keys may use it. */
const FREE_ENDPOINTS: Array<[method: string, path: RegExp]> = [
  ['POST', /^\/v1\/messages\/count_tokens$/],
  ['GET', /^\/v1\/models$/],
  ['GET', /^\/v1\/models\/[A-Za-z0-9._:@-]+$/],
];
/** Response headers of a forwarded answer that describe its body; hop-by-hop and length headers are the server's business. */
const KEPT_RESPONSE_HEADERS = ['content-type', 'request-id', 'retry-after', 'anthropic-ratelimit-requests-remaining', 'anthropic-ratelimit-tokens-remaining'];

/**
 * `/anthropic/*`: Anthropic's API for Claude Code and Anthropic SDKs (`ANTHROPIC_BASE_URL=<gateway>/anthropic`).
 * `POST /v1/messages` runs the whole pipeline (keys, budgets, rate limits, chains, spend log)
 * with the body passed through natively; any other path is forwarded as is with the provider's
 * key (to the BYOK target with the caller's own key, when it brings one), and comes back as is but
 * for account ids in an error. Errors are Anthropic error JSON.
 */
export function registerAnthropicRoutes(app: FastifyInstance, deps: AnthropicRoutesDeps): void {
  // Claude Code probes the base URL before it starts.
  app.route({ method: ['GET', 'HEAD'], url: '/anthropic', handler: async (_request, reply) => reply.headers(PASSTHROUGH).send({ status: 'ok', api: 'anthropic' }) });

  app.post('/anthropic/v1/messages', async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = createContext(request, reply, deps.now, 'messages', 'anthropic');
    await answerThroughPipeline(request, reply, ctx, deps.pipeline, { surface: 'anthropic', passthrough: () => 'anthropic' });
  });

  authenticatedScope(app, { authenticator: deps.authenticator, admin: false }, (scope) => scope.all('/anthropic/*', async (request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
    try {
      const principal = principalOf(request);
      const path = `/${request.params['*']}`;
      const normalized = path.replace(/\/{2,}/g, '/').replace(/\/$/, '');
      // Spellings of the messages endpoint must not slip past the pipeline into the raw forward.
      if (path.split('/').includes('..') || normalized === '/v1/messages') throw new GatewayError('SF_ERR_ROUTE_NOT_FOUND', { message: `No endpoint ${request.method} /anthropic${path.slice(0, 200)}; messages go to POST /anthropic/v1/messages.` });
      const free = FREE_ENDPOINTS.some(([method, pattern]) => method === request.method && pattern.test(path));
      if (!free && !principal.isAdmin) {
        throw new GatewayError('SF_ERR_FORBIDDEN', { message: `${request.method} /anthropic${path.slice(0, 200)} would be forwarded without budgets or model checks, so it needs an admin key. Virtual keys may use /v1/messages, /v1/messages/count_tokens and /v1/models.` });
      }
      const own = callerAnthropicKey(request.headers, principal, deps.allowByok);
      // A caller's own key is meant for the BYOK target, not for whichever Anthropic provider comes first.
      const provider = (own === undefined ? undefined : deps.byok.target) ?? deps.registry.firstOfType('anthropic');
      const forward = provider ? deps.registry.anthropicForward(provider.name) : undefined;
      if (!provider || !forward) throw new GatewayError('SF_ERR_MODEL_NOT_FOUND', { message: 'No Anthropic provider is configured on this gateway.' });
      const apiKeyOverride = deps.byok.keyFor(provider, own);
      const at = request.url.indexOf('?');
      const abort = new Cancellation();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) abort.cancel();
      });
      const res = await forward({
        method: request.method as 'GET',
        path,
        query: at === -1 ? '' : request.url.slice(at),
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        forwardedHeaders: anthropicClientHeaders(request.headers),
        apiKeyOverride,
        signal: abort,
      });
      const headers: Record<string, string> = { ...PASSTHROUGH };
      for (const name of KEPT_RESPONSE_HEADERS) {
        const value = res.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      // An error's text names the operator's account (organization ids): masked like every other provider error.
      const body = res.status >= 400 ? scrubAccountIds(await readText(res, abort)) : res.body;
      return reply.code(res.status).headers(headers).send(body);
    } catch (err) {
      return sendError(request, reply, err, PASSTHROUGH, 'anthropic');
    }
  }));
}
