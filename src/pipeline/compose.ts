import type { GatewayContext, Stage } from './types.js';

/**
 * Builds the onion: each stage gets a `next` that runs the rest. Unlike koa-compose, a stage
 * may call `next` more than once: the route stage retries and falls back by doing exactly that.
 */
export function compose(stages: readonly Stage[]): (ctx: GatewayContext) => Promise<void> {
  function dispatch(ctx: GatewayContext, i: number): Promise<void> {
    const stage = stages[i];
    if (!stage) return Promise.resolve();
    try {
      return stage.run(ctx, () => dispatch(ctx, i + 1));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return (ctx) => dispatch(ctx, 0);
}
