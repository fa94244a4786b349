import type BetterSqlite3 from 'better-sqlite3';
import { DAY_MS } from '../../spend/spend-rollup.js';

/**
 * The daily rollups of the spend log (spend/spend-rollup.ts). A null key or team is a group of
 * its own, but a unique index treats nulls as distinct, so the index holds `key_id IS NULL` and
 * `ifnull(key_id, '')` (a null key and an empty one stay apart). The index leads with the day:
 * summaries and retention read ranges of days.
 *
 * `spend_rollup_backfill` holds the raw rows still to be added after an upgrade (empty once done).
 */
const DDL = `
CREATE TABLE spend_rollup (
  day INTEGER NOT NULL,
  key_id TEXT,
  team_id TEXT,
  model TEXT NOT NULL,
  requests INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cost_micros INTEGER NOT NULL,
  last_used INTEGER NOT NULL
);
CREATE UNIQUE INDEX spend_rollup_group ON spend_rollup (day, key_id IS NULL, ifnull(key_id, ''), team_id IS NULL, ifnull(team_id, ''), model);
CREATE TABLE spend_rollup_backfill (next_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL);
`;

/** The conflict target of every rollup upsert: the expressions of spend_rollup_group. */
export const ROLLUP_GROUP = "day, key_id IS NULL, ifnull(key_id, ''), team_id IS NULL, ifnull(team_id, ''), model";

/** How an upsert adds a row's totals to the stored ones. */
export const ADD_TOTALS = `requests = requests + excluded.requests, errors = errors + excluded.errors,
  input_tokens = input_tokens + excluded.input_tokens, cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
  output_tokens = output_tokens + excluded.output_tokens, cost_micros = cost_micros + excluded.cost_micros,
  last_used = max(last_used, excluded.last_used)`;

/** Raw rows per backfill transaction: each holds the write lock for some milliseconds, and memory for its groups only. */
const BACKFILL_BATCH = 20_000;

/**
 * Creates the rollup table on a database that has none (a new one, or one from before rollups)
 * and adds every raw row already in the log to it, in batches by seq. Creating the table and
 * noting the seq range to backfill happen in one transaction, so rows appended afterwards (by
 * another process on the same file, which adds its own) are never counted twice; each batch
 * commits with its progress, so a backfill stopped half-way resumes at the next start, and
 * processes starting together share the work. Resolves when none is left: a store never
 * summarizes from incomplete rollups.
 */
export function initSpendRollups(db: BetterSqlite3.Database): void {
  db.transaction(() => {
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spend_rollup'").get() !== undefined) return;
    db.exec(DDL);
    db.exec('INSERT INTO spend_rollup_backfill (next_seq, last_seq) SELECT min(seq), max(seq) FROM spend_log HAVING max(seq) IS NOT NULL');
  }).immediate();

  const state = db.prepare<[], { next_seq: number; last_seq: number }>('SELECT next_seq, last_seq FROM spend_rollup_backfill');
  // The day as spend/spend-rollup.ts dayStart computes it, also for times before 1970 (% truncates toward zero).
  const addRows = db.prepare<[number, number]>(`
    INSERT INTO spend_rollup (day, key_id, team_id, model, requests, errors, input_tokens, cached_input_tokens, output_tokens, cost_micros, last_used)
    SELECT time - ((time % ${DAY_MS}) + ${DAY_MS}) % ${DAY_MS} AS d, key_id, team_id, model, COUNT(*), SUM(status >= 400), SUM(input_tokens),
      SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_micros), MAX(time)
    FROM spend_log WHERE seq >= ? AND seq <= ? GROUP BY d, key_id, team_id, model
    ON CONFLICT (${ROLLUP_GROUP}) DO UPDATE SET ${ADD_TOTALS}`);
  const advance = db.prepare<[number]>('UPDATE spend_rollup_backfill SET next_seq = ?');
  const finish = db.prepare('DELETE FROM spend_rollup_backfill');
  const step = db.transaction((): boolean => {
    const at = state.get();
    if (at === undefined) return false;
    const upto = Math.min(at.next_seq + BACKFILL_BATCH - 1, at.last_seq);
    addRows.run(at.next_seq, upto);
    if (upto >= at.last_seq) finish.run();
    else advance.run(upto + 1);
    return true;
  });
  // One batch per transaction, so other processes' writes get in between.
  let more = true;
  while (more) more = step.immediate();
}
