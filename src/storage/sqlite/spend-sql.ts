import type BetterSqlite3 from 'better-sqlite3';
import type { SpendPage, SpendQuery, SpendRecord } from '../../spend/spend-record.js';
import { decodeSpendCursor, encodeSpendCursor } from '../spend-cursor.js';

/** A spend_log row as SQLite returns it (booleans are integers, attempts and mcp JSON text, plus the rowid). */
interface SpendRow extends Omit<SpendRecord, 'stream' | 'usage_estimated' | 'attempts' | 'mcp' | 'guardrails'> {
  seq: number;
  stream: number;
  usage_estimated: number;
  attempts: string | null;
  mcp: string | null;
  guardrails: string | null;
}

type Params = Record<string, string | number | null>;

export const INSERT_SPEND_SQL = `
INSERT INTO spend_log (id, time, principal, key_id, team_id, model, provider, upstream_model, operation,
  stream, input_tokens, cached_input_tokens, output_tokens, cost_micros, latency_ms, ttft_ms, status, error_code,
  cache_status, saved_cost_micros, fallback_chain, attempts, usage_estimated, mcp, loop_id, loop_step, trace_id, guardrails)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

type SpendValues = Array<string | number | null>;

/** Positional bind values for INSERT_SPEND_SQL, in column order (positional binding is cheaper than named). */
export function spendParams(r: SpendRecord): SpendValues {
  return [
    r.id,
    r.time,
    r.principal,
    r.key_id,
    r.team_id,
    r.model,
    r.provider,
    r.upstream_model,
    r.operation,
    r.stream ? 1 : 0,
    r.input_tokens,
    r.cached_input_tokens,
    r.output_tokens,
    r.cost_micros,
    r.latency_ms,
    r.ttft_ms,
    r.status,
    r.error_code,
    r.cache_status,
    r.saved_cost_micros,
    r.fallback_chain,
    r.attempts === null ? null : JSON.stringify(r.attempts),
    r.usage_estimated ? 1 : 0,
    r.mcp === undefined ? null : JSON.stringify(r.mcp),
    r.loop_id,
    r.loop_step,
    r.trace_id,
    r.guardrails === undefined ? null : JSON.stringify(r.guardrails),
  ];
}

function toRecord(row: SpendRow): SpendRecord {
  const { seq: _seq, stream, usage_estimated, attempts, mcp, guardrails, ...rest } = row;
  return {
    ...rest,
    stream: stream !== 0,
    usage_estimated: usage_estimated !== 0,
    attempts: attempts === null ? null : (JSON.parse(attempts) as SpendRecord['attempts']),
    ...(mcp === null ? {} : { mcp: JSON.parse(mcp) as SpendRecord['mcp'] }),
    ...(guardrails === null || guardrails === undefined ? {} : { guardrails: JSON.parse(guardrails) as SpendRecord['guardrails'] }),
  };
}

/**
 * Builds and runs spend-log queries. The WHERE clause depends on which filters are present, so
 * statements are prepared once per shape (at most 2^6 of them) and cached.
 */
export function createSpendQuerier(db: BetterSqlite3.Database): (query: SpendQuery) => SpendPage {
  const statements = new Map<string, BetterSqlite3.Statement<[Params], SpendRow>>();

  return (query) => {
    const where: string[] = [];
    const params: Params = {};
    if (query.from !== undefined) {
      where.push('time >= @from');
      params.from = query.from;
    }
    if (query.to !== undefined) {
      where.push('time < @to');
      params.to = query.to;
    }
    if (query.model !== undefined) {
      where.push('model = @model');
      params.model = query.model;
    }
    if (query.key_id !== undefined) {
      where.push('key_id = @key_id');
      params.key_id = query.key_id;
    }
    if (query.principal !== undefined) {
      where.push('principal = @principal');
      params.principal = query.principal;
    }
    if (query.status === 'success') where.push('status < 400');
    else if (query.status === 'error') where.push('status >= 400');
    else if (query.status !== undefined) {
      where.push('status = @status');
      params.status = query.status;
    }
    if (query.cursor !== undefined) {
      const [time, seq] = decodeSpendCursor(query.cursor);
      // The redundant `time <= @ct` gives the planner a plain range bound on the index.
      where.push('time <= @ct', '(time, seq) < (@ct, @cs)');
      params.ct = time;
      params.cs = seq;
    }
    const limit = Math.max(1, Math.floor(query.limit));
    params.lim = limit + 1;

    const sql =
      `SELECT * FROM spend_log${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}` +
      ' ORDER BY time DESC, seq DESC LIMIT @lim';
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare<[Params], SpendRow>(sql);
      statements.set(sql, statement);
    }
    const rows = statement.all(params);
    // One extra row was fetched only to learn whether another page exists.
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const last = rows[rows.length - 1];
    return { rows: rows.map(toRecord), next_cursor: more && last ? encodeSpendCursor(last.time, last.seq) : null };
  };
}

/**
 * Pages through the whole log oldest first, in (time, seq) order: the reverse of what
 * createSpendQuerier returns, so a copy appended page by page keeps every tie between rows of
 * one millisecond (Store.scanSpend).
 */
export function createSpendScanner(db: BetterSqlite3.Database): (cursor: string | undefined, limit: number) => SpendPage {
  const first = db.prepare<[number], SpendRow>('SELECT * FROM spend_log ORDER BY time, seq LIMIT ?');
  // The redundant `time >= @ct` gives the planner a plain range bound on the index.
  const after = db.prepare<[{ ct: number; cs: number; lim: number }], SpendRow>(
    'SELECT * FROM spend_log WHERE time >= @ct AND (time, seq) > (@ct, @cs) ORDER BY time, seq LIMIT @lim',
  );
  return (cursor, limit) => {
    let rows: SpendRow[];
    if (cursor === undefined) rows = first.all(limit + 1);
    else {
      const [ct, cs] = decodeSpendCursor(cursor);
      rows = after.all({ ct, cs, lim: limit + 1 });
    }
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const last = rows[rows.length - 1];
    return { rows: rows.map(toRecord), next_cursor: more && last ? encodeSpendCursor(last.time, last.seq) : null };
  };
}
