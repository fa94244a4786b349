import type { Pool } from 'pg';
import type { SpendPage, SpendQuery, SpendRecord } from '../../spend/spend-record.js';
import { decodeSpendCursor, encodeSpendCursor } from '../spend-cursor.js';

/** The columns of one insert, with the array type each is sent as (one array parameter per column). */
const COLUMNS: ReadonlyArray<[name: keyof SpendRecord, type: string]> = [
  ['id', 'text'],
  ['time', 'int8'],
  ['principal', 'text'],
  ['key_id', 'text'],
  ['team_id', 'text'],
  ['model', 'text'],
  ['provider', 'text'],
  ['upstream_model', 'text'],
  ['operation', 'text'],
  ['stream', 'bool'],
  ['input_tokens', 'int8'],
  ['cached_input_tokens', 'int8'],
  ['output_tokens', 'int8'],
  ['cost_micros', 'int8'],
  ['usage_estimated', 'bool'],
  ['latency_ms', 'float8'],
  ['ttft_ms', 'float8'],
  ['status', 'int4'],
  ['error_code', 'text'],
  ['cache_status', 'text'],
  ['saved_cost_micros', 'int8'],
  ['fallback_chain', 'text'],
  ['attempts', 'json'],
  ['mcp', 'json'],
  ['loop_id', 'text'],
  ['loop_step', 'int4'],
  ['trace_id', 'text'],
  ['guardrails', 'json'],
];

const JSON_COLUMNS = new Set<keyof SpendRecord>(['attempts', 'mcp', 'guardrails']);

// unnest() over one array per column: any number of rows in one statement with 28 parameters,
// inserted in array order (WITH ORDINALITY) so seq breaks ties the way the other stores do.
const INSERT_SQL =
  `INSERT INTO spend_log (${COLUMNS.map(([c]) => c).join(', ')}) ` +
  `SELECT ${COLUMNS.map(([c]) => `u.${c}`).join(', ')} FROM unnest(${COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')}) ` +
  `WITH ORDINALITY AS u(${COLUMNS.map(([c]) => c).join(', ')}, n) ORDER BY u.n`;

export async function appendSpendRows(pool: Pool, records: SpendRecord[]): Promise<void> {
  await importSpendRows(pool, [...records].sort((x, y) => x.time - y.time || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)));
}

/** Inserts the rows in exactly the given order (Store.importSpend), in one statement; its trigger adds them to the rollups (migration 3). */
export async function importSpendRows(pool: Pool, ordered: SpendRecord[]): Promise<void> {
  if (ordered.length === 0) return;
  const params = COLUMNS.map(([column]) =>
    ordered.map((r) => {
      const value = r[column];
      if (JSON_COLUMNS.has(column)) return value === undefined || value === null ? null : JSON.stringify(value);
      return value ?? null;
    }),
  );
  await pool.query(INSERT_SQL, params);
}

/** A spend_log row as the driver returns it (int8 columns parsed to numbers by the store's type parser). */
interface SpendRow extends Omit<SpendRecord, 'mcp' | 'guardrails'> {
  seq: number;
  mcp: SpendRecord['mcp'] | null;
  guardrails: SpendRecord['guardrails'] | null;
}

function toRecord(row: SpendRow): SpendRecord {
  const { seq: _seq, mcp, guardrails, ...rest } = row;
  return { ...rest, ...(mcp === null ? {} : { mcp }), ...(guardrails === null ? {} : { guardrails }) };
}

export async function querySpendRows(pool: Pool, query: SpendQuery): Promise<SpendPage> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.from !== undefined) where.push(`time >= ${param(query.from)}`);
  if (query.to !== undefined) where.push(`time < ${param(query.to)}`);
  if (query.model !== undefined) where.push(`model = ${param(query.model)}`);
  if (query.key_id !== undefined) where.push(`key_id = ${param(query.key_id)}`);
  if (query.principal !== undefined) where.push(`principal = ${param(query.principal)}`);
  if (query.status === 'success') where.push('status < 400');
  else if (query.status === 'error') where.push('status >= 400');
  else if (query.status !== undefined) where.push(`status = ${param(query.status)}`);
  if (query.cursor !== undefined) {
    const [time, seq] = decodeSpendCursor(query.cursor);
    where.push(`(time, seq) < (${param(time)}, ${param(seq)})`);
  }
  const limit = Math.max(1, Math.floor(query.limit));
  const sql =
    `SELECT ${['seq', ...COLUMNS.map(([c]) => c)].join(', ')} FROM spend_log` +
    `${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, seq DESC LIMIT ${param(limit + 1)}`;
  const { rows } = await pool.query<SpendRow>(sql, params);
  // One extra row was fetched only to learn whether another page exists.
  const more = rows.length > limit;
  if (more) rows.length = limit;
  const last = rows[rows.length - 1];
  return { rows: rows.map(toRecord), next_cursor: more && last ? encodeSpendCursor(last.time, last.seq) : null };
}

/** The whole log oldest first in (time, seq) order, the reverse of querySpendRows (Store.scanSpend). */
export async function scanSpendRows(pool: Pool, cursor: string | undefined, limit: number): Promise<SpendPage> {
  const after = cursor === undefined ? undefined : decodeSpendCursor(cursor);
  const { rows } = await pool.query<SpendRow>(
    `SELECT ${['seq', ...COLUMNS.map(([c]) => c)].join(', ')} FROM spend_log${after ? ' WHERE (time, seq) > ($2, $3)' : ''} ORDER BY time, seq LIMIT $1`,
    after ? [limit + 1, ...after] : [limit + 1],
  );
  const more = rows.length > limit;
  if (more) rows.length = limit;
  const last = rows[rows.length - 1];
  return { rows: rows.map(toRecord), next_cursor: more && last ? encodeSpendCursor(last.time, last.seq) : null };
}

/** Deletes at most `limit` of the oldest rows before `time`, through the time index. */
export async function deleteSpendRowsBefore(pool: Pool, time: number, limit: number): Promise<number> {
  const result = await pool.query('DELETE FROM spend_log WHERE seq IN (SELECT seq FROM spend_log WHERE time < $1 ORDER BY time LIMIT $2)', [time, limit]);
  return result.rowCount ?? 0;
}
