import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../../pipeline/types.js';
import { createContext } from '../context.js';
import { sendError } from '../error-response.js';
import { passthroughName } from '../passthrough.js';
import { responsesClientFrames } from '../responses-stream.js';
import { sendResponse } from '../send-response.js';

export interface ResponsesRoutesDeps {
  pipeline: (ctx: GatewayContext) => Promise<void>;
}

export interface ResponsesRoutesOptions {
  /** Where to mount the handler, e.g. `/v1/responses`, `/responses`. */
  paths: string[];
  /** `cursor`: unknown model names go to the default OpenAI-compatible provider, and answers carry `X-Smartflow-Passthrough`. */
  surface: 'openai' | 'cursor';
}

/**
 * `POST /v1/responses`, the OpenAI Responses API (docs/responses.md). The request runs through
 * the whole pipeline as a chat request (keys, budgets, rate limits, cache, fallback chains,
 * spend log); OpenAI-compatible providers get it natively, Anthropic, Gemini and the demo
 * provider through the chat translation, and the answer is a Response or Responses events
 * either way. Errors are OpenAI error JSON.
 */
export function registerResponsesRoutes(app: FastifyInstance, deps: ResponsesRoutesDeps, options: ResponsesRoutesOptions): void {
  const cursor = options.surface === 'cursor';
  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = createContext(request, reply, 'chat', options.surface);
    ctx.responses = { body: null, untranslatable: null };
    try {
      await deps.pipeline(ctx);
    } catch (err) {
      if (cursor) ctx.responseHeaders['x-smartflow-passthrough'] = passthroughName(ctx);
      return sendError(request, reply, err, ctx.responseHeaders);
    }
    if (cursor) ctx.responseHeaders['x-smartflow-passthrough'] = passthroughName(ctx);
    if (ctx.response?.kind === 'stream') ctx.response = { ...ctx.response, frames: responsesClientFrames(ctx.response.frames, ctx.log) };
    await sendResponse(request, reply, ctx);
  };
  for (const path of options.paths) app.post(path, handle);
}
