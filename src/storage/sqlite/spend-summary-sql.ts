import type BetterSqlite3 from 'better-sqlite3';
import type { SpendSummaryQuery, SpendSummaryRow } from '../../spend/spend-record.js';

/** The column each grouping reads. A fixed map: no caller text ever reaches the SQL. */
const GROUP_COLUMN = { key: 'key_id', team: 'team_id' } as const satisfies Record<SpendSummaryQuery['group_by'], string>;

type Bounds = Pick<SpendSummaryQuery, 'from' | 'to'>;

/**
 * Builds and runs spend summaries: one GROUP BY over the time range. The SQL depends on the
 * grouping and on which bounds are present, so statements are prepared once per shape (at most 8)
 * and cached.
 *
 * No index of its own: a bounded range already scans the time index, and an index that could
 * also serve the grouping would have to hold the group column, the time and every summed column,
 * a cost on each insert for a report that reads every matching row anyway.
 */
export function createSpendSummarizer(db: BetterSqlite3.Database): (query: SpendSummaryQuery) => SpendSummaryRow[] {
  const statements = new Map<string, BetterSqlite3.Statement<[Bounds], SpendSummaryRow>>();

  return (query) => {
    const column = GROUP_COLUMN[query.group_by];
    const where: string[] = [];
    const bounds: Bounds = {};
    if (query.from !== undefined) {
      where.push('time >= @from');
      bounds.from = query.from;
    }
    if (query.to !== undefined) {
      where.push('time < @to');
      bounds.to = query.to;
    }
    // ORDER BY names the aggregate and the column rather than the aliases: `id` is also a
    // spend_log column (the request id), and the expression leaves no doubt which one is meant.
    const sql =
      `SELECT ${column} AS id, COUNT(*) AS requests, SUM(status >= 400) AS errors,` +
      ' SUM(input_tokens) AS input_tokens, SUM(cached_input_tokens) AS cached_input_tokens,' +
      ' SUM(output_tokens) AS output_tokens, SUM(cost_micros) AS cost_micros, MAX(time) AS last_used' +
      ` FROM spend_log${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}` +
      ` GROUP BY ${column} ORDER BY SUM(cost_micros) DESC, ${column} ASC NULLS LAST`;
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare<[Bounds], SpendSummaryRow>(sql);
      statements.set(sql, statement);
    }
    return statement.all(bounds);
  };
}
