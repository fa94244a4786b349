import { GatewayError } from '../../errors/gateway-error.js';
import type { RoutePlan } from '../../routing/planner.js';
import type { GatewayContext, Stage } from '../types.js';

/**
 * The output limit assumed for a model whose limit is unknown: above anything a model writes in
 * one answer, and low enough that a worst-case cost stays an exact integer.
 */
const UNKNOWN_MODEL_OUTPUT_LIMIT = 10_000_000;

/** The largest output limit among the plan's deployments: a request any of them can serve is let through. */
function outputLimit(plan: RoutePlan): number {
  let limit = 0;
  for (const step of plan.steps) limit = Math.max(limit, step.deployment.maxOutputTokens ?? UNKNOWN_MODEL_OUTPUT_LIMIT);
  return limit;
}

/** The token limits a request sets, under the names the client used. */
function requestedLimits(ctx: GatewayContext): Array<[field: string, value: unknown]> {
  const request = ctx.request!;
  if (request.operation === 'embeddings') return [];
  if (request.operation === 'messages') return [['max_tokens', request.body.max_tokens]];
  // The Responses API's max_output_tokens arrives here as the chat request's max_tokens.
  if (request.operation === 'responses') return [['max_output_tokens', request.body.max_tokens]];
  return [['max_tokens', request.body.max_tokens], ['max_completion_tokens', request.body.max_completion_tokens]];
}

/**
 * Refuses token limits above what the model can write with a 400 naming the field (the request
 * schema already caps `n` at 128). Without it `max_tokens: 9007199254740991` made the reserved worst case an
 * inexact number that the counter store rejects; the provider would refuse such a request anyway.
 */
export function createOutputLimitsStage(): Stage {
  return {
    name: 'output-limits',
    async run(ctx, next) {
      const plan = ctx.plan;
      if (!plan || !ctx.request) throw new GatewayError('SF_ERR_INTERNAL', { message: 'The output-limits stage ran before the request was validated and resolved.' });
      const limit = outputLimit(plan);
      for (const [field, value] of requestedLimits(ctx)) {
        if (typeof value === 'number' && value > limit) {
          throw new GatewayError('SF_ERR_INVALID_REQUEST', {
            message: `${field} is ${value}, above the ${limit} output tokens "${ctx.requestedModel.slice(0, 200)}" can write.`,
            param: field,
          });
        }
      }
      await next();
    },
  };
}
