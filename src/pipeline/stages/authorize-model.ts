import { GatewayError } from '../../errors/gateway-error.js';
import type { Stage } from '../types.js';

/** 403 when the key's (or its team's) model list does not include the requested model. */
export function createAuthorizeModelStage(): Stage {
  return {
    name: 'authorize-model',
    async run(ctx, next) {
      const policy = ctx.principal?.policy;
      // The configured name and the name the client used both count: an alias or `provider/model`.
      if (policy && !policy.allowModel(ctx.requestedModel) && !(ctx.deployment && policy.allowModel(ctx.deployment.name))) {
        throw new GatewayError('SF_ERR_MODEL_NOT_ALLOWED', { message: `This key may not use the model "${ctx.requestedModel.slice(0, 200)}".`, param: 'model' });
      }
      await next();
    },
  };
}
