import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Cancellation } from '../core/cancellation.js';
import { freshCallState } from '../pipeline/call-state.js';
import type { GatewayContext } from '../pipeline/types.js';
import type { GatewayRequest } from '../providers/gateway-request.js';

function queryOf(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? '' : url.slice(at);
}

/**
 * Builds the framework-free context for one request and ties its abort signal to the
 * client connection: a client that goes away cancels the upstream call. `now` is the gateway's
 * clock (tests pass a controllable one), so the spend log's time agrees with budget periods.
 */
export function createContext(request: FastifyRequest, reply: FastifyReply, now: () => number, operation: GatewayRequest['operation'], surface: GatewayContext['surface'] = 'openai'): GatewayContext {
  const body = request.body as { model?: unknown; stream?: unknown } | null | undefined;
  const abort = new Cancellation();
  const startedHr = performance.now();
  const ctx: GatewayContext = {
    id: request.id,
    startedAt: now(),
    startedHr,
    operation,
    surface,
    rawBody: request.body,
    rawQuery: queryOf(request.url),
    request: null,
    requestedModel: typeof body?.model === 'string' ? body.model : '',
    longContext: false,
    stream: body?.stream === true,
    headers: request.headers,
    ...freshCallState(startedHr),
    loop: null,
    responseHeaders: { 'x-request-id': request.id },
    abort,
    log: request.log,
  };
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) abort.cancel();
  });
  return ctx;
}

/**
 * The context of one LLM step of an MCP tool loop: the client's request (same id, headers,
 * cancellation, log) with the step's own body and fresh per-call state, so each step runs the
 * whole pipeline (budget, cache, routing) and is its own spend row, linked by `loop`.
 */
export function createStepContext(outer: GatewayContext, rawBody: Record<string, unknown>, step: number, now: () => number): GatewayContext {
  const startedHr = performance.now();
  return {
    ...outer,
    startedAt: now(),
    startedHr,
    rawBody,
    request: null,
    requestedModel: typeof rawBody['model'] === 'string' ? rawBody['model'] : '',
    longContext: false,
    ...freshCallState(startedHr),
    loop: { id: outer.id, step },
    responseHeaders: { 'x-request-id': outer.id },
  };
}
