import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../../pipeline/types.js';
import { createContext } from '../context.js';
import { passthroughName } from '../passthrough.js';
import { responsesClientFrames } from '../responses-stream.js';
import { answerThroughPipeline } from '../run-pipeline.js';
import { hasMcpToolEntries } from '../../mcp/tool-loop/tool-entries.js';
import { answerWithToolLoop, type ToolLoopDeps } from '../tool-loop-answer.js';

export interface ResponsesRoutesDeps {
  pipeline: (ctx: GatewayContext) => Promise<void>;
  /** The gateway's clock, for the time a request arrived. */
  now: () => number;
  /** Runs requests whose tools include gateway MCP entries (docs/mcp.md, "Tool loop"). */
  toolLoop?: ToolLoopDeps;
}

export interface ResponsesRoutesOptions {
  /** Where to mount the handler, e.g. `/v1/responses`, `/responses`. */
  paths: string[];
  /** `cursor`: unknown model names go to the default OpenAI-compatible provider, and answers carry `X-Smartflow-Passthrough`. */
  surface: 'openai' | 'cursor';
}

/**
 * `POST /v1/responses`, the OpenAI Responses API (docs/responses.md). The request runs through
 * the whole pipeline as operation `responses` (keys, budgets, rate limits, cache, fallback chains,
 * spend log); OpenAI-compatible providers get it natively, Anthropic, Gemini and the demo
 * provider through its chat translation, and the answer is a Response or Responses events
 * either way. Errors are OpenAI error JSON.
 */
export function registerResponsesRoutes(app: FastifyInstance, deps: ResponsesRoutesDeps, options: ResponsesRoutesOptions): void {
  const cursor = options.surface === 'cursor';
  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = createContext(request, reply, deps.now, 'responses', options.surface);
    if (deps.toolLoop && hasMcpToolEntries(request.body)) return answerWithToolLoop(request, reply, ctx, deps.pipeline, deps.toolLoop, 'responses', cursor ? passthroughName : undefined);
    await answerThroughPipeline(request, reply, ctx, deps.pipeline, {
      surface: 'openai',
      ...(cursor ? { passthrough: passthroughName } : {}),
      adapt: (c) => {
        if (c.response?.kind === 'stream') c.response = { ...c.response, frames: responsesClientFrames(c.response.frames, c.log) };
      },
    });
  };
  for (const path of options.paths) app.post(path, handle);
}
