import type { PoolClient } from 'pg';

/**
 * The PostgreSQL store's schema, as numbered steps. A database records the steps it has applied
 * in `sf_schema_migrations`; a gateway applies the missing ones at start, in order, each in the
 * same transaction as its record. Steps are append-only: a released step is never edited, a
 * change is a new step.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'documents, counters, entries, messages, spend log',
    sql: `
-- Keys and ids compare byte by byte (COLLATE "C"), as SQLite and Redis order them, so document
-- pages and prefix ranges are the same on every backend.
CREATE TABLE docs (
  collection TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  doc JSON NOT NULL,
  version BIGINT NOT NULL DEFAULT 1,
  PRIMARY KEY (collection, id)
);

-- Epoch milliseconds from the gateway's clock (as the SQLite store keeps them), so every instance
-- decides expiry the same way whatever the database server's clock says.
CREATE TABLE counters (
  key TEXT COLLATE "C" PRIMARY KEY,
  value BIGINT NOT NULL,
  expires_at BIGINT
);
CREATE INDEX counters_expires_at ON counters (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE entries (
  key TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX entries_expires_at ON entries (expires_at);

-- Published messages too long for a NOTIFY payload (8,000 bytes): the notification carries the row id.
CREATE TABLE messages (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  body TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE TABLE spend_log (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL,
  time BIGINT NOT NULL,
  principal TEXT NOT NULL,
  key_id TEXT,
  team_id TEXT,
  model TEXT NOT NULL,
  provider TEXT,
  upstream_model TEXT,
  operation TEXT NOT NULL,
  stream BOOLEAN NOT NULL,
  input_tokens BIGINT NOT NULL,
  cached_input_tokens BIGINT NOT NULL,
  output_tokens BIGINT NOT NULL,
  cost_micros BIGINT NOT NULL,
  usage_estimated BOOLEAN NOT NULL DEFAULT FALSE,
  -- Milliseconds with microsecond decimals.
  latency_ms DOUBLE PRECISION NOT NULL,
  ttft_ms DOUBLE PRECISION,
  status INTEGER NOT NULL,
  error_code TEXT,
  cache_status TEXT,
  saved_cost_micros BIGINT NOT NULL DEFAULT 0,
  fallback_chain TEXT,
  attempts JSON,
  mcp JSON,
  loop_id TEXT,
  loop_step INTEGER,
  trace_id TEXT,
  guardrails JSON
);
-- (time, seq) is the pagination order; master-key rows (no key_id) stay out of the key index.
CREATE INDEX spend_log_time_seq ON spend_log (time, seq);
CREATE INDEX spend_log_key_time ON spend_log (key_id, time, seq) WHERE key_id IS NOT NULL;

-- Every guarded increment of a batch, applied in order in one call. Each set is all-or-nothing:
-- every limit is checked before anything is written. The counters' rows are locked through
-- transaction-scoped advisory locks taken in key order (no deadlock between two batches), which
-- also covers counters that have no row yet; every write to a counter goes through here.
--
-- sets: [[{"k": key, "d": delta, "l": limit or null, "t": ttl_ms or null}, ...], ...]
-- returns: one object per set, {"ok": true, "values": [...]} or {"ok": false, "index": i, "values": [...]}
CREATE FUNCTION sf_guarded_increments(sets JSONB, now_ms BIGINT) RETURNS JSONB
LANGUAGE plpgsql AS $fn$
DECLARE
  lock_key TEXT;
  cur JSONB := '{}';
  delta JSONB := '{}';
  expiry JSONB := '{}';
  results JSONB := '[]';
  set_entries JSONB;
  e JSONB;
  trial JSONB;
  vals JSONB;
  v BIGINT;
  idx INTEGER;
  refused BOOLEAN;
  r RECORD;
BEGIN
  FOR lock_key IN
    SELECT DISTINCT x->>'k' AS k FROM jsonb_array_elements(sets) s, jsonb_array_elements(s) x ORDER BY 1
  LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || ':counter:' || lock_key, 0));
  END LOOP;
  -- Live values only: an expired counter reads as 0 and is replaced by its next write.
  FOR r IN
    SELECT c.key, c.value FROM counters c
    WHERE c.key IN (SELECT x->>'k' FROM jsonb_array_elements(sets) s, jsonb_array_elements(s) x)
      AND (c.expires_at IS NULL OR c.expires_at > now_ms)
  LOOP
    cur := cur || jsonb_build_object(r.key, r.value);
  END LOOP;

  FOR set_entries IN SELECT s FROM jsonb_array_elements(sets) s LOOP
    trial := cur;
    vals := '[]';
    refused := FALSE;
    idx := 0;
    FOR e IN SELECT x FROM jsonb_array_elements(set_entries) x LOOP
      v := COALESCE((trial->>(e->>'k'))::BIGINT, 0) + (e->>'d')::BIGINT;
      -- A non-positive delta never pushes a counter further over its limit: refunds always apply.
      IF jsonb_typeof(e->'l') = 'number' AND (e->>'d')::BIGINT > 0 AND v > (e->>'l')::BIGINT THEN
        refused := TRUE;
        EXIT;
      END IF;
      trial := trial || jsonb_build_object(e->>'k', v);
      vals := vals || to_jsonb(v);
      idx := idx + 1;
    END LOOP;
    IF refused THEN
      SELECT COALESCE(jsonb_agg(COALESCE((cur->>(x->>'k'))::BIGINT, 0) ORDER BY n), '[]') INTO vals
        FROM jsonb_array_elements(set_entries) WITH ORDINALITY AS t(x, n);
      results := results || jsonb_build_array(jsonb_build_object('ok', FALSE, 'index', idx, 'values', vals));
    ELSE
      cur := trial;
      FOR e IN SELECT x FROM jsonb_array_elements(set_entries) x LOOP
        delta := delta || jsonb_build_object(e->>'k', COALESCE((delta->>(e->>'k'))::BIGINT, 0) + (e->>'d')::BIGINT);
        -- The expiry of a counter's first write in this call; a live row keeps its own (below).
        IF NOT expiry ? (e->>'k') THEN
          expiry := expiry || jsonb_build_object(e->>'k',
            CASE WHEN jsonb_typeof(e->'t') = 'number' AND (e->>'t')::BIGINT > 0 THEN to_jsonb(now_ms + (e->>'t')::BIGINT) ELSE 'null'::JSONB END);
        END IF;
      END LOOP;
      results := results || jsonb_build_array(jsonb_build_object('ok', TRUE, 'values', vals));
    END IF;
  END LOOP;

  INSERT INTO counters AS c (key, value, expires_at)
    SELECT d.key, d.value::BIGINT, (expiry->>d.key)::BIGINT FROM jsonb_each_text(delta) d
  ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN c.expires_at <= now_ms THEN excluded.value ELSE c.value + excluded.value END,
    expires_at = CASE WHEN c.expires_at <= now_ms THEN excluded.expires_at ELSE c.expires_at END;
  RETURN results;
END
$fn$;
`,
  },
  {
    version: 2,
    name: 'budget counters written behind from Redis',
    sql: `
-- With Redis in front (store.redis), budget counters live in Redis and each gateway writes the
-- changes it made to \`counters\` here about once a second. A Redis that lost its data is rebuilt
-- from \`counters\` under a new epoch (docs/storage.md, "PostgreSQL with Redis").
CREATE TABLE counter_epochs (
  -- Epochs start one at a time (under a lock), so seq is their order whatever the gateways' clocks say.
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  epoch TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
-- Flushes already applied, so a flush retried after a lost reply is not counted twice.
CREATE TABLE counter_flushes (
  id TEXT PRIMARY KEY,
  applied_at BIGINT NOT NULL
);
CREATE INDEX counter_flushes_applied_at ON counter_flushes (applied_at);
`,
  },
  {
    version: 3,
    name: 'daily spend rollups',
    sql: `
-- Totals per UTC day (midnight in epoch ms), key, team and model (spend/spend-rollup.ts), kept
-- longer than the raw rows. A null key or team is a group of its own; a unique index treats
-- nulls as distinct (NULLS NOT DISTINCT needs PostgreSQL 15), so it holds \`key_id IS NULL\` and
-- \`COALESCE(key_id, '')\`, which keep a null key and an empty one apart.
CREATE TABLE spend_rollup (
  day BIGINT NOT NULL,
  key_id TEXT COLLATE "C",
  team_id TEXT COLLATE "C",
  model TEXT COLLATE "C" NOT NULL,
  requests BIGINT NOT NULL,
  errors BIGINT NOT NULL,
  input_tokens BIGINT NOT NULL,
  cached_input_tokens BIGINT NOT NULL,
  output_tokens BIGINT NOT NULL,
  cost_micros BIGINT NOT NULL,
  last_used BIGINT NOT NULL
);
CREATE UNIQUE INDEX spend_rollup_group ON spend_rollup (day, (key_id IS NULL), COALESCE(key_id, ''), (team_id IS NULL), COALESCE(team_id, ''), model);

-- Every insert into the spend log adds its rows to the rollups in the same statement, whoever
-- inserts (appendSpend, importSpend, a gateway of an earlier version during a rolling upgrade):
-- one upsert per day, key, team and model of the statement, always in the same order, so two
-- gateways' batches lock shared rollup rows in the same order and never deadlock. The day is
-- floored, also before 1970 (% truncates toward zero). search_path is the schema's, for inserts
-- made from a session whose search_path does not name it.
CREATE FUNCTION sf_spend_rollup() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
  INSERT INTO spend_rollup AS r (day, key_id, team_id, model, requests, errors, input_tokens, cached_input_tokens, output_tokens, cost_micros, last_used)
  SELECT a.time - ((a.time % 86400000) + 86400000) % 86400000 AS d, a.key_id, a.team_id, a.model, COUNT(*), COUNT(*) FILTER (WHERE a.status >= 400),
    SUM(a.input_tokens)::int8, SUM(a.cached_input_tokens)::int8, SUM(a.output_tokens)::int8, SUM(a.cost_micros)::int8, MAX(a.time)
  FROM added a GROUP BY 1, 2, 3, 4
  ORDER BY 1, (a.key_id IS NULL), COALESCE(a.key_id, ''), (a.team_id IS NULL), COALESCE(a.team_id, ''), a.model
  ON CONFLICT (day, (key_id IS NULL), COALESCE(key_id, ''), (team_id IS NULL), COALESCE(team_id, ''), model) DO UPDATE SET
    requests = r.requests + excluded.requests, errors = r.errors + excluded.errors, input_tokens = r.input_tokens + excluded.input_tokens,
    cached_input_tokens = r.cached_input_tokens + excluded.cached_input_tokens, output_tokens = r.output_tokens + excluded.output_tokens,
    cost_micros = r.cost_micros + excluded.cost_micros, last_used = GREATEST(r.last_used, excluded.last_used);
  RETURN NULL;
END
$fn$;
-- Creating the trigger locks out inserts until this step commits, so the backfill below sees
-- every row inserted before it and the trigger every row inserted after.
CREATE TRIGGER spend_log_rollup AFTER INSERT ON spend_log REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION sf_spend_rollup();

INSERT INTO spend_rollup (day, key_id, team_id, model, requests, errors, input_tokens, cached_input_tokens, output_tokens, cost_micros, last_used)
SELECT time - ((time % 86400000) + 86400000) % 86400000, key_id, team_id, model, COUNT(*), COUNT(*) FILTER (WHERE status >= 400),
  SUM(input_tokens)::int8, SUM(cached_input_tokens)::int8, SUM(output_tokens)::int8, SUM(cost_micros)::int8, MAX(time)
FROM spend_log GROUP BY 1, 2, 3, 4;
`,
  },
];

/** Serialises migrations across every process that opens the same schema. */
function lockKey(schema: string): string {
  return `smartflow:migrate:${schema}`;
}

/**
 * Creates the schema if needed and applies every missing step. Safe when several gateways start
 * at once: the first takes a transaction-scoped advisory lock and migrates, the others wait for
 * it and then find nothing left to do.
 */
export async function migrate(client: PoolClient, schema: string): Promise<void> {
  const quoted = quoteIdentifier(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockKey(schema)]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quoted}.sf_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${quoted}.sf_schema_migrations`);
    const applied = new Set(rows.map((r) => r.version));
    for (const step of MIGRATIONS) {
      if (applied.has(step.version)) continue;
      await client.query(`SET LOCAL search_path TO ${quoted}`);
      await client.query(step.sql);
      await client.query(`INSERT INTO ${quoted}.sf_schema_migrations (version, name) VALUES ($1, $2)`, [step.version, step.name]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A PostgreSQL identifier, quoted (schema names come from the configuration). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
