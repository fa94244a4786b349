import type { TeamService } from '../identity/teams.js';
import type { VirtualKeyService } from '../keys/virtual-keys.js';
import type { VirtualKeyRecord, TeamRecord } from '../keys/records.js';
import type { SpendRecord } from '../spend/spend-record.js';
import type { Store } from '../storage/types.js';
import type { EstimateQuery } from './policy-schema.js';
import { compileScopePattern } from './scope-pattern.js';

/** At most this many spend rows are read; past it the answer says the count is a lower bound. */
const MAX_ROWS_SCANNED = 200_000;
const DAY_MS = 86_400_000;

export interface EstimateDeps {
  store: Store;
  keys: Pick<VirtualKeyService, 'list'>;
  teams: Pick<TeamService, 'list'>;
  /** Model names the gateway serves today. */
  models: () => string[];
  now: () => number;
}

async function all<T>(list: (o: { limit: number; cursor?: string }) => Promise<{ items: Array<{ doc: T }>; next_cursor: string | null }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const { doc } of page.items) out.push(doc);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/**
 * What attaching a policy would reach, before it is attached: the keys, teams and models that
 * match today, and how many requests of the last `days` days (from the spend log) were in scope.
 * Tags are a key's tags here: request-header tags are not in the spend log.
 */
export async function estimateAttachment(deps: EstimateDeps, query: EstimateQuery) {
  const matches = compileScopePattern(query.pattern);
  const [keys, teams] = await Promise.all([all<VirtualKeyRecord>((o) => deps.keys.list(o)), all<TeamRecord>((o) => deps.teams.list(o))]);
  const live = keys.filter((k) => k.revoked_at === null);
  let matchedKeys: VirtualKeyRecord[] = [];
  let matchedTeams: TeamRecord[] = [];
  let matchedModels: string[] = [];
  switch (query.scope) {
    case 'team':
      matchedTeams = teams.filter((t) => matches(t.id));
      matchedKeys = live.filter((k) => k.team_id !== null && matches(k.team_id));
      break;
    case 'key_alias':
      matchedKeys = live.filter((k) => k.alias !== null && matches(k.alias));
      break;
    case 'tag':
      matchedKeys = live.filter((k) => k.tags.some(matches));
      break;
    case 'model':
      matchedModels = [...new Set(deps.models())].filter(matches).sort();
      break;
  }
  const keyIds = new Set((query.scope === 'key_alias' || query.scope === 'tag' ? keys.filter((k) => (query.scope === 'tag' ? k.tags.some(matches) : k.alias !== null && matches(k.alias))) : []).map((k) => k.id));
  const inScope = (r: SpendRecord): boolean => {
    switch (query.scope) {
      case 'team':
        return r.team_id !== null && matches(r.team_id);
      case 'model':
        return matches(r.model);
      default:
        return r.key_id !== null && keyIds.has(r.key_id);
    }
  };

  const to = deps.now();
  const from = to - query.days * DAY_MS;
  let total = 0;
  let count = 0;
  let truncated = false;
  const sample: Array<Pick<SpendRecord, 'id' | 'time' | 'model' | 'key_id' | 'team_id' | 'status'>> = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.querySpend({ from, to, limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const r of page.rows) {
      total++;
      if (!inScope(r)) continue;
      count++;
      if (sample.length < query.sample) sample.push({ id: r.id, time: r.time, model: r.model, key_id: r.key_id, team_id: r.team_id, status: r.status });
    }
    cursor = page.next_cursor ?? undefined;
    if (cursor && total >= MAX_ROWS_SCANNED) {
      truncated = true;
      cursor = undefined;
    }
  } while (cursor);

  return {
    object: 'policy_attachment_estimate',
    policy: query.policy,
    scope: query.scope,
    pattern: query.pattern,
    matches: {
      keys: matchedKeys.map((k) => ({ id: k.id, alias: k.alias, team_id: k.team_id })),
      teams: matchedTeams.map((t) => ({ id: t.id, name: t.name })),
      models: matchedModels,
    },
    requests: { days: query.days, from, to, total, in_scope: count, share: total === 0 ? 0 : Math.round((count / total) * 10_000) / 10_000, truncated, sample },
  };
}
