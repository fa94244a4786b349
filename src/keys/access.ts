import { AuditLog } from '../audit/audit-log.js';
import type { GatewayConfig } from '../config/schema.js';
import { TeamService } from '../identity/teams.js';
import type { RequestLog } from '../core/request-log.js';
import type { Store } from '../storage/types.js';
import { createPeriodClock, type BudgetPeriod, type PeriodWindow } from './budget-period.js';
import { budgetRule, type BudgetRule } from './access-policy.js';
import { reportBudget, type BudgetReport } from './budget-report.js';
import { LimitEnforcer } from './limits.js';
import type { LimitSettings } from './records.js';
import { VirtualKeyResolver } from './virtual-key-resolver.js';
import { VirtualKeyService } from './virtual-keys.js';

/** Virtual keys, teams, their budgets and rate limits, and the audit trail of admin actions. */
export interface Access {
  keys: VirtualKeyService;
  teams: TeamService;
  audit: AuditLog;
  limits: LimitEnforcer;
  resolver: VirtualKeyResolver;
  /** The calendar window of a budget period in the configured time zone. */
  windowOf: (period: BudgetPeriod, now: number) => PeriodWindow;
  now: () => number;
  timezone: string;
  /** A key's or team's budget in its current period, as the admin API reports it. */
  budgetOf(scope: BudgetRule['scope'], settings: LimitSettings): Promise<BudgetReport>;
  close(): Promise<void>;
}

/** Wires the access-control services over one store and subscribes to cross-instance invalidations. */
export async function createAccess(deps: { store: Store; config: GatewayConfig; now: () => number; log: RequestLog }): Promise<Access> {
  const { store, config, now } = deps;
  const audit = new AuditLog(store, now);
  const teams = new TeamService({ store, audit, now });
  const keys = new VirtualKeyService({ store, teams, audit, now });
  const resolver = new VirtualKeyResolver({
    keys,
    teams,
    store,
    now,
    log: deps.log,
    cacheTtlMs: config.virtual_keys.cache_ttl_ms,
    maxEntries: config.virtual_keys.cache_max_entries,
  });
  await resolver.start();
  const periods = createPeriodClock(config.budgets.timezone);
  const windowOf = (period: BudgetPeriod, at: number): PeriodWindow => periods.window(period, at);
  const allowance = config.budgets.allowance;
  const limits = new LimitEnforcer({
    store,
    now,
    windowOf,
    log: deps.log,
    allowances: { requests: allowance.requests, headroom: allowance.headroom, syncMs: allowance.sync_ms, idleMs: allowance.idle_ms },
  });
  const timezone = config.budgets.timezone;
  return {
    keys,
    teams,
    audit,
    limits,
    resolver,
    windowOf,
    now,
    timezone,
    budgetOf: async (scope, settings) => {
      const rule = budgetRule(scope, settings);
      await limits.flushBudget(rule);
      return reportBudget(store, rule, windowOf, now(), timezone);
    },
    close: async () => {
      try {
        await limits.close();
      } finally {
        await resolver.close();
      }
    },
  };
}
