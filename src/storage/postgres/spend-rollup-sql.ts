import type { Pool } from 'pg';
import { DAY_MS, type SpendRollupRow } from '../../spend/spend-rollup.js';
import type { SpendSummaryQuery, SpendSummaryRow } from '../../spend/spend-record.js';
import type { SummarySources } from '../spend-summary.js';
import { wholeDays } from '../transfer.js';
import type { ScanPage } from '../types.js';

/** The column each grouping reads. A fixed map: no caller text ever reaches the SQL. */
const GROUP_COLUMN = { key: 'key_id', team: 'team_id' } as const satisfies Record<SpendSummaryQuery['group_by'], string>;

const TOTALS = ['requests', 'errors', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'cost_micros', 'last_used'] as const;
const COLUMNS = ['day', 'key_id', 'team_id', 'model', ...TOTALS] as const;
// Null first, then byte order (the columns are COLLATE "C"): the order every backend scans a day in.
const SCAN_ORDER = 'ORDER BY day, key_id NULLS FIRST, team_id NULLS FIRST, model';

/**
 * What summaries read on PostgreSQL (migration 3 keeps the rollups): the rollups, and raw rows
 * only for the partial days at the edges of a range, one day at most each through the time index.
 * Sums of int8 are numeric in PostgreSQL: cast back to int8 so the store's parser reads numbers.
 */
export function postgresSummarySources(pool: Pool): SummarySources {
  return {
    async rollupTotals(groupBy, fromDay, toDay) {
      const column = GROUP_COLUMN[groupBy];
      const where: string[] = [];
      const params: number[] = [];
      if (fromDay !== undefined) where.push(`day >= $${params.push(fromDay)}`);
      if (toDay !== undefined) where.push(`day < $${params.push(toDay)}`);
      const sql =
        `SELECT ${column} AS id, ${TOTALS.map((c) => (c === 'last_used' ? 'MAX(last_used) AS last_used' : `SUM(${c})::int8 AS ${c}`)).join(', ')}` +
        ` FROM spend_rollup${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} GROUP BY ${column}`;
      return (await pool.query<SpendSummaryRow>(sql, params)).rows;
    },
    async rollupRequests(day) {
      return (await pool.query<{ n: number }>('SELECT COALESCE(SUM(requests), 0)::int8 AS n FROM spend_rollup WHERE day = $1', [day])).rows[0]?.n ?? 0;
    },
    async rawDay(groupBy, day, from, to) {
      const column = GROUP_COLUMN[groupBy];
      const count = await pool.query<{ n: number }>('SELECT COUNT(*) AS n FROM spend_log WHERE time >= $1 AND time < $2', [day, day + DAY_MS]);
      const { rows } = await pool.query<SpendSummaryRow>(
        `SELECT ${column} AS id, COUNT(*)::int8 AS requests, COUNT(*) FILTER (WHERE status >= 400)::int8 AS errors,` +
          ' SUM(input_tokens)::int8 AS input_tokens, SUM(cached_input_tokens)::int8 AS cached_input_tokens,' +
          ' SUM(output_tokens)::int8 AS output_tokens, SUM(cost_micros)::int8 AS cost_micros, MAX(time) AS last_used' +
          ` FROM spend_log WHERE time >= $1 AND time < $2 GROUP BY ${column}`,
        [from, to],
      );
      return { count: count.rows[0]?.n ?? 0, rows };
    },
  };
}

/** Deletes the rollups of at most `limit` of the oldest days before `day` and returns how many days went. */
export async function deleteRollupDaysBefore(pool: Pool, day: number, limit: number): Promise<number> {
  const { rows } = await pool.query<{ days: number }>(
    `WITH old AS (SELECT DISTINCT day FROM spend_rollup WHERE day < $1 ORDER BY day LIMIT $2),
     gone AS (DELETE FROM spend_rollup WHERE day IN (SELECT day FROM old) RETURNING day)
     SELECT COUNT(DISTINCT day)::int8 AS days FROM gone`,
    [day, limit],
  );
  return rows[0]?.days ?? 0;
}

/** One page of whole days after `afterDay` (Store.scanSpendRollups). */
export async function scanRollupDays(pool: Pool, afterDay: number | undefined, limit: number): Promise<ScanPage<SpendRollupRow>> {
  const select = `SELECT ${COLUMNS.join(', ')} FROM spend_rollup`;
  const { rows } =
    afterDay === undefined
      ? await pool.query<SpendRollupRow>(`${select} ${SCAN_ORDER} LIMIT $1`, [limit + 1])
      : await pool.query<SpendRollupRow>(`${select} WHERE day > $2 ${SCAN_ORDER} LIMIT $1`, [limit + 1, afterDay]);
  const page = wholeDays(rows, limit);
  if (!('oversized' in page)) return page;
  return { items: (await pool.query<SpendRollupRow>(`${select} WHERE day = $1 ${SCAN_ORDER}`, [page.oversized])).rows, next_cursor: String(page.oversized) };
}

/** Writes rollup rows as they are, replacing those of the same day, key, team and model, in one statement (Store.importSpendRollups). */
export async function replaceRollups(pool: Pool, rows: SpendRollupRow[]): Promise<void> {
  if (rows.length === 0) return;
  const types: Record<(typeof COLUMNS)[number], string> = {
    day: 'int8', key_id: 'text', team_id: 'text', model: 'text', requests: 'int8', errors: 'int8', input_tokens: 'int8',
    cached_input_tokens: 'int8', output_tokens: 'int8', cost_micros: 'int8', last_used: 'int8',
  };
  await pool.query(
    `INSERT INTO spend_rollup (${COLUMNS.join(', ')}) SELECT * FROM unnest(${COLUMNS.map((c, i) => `$${i + 1}::${types[c]}[]`).join(', ')})` +
      ` ON CONFLICT (day, (key_id IS NULL), COALESCE(key_id, ''), (team_id IS NULL), COALESCE(team_id, ''), model) DO UPDATE SET ${TOTALS.map((c) => `${c} = excluded.${c}`).join(', ')}`,
    COLUMNS.map((c) => rows.map((row) => row[c])),
  );
}
