import { hash } from 'node:crypto';
import type { BudgetPeriod } from './budget-period.js';
import { compileMcpAccess, type McpServerRef } from './mcp-access.js';
import { compileModelMatcher } from './model-patterns.js';
import type { LimitSettings, TeamRecord, VirtualKeyRecord } from './records.js';

/** One budget that applies to a request: the key's own or its team's. */
export interface BudgetRule {
  scope: 'key' | 'team';
  id: string;
  /** null: spend is tracked but not limited. */
  maxMicros: number | null;
  period: BudgetPeriod;
  generation: number;
}

/** Requests and tokens per minute for a key or a team. */
export interface RateRule {
  scope: 'key' | 'team';
  id: string;
  rpm: number | null;
  tpm: number | null;
}

/** What a virtual key may do, frozen when the key is loaded: models, MCP servers and tools, budgets, rate limits. */
export interface AccessPolicy {
  allowModel(model: string): boolean;
  /** The key's and its team's `mcp_servers` both name this server (by alias, id or `*`). */
  allowMcpServer(server: McpServerRef): boolean;
  /** The server is allowed and the key's and its team's `mcp_tools` both let this tool through. */
  allowMcpTool(server: McpServerRef, tool: string): boolean;
  budgets: readonly BudgetRule[];
  /** Only rules with at least one limit. */
  rates: readonly RateRule[];
  /** The key's response-cache switch; null follows the config. */
  cache: boolean | null;
  /** Callers with this key may send their own Anthropic key on /anthropic. */
  allowByok: boolean;
  /** An admin's pin of the cache namespace: the key's, else its team's; null follows `cache.scope`. */
  cacheNamespace: string | null;
  /**
   * Equal for keys whose policies shape answers alike (today: their model lists and their team's).
   * The semantic cache never serves one key an answer stored for a key with another fingerprint.
   */
  fingerprint: string;
}

/** Model lists in a canonical order, hashed: the part of a policy that decides what a key may be answered. */
function fingerprintOf(key: VirtualKeyRecord, team: TeamRecord | null): string {
  return hash('sha256', JSON.stringify([[...key.models].sort(), team ? [...team.models].sort() : null]), 'hex');
}

/** The budget a key's or team's settings define. */
export function budgetRule(scope: BudgetRule['scope'], s: LimitSettings): BudgetRule {
  return { scope, id: s.id, maxMicros: s.max_budget_micros, period: s.budget_period, generation: s.budget_generation };
}

/** Its rate limits, or null when it has none. */
function rateRule(scope: RateRule['scope'], s: LimitSettings): RateRule | null {
  return s.rpm === null && s.tpm === null ? null : { scope, id: s.id, rpm: s.rpm, tpm: s.tpm };
}

/** A key in a team is limited by both: the model must pass both lists, and both budgets must fit. */
export function policyFor(key: VirtualKeyRecord, team: TeamRecord | null): AccessPolicy {
  const keyModels = compileModelMatcher(key.models);
  const teamModels = team ? compileModelMatcher(team.models) : null;
  const budgets = [budgetRule('key', key), ...(team ? [budgetRule('team', team)] : [])];
  const keyMcp = compileMcpAccess(key.mcp_servers, key.mcp_tools);
  const teamMcp = team ? compileMcpAccess(team.mcp_servers, team.mcp_tools) : null;
  const rates = [rateRule('key', key), team ? rateRule('team', team) : null].filter((r): r is RateRule => r !== null);
  return Object.freeze({
    allowModel: (model: string) => (keyModels === null || keyModels(model)) && (teamModels === null || teamModels(model)),
    allowMcpServer: (server: McpServerRef) => keyMcp.server(server) && (teamMcp === null || teamMcp.server(server)),
    allowMcpTool: (server: McpServerRef, tool: string) => keyMcp.tool(server, tool) && (teamMcp === null || teamMcp.tool(server, tool)),
    budgets: Object.freeze(budgets),
    rates: Object.freeze(rates),
    cache: key.cache ?? null,
    allowByok: key.allow_byok ?? false,
    cacheNamespace: key.cache_namespace ?? team?.cache_namespace ?? null,
    fingerprint: fingerprintOf(key, team),
  });
}
