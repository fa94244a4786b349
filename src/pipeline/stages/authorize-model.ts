import { GatewayError } from '../../errors/gateway-error.js';
import type { Stage } from '../types.js';

/**
 * 403 when the key's (or its team's) model list does not include the requested model. The name
 * the client used counts (an alias, a chain id, `provider/model`); otherwise every deployment the
 * request may reach must be allowed, so a fallback cannot carry a request to a model the key may
 * not use.
 */
export function createAuthorizeModelStage(): Stage {
  return {
    name: 'authorize-model',
    async run(ctx, next) {
      const policy = ctx.principal?.policy;
      if (policy && !policy.allowModel(ctx.requestedModel)) {
        const steps = ctx.plan?.steps ?? [];
        const reachable = steps.length > 0 && steps.every((s) => policy.allowModel(s.deployment.name) || policy.allowModel(s.deployment.id));
        if (!reachable) {
          throw new GatewayError('SF_ERR_MODEL_NOT_ALLOWED', { message: `This key may not use the model "${ctx.requestedModel.slice(0, 200)}".`, param: 'model' });
        }
      }
      await next();
    },
  };
}
