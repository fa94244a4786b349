import type { GatewayContext } from '../pipeline/types.js';
import type { Usage } from '../providers/types.js';
import { costMicros } from './pricing.js';

/** A request's cost: its failed attempts (usually nothing) plus the answer at the answering deployment's prices. */
export function requestCostMicros(ctx: Pick<GatewayContext, 'failedAttempts' | 'deployment'>, usage: Usage): number {
  let total = costMicros(usage, ctx.deployment?.price);
  for (const attempt of ctx.failedAttempts) total += attempt.cost_micros;
  return total;
}
