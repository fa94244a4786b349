import type { GuardedIncrement, Store } from '../storage/types.js';
import type { BudgetRule } from './access-policy.js';
import type { PeriodWindow } from './budget-period.js';

/** Closed periods' counters stay readable this long after the period ends, then expire. */
const RETAIN_AFTER_END_MS = 7 * 24 * 3_600_000;

/**
 * The two counters behind one budget in one period. `spent` holds settled spend plus what is
 * reserved by requests in flight (the number limits are checked against); `held` holds only the
 * reservations, so the budget API can report them. Counter names carry the period start and the
 * budget generation: a new period or a reset simply starts new counters, with no cron.
 */
export interface BudgetCounters {
  rule: BudgetRule;
  window: PeriodWindow;
  spentKey: string;
  heldKey: string;
  /** Expiry for counters created now; undefined for lifetime budgets. */
  ttlMs: number | undefined;
}

export function budgetCounters(rule: BudgetRule, window: PeriodWindow, now: number): BudgetCounters {
  const suffix = `${rule.scope}:${rule.id}:g${rule.generation}:${rule.period}:${window.start}`;
  return {
    rule,
    window,
    spentKey: `budget:${suffix}`,
    heldKey: `budget-held:${suffix}`,
    ttlMs: window.end === null ? undefined : window.end - now + RETAIN_AFTER_END_MS,
  };
}

/** A counter increment carrying the counters' expiry. */
export function increment(key: string, delta: number, ttlMs: number | undefined, limit?: number): GuardedIncrement {
  const entry: GuardedIncrement = { key, delta };
  if (limit !== undefined) entry.limit = limit;
  if (ttlMs !== undefined) entry.ttl_ms = ttlMs;
  return entry;
}

/** An increment of a budget's spent or held counter: money, which the store keeps durably. */
export function moneyIncrement(key: string, delta: number, ttlMs: number | undefined, limit?: number): GuardedIncrement {
  const entry = increment(key, delta, ttlMs, limit);
  entry.durable = true;
  return entry;
}

/** What GET .../budget reports, in micro-USD. */
export interface BudgetState {
  spentMicros: number;
  heldMicros: number;
  maxMicros: number | null;
  remainingMicros: number | null;
}

export async function readBudget(store: Store, counters: BudgetCounters): Promise<BudgetState> {
  const [total, held] = await Promise.all([store.getCounter(counters.spentKey), store.getCounter(counters.heldKey)]);
  const max = counters.rule.maxMicros;
  return {
    spentMicros: Math.max(0, total - held),
    heldMicros: held,
    maxMicros: max,
    remainingMicros: max === null ? null : Math.max(0, max - total),
  };
}

/** Micro-USD as the decimal USD string the budget headers carry. */
export function usdString(micros: number): string {
  return (Math.max(0, micros) / 1_000_000).toFixed(6);
}
