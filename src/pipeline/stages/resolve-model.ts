import { GatewayError } from '../../errors/gateway-error.js';
import type { GatewayRequest } from '../../providers/gateway-request.js';
import type { RoutePlanner } from '../../routing/planner.js';
import type { Stage } from '../types.js';

const MODE_FOR: Record<GatewayRequest['operation'], 'chat' | 'embedding'> = { chat: 'chat', embeddings: 'embedding', messages: 'chat', responses: 'chat' };
/** Claude Code's marker for the 1M-token context window, e.g. `claude-sonnet-4-5[1m]`. */
const LONG_CONTEXT_SUFFIX = '[1m]';

/**
 * Resolves the requested model name to a route plan (a fallback chain, a model group, or one
 * deployment), or answers 404 / 400 before any provider is called.
 */
export function createResolveModelStage(planner: RoutePlanner): Stage {
  return {
    name: 'resolve-model',
    async run(ctx, next) {
      if (ctx.requestedModel.endsWith(LONG_CONTEXT_SUFFIX)) {
        ctx.requestedModel = ctx.requestedModel.slice(0, -LONG_CONTEXT_SUFFIX.length);
        ctx.longContext = true;
      }
      const plan = planner.plan(ctx.requestedModel) ?? (ctx.surface === 'cursor' ? planner.planOnDefaultProvider(ctx.requestedModel) : undefined);
      if (!plan) {
        throw new GatewayError('SF_ERR_MODEL_NOT_FOUND', { message: `The model "${ctx.requestedModel.slice(0, 200)}" does not exist on this gateway. GET /v1/models lists the models you can use.`, param: 'model' });
      }
      const wrongMode = plan.steps.find((s) => s.deployment.mode !== MODE_FOR[ctx.operation]);
      if (wrongMode) {
        const d = wrongMode.deployment;
        throw new GatewayError('SF_ERR_OPERATION_UNSUPPORTED', { message: `The model "${d.name}" is ${d.mode === 'embedding' ? 'an embedding' : 'a chat'} model and cannot serve ${ctx.operation}.`, param: 'model' });
      }
      if (ctx.operation === 'messages') {
        const foreign = plan.steps.find((s) => s.deployment.provider.type !== 'anthropic');
        if (foreign) {
          throw new GatewayError('SF_ERR_OPERATION_UNSUPPORTED', { message: `The model "${ctx.requestedModel.slice(0, 200)}" is served by ${foreign.deployment.provider.name}, not Anthropic; /anthropic passes requests to Anthropic only (use /v1 or /cursor to reach other providers).`, param: 'model' });
        }
      }
      ctx.plan = plan;
      ctx.deployment = plan.steps[0]!.deployment;
      await next();
    },
  };
}
