import type { Authenticator } from '../../keys/authenticator.js';
import type { Stage } from '../types.js';

/** Resolves the caller to `ctx.principal`; nothing below runs for an unauthenticated request. */
export function createAuthenticateStage(authenticator: Authenticator): Stage {
  return {
    name: 'authenticate',
    async run(ctx, next) {
      ctx.principal = await authenticator.authenticate(ctx.headers);
      await next();
    },
  };
}
