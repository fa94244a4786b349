import type { ModelDeployment } from '../providers/registry.js';
import type { Usage } from '../providers/types.js';
import { costMicros } from './pricing.js';
import type { SpendAttempt } from './spend-record.js';

/** What the request-cost rule reads of a request: the answering deployment and the attempts that failed before it. */
export interface CostedRequest {
  readonly deployment: ModelDeployment | null;
  readonly failedAttempts: readonly SpendAttempt[];
}

/** A request's cost: its failed attempts (usually nothing) plus the answer at the answering deployment's prices. */
export function requestCostMicros(request: CostedRequest, usage: Usage): number {
  let total = costMicros(usage, request.deployment?.price);
  for (const attempt of request.failedAttempts) total += attempt.cost_micros;
  return total;
}
