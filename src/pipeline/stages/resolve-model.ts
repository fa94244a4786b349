import { GatewayError } from '../../errors/gateway-error.js';
import type { ProviderRegistry } from '../../providers/registry.js';
import type { Stage } from '../types.js';

const MODE_FOR: Record<'chat' | 'embeddings', 'chat' | 'embedding'> = { chat: 'chat', embeddings: 'embedding' };

/** Resolves the requested model name to a deployment, or answers 404 / 400 before any provider is called. */
export function createResolveModelStage(registry: ProviderRegistry): Stage {
  return {
    name: 'resolve-model',
    async run(ctx, next) {
      const deployment = registry.resolveModel(ctx.requestedModel);
      if (!deployment) {
        throw new GatewayError('SF_ERR_MODEL_NOT_FOUND', { message: `The model "${ctx.requestedModel.slice(0, 200)}" does not exist on this gateway. GET /v1/models lists the models you can use.`, param: 'model' });
      }
      if (deployment.mode !== MODE_FOR[ctx.operation]) {
        throw new GatewayError('SF_ERR_OPERATION_UNSUPPORTED', { message: `The model "${deployment.name}" is an ${deployment.mode} model and cannot serve ${ctx.operation}.`, param: 'model' });
      }
      ctx.deployment = deployment;
      await next();
    },
  };
}
