import type { BudgetPeriod } from './budget-period.js';

/** What keys and teams both carry: a model list, a budget and rate limits. Money in micro-USD. */
export interface LimitSettings {
  id: string;
  /** Allowed model names or `*` patterns; empty allows every model. */
  models: string[];
  max_budget_micros: number | null;
  budget_period: BudgetPeriod;
  /** Bumped by a budget reset: counters are keyed by it, so a reset starts fresh ones atomically. */
  budget_generation: number;
  rpm: number | null;
  tpm: number | null;
  /** MCP servers (aliases, ids or `*`); empty or absent (records made before MCP): none (keys/mcp-access.ts). */
  mcp_servers?: string[];
  /** `server/tool` patterns; empty or absent: every tool of the allowed servers. */
  mcp_tools?: string[];
}

/** A virtual key as stored. The key itself is never stored: only its SHA-256. Times in epoch ms. */
export interface VirtualKeyRecord extends LimitSettings {
  alias: string | null;
  key_hash: string;
  /** `sk-sf-AbCd…`: enough to recognise a key, useless to an attacker. */
  key_preview: string;
  team_id: string | null;
  user_id: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
  /** Response caching for this key: true or false overrides the config; null (or absent in keys made before caching) follows it. */
  cache?: boolean | null;
  /** Lets this key's callers send their own Anthropic key on /anthropic (absent in keys made before BYOK: not allowed). */
  allow_byok?: boolean;
  /** An admin's pin of this key's cache namespace, over its team's and `cache.scope` (absent in keys made before pins: none). */
  cache_namespace?: string | null;
  expires_at: number | null;
  created_at: number;
  created_by: string;
  updated_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
}

/** A team: a budget, rate limits and a model list shared by its keys. */
export interface TeamRecord extends LimitSettings {
  name: string;
  metadata: Record<string, unknown>;
  /** An admin's pin of the cache namespace of the team's keys, over `cache.scope` (absent in teams made before pins: none). */
  cache_namespace?: string | null;
  /** Users in the team, one entry per user and source (absent in teams made before SSO: none). */
  members?: TeamMember[];
  /** Set on teams SSO created for an IdP group (identity/team-sync.ts). */
  sso?: { group_id: string; last_sync_at: number };
  created_at: number;
  updated_at: number;
}

/** A user's membership of a team. SSO sync adds and removes only `sso` ones; `manual` ones are an admin's. */
export interface TeamMember {
  user_id: string;
  source: 'sso' | 'manual';
  added_at: number;
}

/** Store collections. The hash and alias indexes map to a key id; createDoc on them makes uniqueness atomic. */
export const COLLECTIONS = {
  keys: 'vkeys',
  keyHashes: 'vkey_hashes',
  keyAliases: 'vkey_aliases',
  teams: 'teams',
} as const;

/** Pub/sub channel announcing a changed key or team, so every instance drops what it cached. */
export const ACCESS_CHANGED_CHANNEL = 'access-changed';

export interface AccessChange {
  kind: 'key' | 'team';
  id: string;
}
