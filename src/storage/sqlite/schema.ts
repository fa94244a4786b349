import type BetterSqlite3 from 'better-sqlite3';
import { initSpendRollups } from './spend-rollup-schema.js';

/**
 * Tables of the SQLite store. WITHOUT ROWID keeps the key-addressed tables clustered on their
 * primary key (one B-tree lookup per read). The spend log keeps its rowid (`seq`): it makes the
 * pagination order total even if two rows share a request id and time, and every index carries it.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS docs (
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  doc TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (collection, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS counters (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL,
  expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counters_expires_at ON counters (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS entries (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_expires_at ON entries (expires_at);

CREATE TABLE IF NOT EXISTS spend_log (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  time INTEGER NOT NULL,
  principal TEXT NOT NULL,
  key_id TEXT,
  team_id TEXT,
  model TEXT NOT NULL,
  provider TEXT,
  upstream_model TEXT,
  operation TEXT NOT NULL,
  stream INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cost_micros INTEGER NOT NULL,
  usage_estimated INTEGER NOT NULL DEFAULT 0,
  latency_ms INTEGER NOT NULL,
  ttft_ms INTEGER,
  status INTEGER NOT NULL,
  error_code TEXT,
  cache_status TEXT,
  saved_cost_micros INTEGER NOT NULL DEFAULT 0,
  fallback_chain TEXT,
  attempts TEXT,
  mcp TEXT,
  loop_id TEXT,
  loop_step INTEGER,
  trace_id TEXT,
  guardrails TEXT
);
-- (time) plus the implicit rowid is exactly the pagination order, so pages are index range scans.
-- Every index costs each insert about a microsecond, and inserts happen once per request: the
-- model filter scans by time instead, and master-key rows (no key_id) stay out of the key index.
CREATE INDEX IF NOT EXISTS spend_log_time_seq ON spend_log (time);
CREATE INDEX IF NOT EXISTS spend_log_key_time ON spend_log (key_id, time) WHERE key_id IS NOT NULL;
`;

/** Spend-log columns added after the first release, for databases created before them. */
const ADDED_SPEND_COLUMNS: Array<[name: string, definition: string]> = [
  ['cache_status', 'TEXT'],
  ['saved_cost_micros', 'INTEGER NOT NULL DEFAULT 0'],
  ['fallback_chain', 'TEXT'],
  ['attempts', 'TEXT'],
  ['usage_estimated', 'INTEGER NOT NULL DEFAULT 0'],
  ['mcp', 'TEXT'],
  ['loop_id', 'TEXT'],
  ['loop_step', 'INTEGER'],
  ['trace_id', 'TEXT'],
  ['guardrails', 'TEXT'],
];

/** Document columns added after the first release: compare-and-set writes need the version. */
const ADDED_DOC_COLUMNS: Array<[name: string, definition: string]> = [['version', 'INTEGER NOT NULL DEFAULT 1']];

function addMissingColumns(db: BetterSqlite3.Database, table: string, columns: Array<[name: string, definition: string]>): void {
  const present = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name));
  for (const [name, definition] of columns) {
    if (!present.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${definition}`);
  }
}

/** Sets connection pragmas and creates the tables if missing (the spend rollups backfilled from the log). */
export function initSchema(db: BetterSqlite3.Database, busyTimeoutMs: number): void {
  // busy_timeout first: switching to WAL and creating tables can meet another process's lock.
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.exec(DDL);
  addMissingColumns(db, 'spend_log', ADDED_SPEND_COLUMNS);
  addMissingColumns(db, 'docs', ADDED_DOC_COLUMNS);
  initSpendRollups(db);
}
