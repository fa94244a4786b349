import type { GatewayContext } from '../pipeline/types.js';

/** `X-Smartflow-Passthrough` on /cursor: the provider family that answered (anthropic, google or openai). */
export function passthroughName(ctx: GatewayContext): string {
  const type = ctx.deployment?.provider.type;
  return type === 'anthropic' ? 'anthropic' : type === 'gemini' ? 'google' : 'openai';
}
