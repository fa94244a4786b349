import type { RequestLog } from '../core/request-log.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { GuardedIncrement, Store } from '../storage/types.js';
import { BudgetAllowances, type AllowanceDraw, type AllowanceSettings } from './budget-allowances.js';
import { CounterBatcher } from './counter-batcher.js';
import type { AccessPolicy, BudgetRule } from './access-policy.js';
import type { BudgetPeriod, PeriodWindow } from './budget-period.js';
import { budgetCounters, increment, moneyIncrement, usdString, type BudgetCounters } from './budgets.js';
import { rateCounters, rateLimitHeaders, type RateCounters } from './rate-limits.js';

/** What a request may use (before) or did use (after). */
export interface Consumption {
  tokens: number;
  micros: number;
}

/** What one request holds against its budgets and rate limits until it settles. */
export interface Reservation {
  readonly budgets: readonly BudgetCounters[];
  readonly rates: readonly RateCounters[];
  readonly reserved: Consumption;
  /** The tightest remaining budget after this reservation, micro-USD; null when no budget is limited. */
  readonly remainingMicros: number | null;
  /** x-ratelimit-* headers for the tightest rate limit, when the key or team has one. */
  readonly rateHeaders: Record<string, string>;
  /** Set when the budgets were reserved from this process's allowances instead of the store. */
  readonly draw?: AllowanceDraw;
}

export interface LimitEnforcerDeps {
  store: Store;
  now: () => number;
  /** The calendar window of a budget period that contains `now`. */
  windowOf: (period: BudgetPeriod, now: number) => PeriodWindow;
  allowances: AllowanceSettings;
  log: RequestLog;
}

type Slot =
  | { kind: 'budget'; counters: BudgetCounters }
  | { kind: 'requests' | 'tokens'; counters: RateCounters; limit: number };

const PERIOD_WORD: Record<BudgetPeriod, string> = { daily: 'per day', weekly: 'per week', monthly: 'per month', lifetime: 'in total' };

/**
 * Reserve-then-settle enforcement of budgets and rate limits. A reservation is one atomic guarded
 * increment over every counter that applies (key and team budgets, requests and tokens per
 * minute): it fits everywhere or changes nothing, so concurrent requests and other gateway
 * instances cannot overspend between a check and a write.
 */
export class LimitEnforcer {
  private readonly counters: CounterBatcher;
  private readonly allowances: BudgetAllowances;

  constructor(private readonly deps: LimitEnforcerDeps) {
    this.counters = new CounterBatcher(deps.store);
    this.allowances = new BudgetAllowances(this.counters, deps.allowances, deps.now, deps.log);
  }

  /** Throws SF_ERR_BUDGET_EXCEEDED or SF_ERR_RATE_LIMITED (429) when the worst case does not fit. */
  async reserve(policy: AccessPolicy, worstCase: Consumption): Promise<Reservation> {
    const now = this.deps.now();
    // At least one micro-dollar, so a spent budget refuses even requests to models without a price.
    const micros = Math.max(1, worstCase.micros);
    // Budgets alone (no rate limit) are reserved from this process's allowances when it can hold
    // them: no store call per request. Rate-limit windows always count in the store.
    if (policy.rates.length === 0 && policy.budgets.length > 0 && this.allowances.enabled) {
      const budgets = policy.budgets.map((rule) => budgetCounters(rule, this.deps.windowOf(rule.period, now), now));
      const draw = await this.allowances.draw(budgets, micros);
      if (draw) {
        return { budgets, rates: [], reserved: { tokens: worstCase.tokens, micros }, remainingMicros: this.allowances.remainingAfter(draw), rateHeaders: {}, draw };
      }
    }
    const entries: GuardedIncrement[] = [];
    const slots: Slot[] = [];
    const budgets: BudgetCounters[] = [];
    for (const rule of policy.budgets) {
      const counters = budgetCounters(rule, this.deps.windowOf(rule.period, now), now);
      budgets.push(counters);
      entries.push(moneyIncrement(counters.spentKey, micros, counters.ttlMs, rule.maxMicros ?? undefined));
      slots.push({ kind: 'budget', counters });
      entries.push(moneyIncrement(counters.heldKey, micros, counters.ttlMs));
      slots.push({ kind: 'budget', counters });
    }
    const rates: RateCounters[] = [];
    for (const rule of policy.rates) {
      const counters = rateCounters(rule, now);
      rates.push(counters);
      if (rule.rpm !== null) {
        entries.push(increment(counters.requestsKey, 1, counters.ttlMs, rule.rpm));
        slots.push({ kind: 'requests', counters, limit: rule.rpm });
      }
      if (rule.tpm !== null) {
        entries.push(increment(counters.tokensKey, worstCase.tokens, counters.ttlMs, rule.tpm));
        slots.push({ kind: 'tokens', counters, limit: rule.tpm });
      }
    }
    const result = await this.counters.submit(entries);
    if (!result.ok) throw this.refusal(slots, entries, result.index, result.values, { tokens: worstCase.tokens, micros }, now);
    return {
      budgets,
      rates,
      reserved: { tokens: worstCase.tokens, micros },
      remainingMicros: tightestBudget(budgets, entries, result.values),
      rateHeaders: this.tightestRateHeaders(rates, entries, result.values, now),
    };
  }

  /** Replaces the reservation by what the request actually used; returns the tightest remaining budget. */
  async settle(reservation: Reservation, actual: Consumption): Promise<number | null> {
    if (reservation.draw) return this.allowances.settle(reservation.draw, actual.micros);
    const entries: GuardedIncrement[] = [];
    for (const counters of reservation.budgets) {
      entries.push(moneyIncrement(counters.spentKey, actual.micros - reservation.reserved.micros, counters.ttlMs));
      entries.push(moneyIncrement(counters.heldKey, -reservation.reserved.micros, counters.ttlMs));
    }
    for (const counters of reservation.rates) {
      if (counters.rule.tpm !== null) entries.push(increment(counters.tokensKey, actual.tokens - reservation.reserved.tokens, counters.ttlMs));
    }
    if (entries.length === 0) return null;
    const result = await this.counters.submit(entries);
    return tightestBudget(reservation.budgets, entries, result.values);
  }

  /** Writes what this process holds of a budget to the store, so that a read of it right after is current. */
  flushBudget(rule: BudgetRule): Promise<void> {
    const now = this.deps.now();
    return this.allowances.flushBudget(budgetCounters(rule, this.deps.windowOf(rule.period, now), now));
  }

  /** Writes settled spend and gives allowances back; call after the last request has settled. */
  close(): Promise<void> {
    return this.allowances.close();
  }

  private tightestRateHeaders(rates: RateCounters[], entries: GuardedIncrement[], values: number[], now: number): Record<string, string> {
    let best: Record<string, string> = {};
    let bestRoom = Infinity;
    for (const counters of rates) {
      const requests = valueOf(entries, values, counters.requestsKey);
      const tokens = valueOf(entries, values, counters.tokensKey);
      const room = Math.min(
        counters.rule.rpm === null || requests === undefined ? Infinity : (counters.rule.rpm - requests) / counters.rule.rpm,
        counters.rule.tpm === null || tokens === undefined ? Infinity : (counters.rule.tpm - tokens) / counters.rule.tpm,
      );
      if (room <= bestRoom) {
        bestRoom = room;
        best = rateLimitHeaders(counters.rule, requests, tokens, counters.windowEnd, now);
      }
    }
    return best;
  }

  private refusal(slots: Slot[], entries: GuardedIncrement[], index: number, values: number[], wanted: Consumption, now: number): GatewayError {
    const slot = slots[index]!;
    if (slot.kind === 'budget') {
      const { rule, window } = slot.counters;
      const max = rule.maxMicros ?? 0;
      const remaining = Math.max(0, max - values[index]!);
      const headers: Record<string, string> = {
        'x-smartflow-budget-remaining': usdString(remaining),
        // The reset is far away: SDKs that honour x-should-retry (openai-node) should not retry.
        'x-should-retry': 'false',
      };
      if (window.end !== null) {
        headers['x-smartflow-budget-reset'] = new Date(window.end).toISOString();
        headers['retry-after'] = String(Math.max(1, Math.ceil((window.end - now) / 1000)));
      }
      const owner = rule.scope === 'key' ? 'This key' : `The team "${rule.id}"`;
      const state = remaining === 0 ? 'has spent its budget' : `has $${usdString(remaining)} left of its budget`;
      const reset = window.end === null ? 'It does not reset.' : `It resets at ${new Date(window.end).toISOString()}.`;
      const hint = remaining === 0 ? '' : ` This request may cost up to $${usdString(wanted.micros)}; a lower max_tokens reserves less.`;
      return new GatewayError('SF_ERR_BUDGET_EXCEEDED', {
        message: `${owner} ${state} ($${usdString(max)} ${PERIOD_WORD[rule.period]}).${hint} ${reset}`,
        headers,
        retryable: false,
      });
    }
    const counters = slot.counters;
    const requests = slot.kind === 'requests' ? values[index] : valueOf(entries, values, counters.requestsKey);
    const tokens = slot.kind === 'tokens' ? values[index] : valueOf(entries, values, counters.tokensKey);
    const headers = rateLimitHeaders(counters.rule, requests, tokens, counters.windowEnd, now);
    headers['retry-after'] = String(Math.max(1, Math.ceil((counters.windowEnd - now) / 1000)));
    const owner = counters.rule.scope === 'key' ? 'this key' : `the team "${counters.rule.id}"`;
    const message =
      slot.kind === 'requests'
        ? `Rate limit of ${slot.limit} requests per minute reached for ${owner}.`
        : wanted.tokens > slot.limit
          ? `This request may use up to ${wanted.tokens} tokens, more than the ${slot.limit} tokens per minute allowed for ${owner}; lower max_tokens.`
          : `Rate limit of ${slot.limit} tokens per minute reached for ${owner} (requests reserve their input plus max_tokens).`;
    return new GatewayError('SF_ERR_RATE_LIMITED', { message, headers });
  }
}

/** The value an entry for `key` reached (the last one, if a key appears twice). */
function valueOf(entries: GuardedIncrement[], values: number[], key: string): number | undefined {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.key === key) return values[i];
  return undefined;
}

function tightestBudget(budgets: readonly BudgetCounters[], entries: GuardedIncrement[], values: number[]): number | null {
  let tightest: number | null = null;
  for (const counters of budgets) {
    const max = counters.rule.maxMicros;
    if (max === null) continue;
    const spent = valueOf(entries, values, counters.spentKey);
    if (spent === undefined) continue;
    const remaining = Math.max(0, max - spent);
    if (tightest === null || remaining < tightest) tightest = remaining;
  }
  return tightest;
}
