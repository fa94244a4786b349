import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorSurface } from '../errors/to-wire.js';
import type { GatewayContext } from '../pipeline/types.js';
import { sendError } from './error-response.js';
import { sendResponse } from './send-response.js';

export interface PipelineAnswerOptions {
  /** How errors are rendered (OpenAI or Anthropic error JSON). */
  surface: ErrorSurface;
  /** Names the provider family for `X-Smartflow-Passthrough`, on answers and errors alike. */
  passthrough?: (ctx: GatewayContext) => string;
  /** Reshapes a successful answer before it is sent (the Responses API's stream events). */
  adapt?: (ctx: GatewayContext) => void;
}

/** Runs the pipeline for one request and sends its answer, or its error in the surface's shape. */
export async function answerThroughPipeline(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: GatewayContext,
  pipeline: (ctx: GatewayContext) => Promise<void>,
  options: PipelineAnswerOptions,
): Promise<void> {
  try {
    await pipeline(ctx);
  } catch (err) {
    if (options.passthrough) ctx.responseHeaders['x-smartflow-passthrough'] = options.passthrough(ctx);
    sendError(request, reply, err, ctx.responseHeaders, options.surface);
    return;
  }
  if (options.passthrough) ctx.responseHeaders['x-smartflow-passthrough'] = options.passthrough(ctx);
  options.adapt?.(ctx);
  await sendResponse(request, reply, ctx, options.surface);
}
