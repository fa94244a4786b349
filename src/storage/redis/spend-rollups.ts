import type { Redis } from 'ioredis';
import type { SpendRollupRow } from '../../spend/spend-rollup.js';
import { addTotals, type SpendSummaryRow } from '../../spend/spend-record.js';
import type { SummarySources } from '../spend-summary.js';
import type { ScanPage } from '../types.js';

/** Where the spend log and its rollups live (redis-store.ts owns the layout; spend-rollup-lua.ts describes it). */
export interface RollupLayout {
  spendKey: string;
  /** The stream id up to which every entry is in the rollups. */
  markKey: string;
  /** The sorted set of days that have rollups. */
  daysKey: string;
  dayKey(day: number): string;
}

/** Days whose hashes one round trip reads when summing a range. */
const DAYS_PER_READ = 50;

const TOTALS = ['requests', 'errors', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'cost_micros', 'last_used'] as const;

/** The group's hash field. JSON keeps any id apart from a null one. */
function fieldOf(row: SpendRollupRow): string {
  return JSON.stringify([row.key_id, row.team_id, row.model]);
}

/** The keys and arguments of the scripts' `rollups(k, o)` for these rows. */
export function rollupArgs(layout: RollupLayout, rows: SpendRollupRow[], mode: 'add' | 'set'): { keys: string[]; args: string[] } {
  const days: number[] = [];
  const dayNumbers = new Map<number, number>();
  const perRow: string[] = [];
  for (const row of rows) {
    let d = dayNumbers.get(row.day);
    if (d === undefined) {
      d = days.push(row.day);
      dayNumbers.set(row.day, d);
    }
    perRow.push(String(d), fieldOf(row), ...TOTALS.map((name) => String(row[name])));
  }
  return { keys: [layout.daysKey, ...days.map((day) => layout.dayKey(day))], args: [mode, String(days.length), ...days.map(String), ...perRow] };
}

/** The rows of one day's hash; a field that is not a group (someone else's) is skipped. */
function rowsOf(day: number, hash: Record<string, string>): SpendRollupRow[] {
  const rows: SpendRollupRow[] = [];
  for (const [field, value] of Object.entries(hash)) {
    let group: unknown;
    try {
      group = JSON.parse(field);
    } catch {
      continue;
    }
    const totals = value.split(' ').map(Number);
    if (!Array.isArray(group) || group.length !== 3 || typeof group[2] !== 'string' || totals.length !== TOTALS.length) continue;
    const [key_id, team_id, model] = group as [string | null, string | null, string];
    const row: SpendRollupRow = { day, key_id, team_id, model, requests: 0, errors: 0, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, cost_micros: 0, last_used: 0 };
    TOTALS.forEach((name, i) => (row[name] = totals[i]!));
    rows.push(row);
  }
  return rows;
}

/** Null first, then byte order: the order every backend scans a day in. */
function textOrder(a: string | null, b: string | null): number {
  if (a === null || b === null) return (a === null ? 0 : 1) - (b === null ? 0 : 1);
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function rollupOrder(a: SpendRollupRow, b: SpendRollupRow): number {
  return a.day - b.day || textOrder(a.key_id, b.key_id) || textOrder(a.team_id, b.team_id) || textOrder(a.model, b.model);
}

async function readDays(client: Redis, layout: RollupLayout, days: number[]): Promise<SpendRollupRow[][]> {
  if (days.length === 0) return [];
  const pipeline = client.pipeline();
  for (const day of days) pipeline.hgetall(layout.dayKey(day));
  const replies = (await pipeline.exec()) ?? [];
  return days.map((day, i) => {
    const [err, hash] = replies[i] ?? [];
    if (err) throw err;
    return rowsOf(day, (hash ?? {}) as Record<string, string>);
  });
}

/** The days with rollups, fromDay <= day < toDay (undefined: unbounded), oldest first. */
async function daysIn(client: Redis, layout: RollupLayout, fromDay: number | undefined, toDay: number | undefined, limit?: number): Promise<number[]> {
  const min = fromDay === undefined ? '-inf' : String(fromDay);
  const max = toDay === undefined ? '+inf' : `(${toDay}`;
  const days = limit === undefined ? await client.zrangebyscore(layout.daysKey, min, max) : await client.zrangebyscore(layout.daysKey, min, max, 'LIMIT', 0, limit);
  return days.map(Number);
}

/** The rollup side of SummarySources on Redis; the raw side reads the stream (spend-stream.ts). */
export function redisRollupSources(client: Redis, layout: RollupLayout): Pick<SummarySources, 'rollupTotals' | 'rollupRequests'> {
  return {
    async rollupTotals(groupBy, fromDay, toDay) {
      const groups = new Map<string | null, SpendSummaryRow>();
      const days = await daysIn(client, layout, fromDay, toDay);
      for (let i = 0; i < days.length; i += DAYS_PER_READ) {
        for (const rows of await readDays(client, layout, days.slice(i, i + DAYS_PER_READ))) {
          for (const { key_id, team_id, day: _day, model: _model, ...totals } of rows) {
            const id = groupBy === 'key' ? key_id : team_id;
            const seen = groups.get(id);
            if (seen === undefined) groups.set(id, { id, ...totals });
            else addTotals(seen, totals);
          }
        }
      }
      return [...groups.values()];
    },
    async rollupRequests(day) {
      const [rows = []] = await readDays(client, layout, [day]);
      return rows.reduce((sum, row) => sum + row.requests, 0);
    },
  };
}

/** Store.scanSpendRollups on Redis: the days after the cursor day, as many whole ones as fit in `limit` rows (HLEN tells), at least one. */
export async function scanRollupDays(client: Redis, layout: RollupLayout, afterDay: number | undefined, limit: number): Promise<ScanPage<SpendRollupRow>> {
  const days = await daysIn(client, layout, afterDay === undefined ? undefined : afterDay + 1, undefined, limit);
  if (days.length === 0) return { items: [], next_cursor: null };
  const pipeline = client.pipeline();
  for (const day of days) pipeline.hlen(layout.dayKey(day));
  const sizes = ((await pipeline.exec()) ?? []).map(([err, n]) => {
    if (err) throw err;
    return Number(n);
  });
  let fit = 1;
  for (let rows = sizes[0]!; fit < days.length && rows + sizes[fit]! <= limit; fit++) rows += sizes[fit]!;
  const items = (await readDays(client, layout, days.slice(0, fit))).flatMap((rows) => rows.sort(rollupOrder));
  const more = fit < days.length || days.length === limit;
  return { items, next_cursor: more ? String(days[fit - 1]) : null };
}

/** Deletes the rollups of at most `limit` of the oldest days before `day`; returns how many days went. */
export async function deleteRollupDaysBefore(client: Redis, layout: RollupLayout, day: number, limit: number): Promise<number> {
  const days = await daysIn(client, layout, undefined, day, limit);
  if (days.length === 0) return 0;
  const results = await client
    .multi()
    .unlink(...days.map((d) => layout.dayKey(d)))
    .zrem(layout.daysKey, ...days.map(String))
    .exec();
  const failed = results?.find(([err]) => err !== null);
  if (results === null || failed) throw failed?.[0] ?? new Error('The rollup delete transaction was aborted.');
  return days.length;
}
