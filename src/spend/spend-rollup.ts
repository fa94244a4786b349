import { addRecordToTotals, emptyTotals, type SpendRecord, type SpendTotals } from './spend-record.js';

export const DAY_MS = 86_400_000;

/** The UTC midnight (epoch ms) that starts the day holding `time`. */
export function dayStart(time: number): number {
  return Math.floor(time / DAY_MS) * DAY_MS;
}

/**
 * The totals of one UTC day's spend rows of one key, team and model: what summaries read for
 * whole days, kept longer than the raw rows (`spend_log.rollup_retention_days`). A null key or
 * team is a group of its own, as in the summaries (master-key requests have no key); `last_used`
 * is the group's newest request that day.
 */
export interface SpendRollupRow extends SpendTotals {
  /** The day's UTC midnight, epoch ms. */
  day: number;
  key_id: string | null;
  team_id: string | null;
  model: string;
}

/**
 * A batch's records summed per day, key, team and model: what one write adds to the rollups.
 * The spend-log writer flushes about once a second, so a batch of hundreds of rows comes down to
 * a few groups (keys × models in use), each one upsert instead of one per row.
 */
export function rollUp(records: readonly SpendRecord[]): SpendRollupRow[] {
  // Nested maps (a null id is a key like any other): no key string to build per record.
  const days = new Map<number, Map<string | null, Map<string | null, Map<string, SpendRollupRow>>>>();
  const rows: SpendRollupRow[] = [];
  for (const r of records) {
    const day = dayStart(r.time);
    let keys = days.get(day);
    if (keys === undefined) days.set(day, (keys = new Map()));
    let teams = keys.get(r.key_id);
    if (teams === undefined) keys.set(r.key_id, (teams = new Map()));
    let models = teams.get(r.team_id);
    if (models === undefined) teams.set(r.team_id, (models = new Map()));
    let row = models.get(r.model);
    if (row === undefined) {
      row = { day, key_id: r.key_id, team_id: r.team_id, model: r.model, ...emptyTotals(r.time) };
      models.set(r.model, row);
      rows.push(row);
    }
    addRecordToTotals(row, r);
  }
  return rows;
}
