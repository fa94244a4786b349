import type { Store } from '../storage/types.js';
import type { BudgetRule } from './access-policy.js';
import type { BudgetPeriod, PeriodWindow } from './budget-period.js';
import { budgetCounters, readBudget } from './budgets.js';

/** The budget of a key or team in its current period, as the admin API shows it (USD, ISO times). */
export interface BudgetReport {
  max_budget: number | null;
  spent: number;
  /** Reserved by requests in flight, not yet settled. */
  reserved: number;
  remaining: number | null;
  budget_period: BudgetPeriod;
  period_start: string | null;
  resets_at: string | null;
  timezone: string;
}

const usd = (micros: number): number => micros / 1_000_000;

export async function reportBudget(
  store: Store,
  rule: BudgetRule,
  windowOf: (period: BudgetPeriod, now: number) => PeriodWindow,
  now: number,
  timezone: string,
): Promise<BudgetReport> {
  const window = windowOf(rule.period, now);
  const state = await readBudget(store, budgetCounters(rule, window, now));
  return {
    max_budget: state.maxMicros === null ? null : usd(state.maxMicros),
    spent: usd(state.spentMicros),
    reserved: usd(state.heldMicros),
    remaining: state.remainingMicros === null ? null : usd(state.remainingMicros),
    budget_period: rule.period,
    period_start: rule.period === 'lifetime' ? null : new Date(window.start).toISOString(),
    resets_at: window.end === null ? null : new Date(window.end).toISOString(),
    timezone,
  };
}
