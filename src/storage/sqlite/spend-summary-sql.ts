import type BetterSqlite3 from 'better-sqlite3';
import { DAY_MS } from '../../spend/spend-rollup.js';
import type { SpendSummaryQuery, SpendSummaryRow } from '../../spend/spend-record.js';
import type { SummarySources } from '../spend-summary.js';
import type { SqliteRollups } from './spend-rollup-sql.js';

/** The column each grouping reads. A fixed map: no caller text ever reaches the SQL. */
const GROUP_COLUMN = { key: 'key_id', team: 'team_id' } as const satisfies Record<SpendSummaryQuery['group_by'], string>;

/**
 * What summaries read on SQLite: the rollups, and raw rows only for the partial days at the edges
 * of a range, so the raw statements scan at most one day through the time index (the count
 * reads the index alone). The calls are synchronous behind promises.
 *
 * No index of its own: an index that could also serve the grouping would have to hold the
 * group column, the time and every summed column, a cost on each insert.
 */
export function createSqliteSummarySources(db: BetterSqlite3.Database, rollups: SqliteRollups): SummarySources {
  const count = db.prepare<[number, number], { n: number }>('SELECT COUNT(*) AS n FROM spend_log WHERE time >= ? AND time < ?');
  // Unordered: the merge of a summary's parts orders it.
  const totals = Object.fromEntries(
    Object.entries(GROUP_COLUMN).map(([group, column]) => [
      group,
      db.prepare<[number, number], SpendSummaryRow>(
        `SELECT ${column} AS id, COUNT(*) AS requests, SUM(status >= 400) AS errors,` +
          ' SUM(input_tokens) AS input_tokens, SUM(cached_input_tokens) AS cached_input_tokens,' +
          ' SUM(output_tokens) AS output_tokens, SUM(cost_micros) AS cost_micros, MAX(time) AS last_used' +
          ` FROM spend_log WHERE time >= ? AND time < ? GROUP BY ${column}`,
      ),
    ]),
  ) as Record<SpendSummaryQuery['group_by'], BetterSqlite3.Statement<[number, number], SpendSummaryRow>>;

  return {
    rollupTotals: async (groupBy, fromDay, toDay) => rollups.totals(groupBy, fromDay, toDay),
    rollupRequests: async (day) => rollups.requests(day),
    rawDay: async (groupBy, day, from, to) => ({ count: count.get(day, day + DAY_MS)?.n ?? 0, rows: totals[groupBy].all(from, to) }),
  };
}
