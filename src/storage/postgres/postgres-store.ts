import pg from 'pg';
import { GatewayError } from '../../errors/gateway-error.js';
import { addToMeasure } from '../entry-measure.js';
import { invalidIncrement } from '../invalid-increment.js';
import { prefixUpperBound } from '../prefix-range.js';
import type { DocPage, EntryMeasure, GuardedIncrement, GuardedIncrementBatchResult, GuardedIncrementResult, ListOptions, Store, StoreOptions } from '../types.js';
import { redactedError, secretsOf } from '../url-credentials.js';
import { wireSet } from './guarded-wire.js';
import { migrate, quoteIdentifier } from './migrations.js';
import { NotificationBus, notifyChannel } from './notifications.js';
import { dayStart } from '../../spend/spend-rollup.js';
import { summarizeSpendWith } from '../spend-summary.js';
import { deleteRollupDaysBefore, postgresSummarySources } from './spend-rollup-sql.js';
import { appendSpendRows, deleteSpendRowsBefore, querySpendRows } from './spend-sql.js';
import { createPostgresTransfer } from './transfer.js';

const CONNECT_TIMEOUT_MS = 3_000;
const MAX_PAGE = 1_000;
const SWEEP_INTERVAL_MS = 60_000;
/** Rows per sweep statement, so a sweep never holds many row locks at once. */
const SWEEP_BATCH = 1_000;
export const DEFAULT_SCHEMA = 'smartflow';
export const DEFAULT_POOL_SIZE = 10;

/**
 * SQLSTATE classes that mean "the database cannot serve you right now" (connection, resources,
 * shutdown, authentication, a missing database) rather than "the statement is wrong".
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-4]|58|28|3D000|40001|40P01|55P03|25006)/;

/** int8 (bigint) columns as numbers: counters, money and times stay within 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export interface PostgresStoreOptions extends StoreOptions {
  /** The schema holding the gateway's tables (created if missing); several gateways or tests can share a database. */
  schema?: string;
  /** Connections in this instance's pool. */
  poolSize?: number;
}

function checkInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be a safe integer, got ${value}`);
}


/**
 * Connects to PostgreSQL at `url`, applies the schema's missing migrations and returns the store.
 * Rejects with SF_ERR_STORE_UNAVAILABLE (never with an error that shows the URL or its password)
 * when the database cannot be reached. Gateways on the same database and schema share all state.
 */
export async function createPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  return (await openPostgres(url, options)).store;
}

/** The store with its pool, for the layered store's counter write-behind (storage/layered/). */
export interface OpenPostgres {
  store: Store;
  pool: pg.Pool;
  /** Runs a call on the pool as the store runs its own: failures become GatewayErrors with redacted details. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

export async function openPostgres(url: string, options: PostgresStoreOptions = {}): Promise<OpenPostgres> {
  const now = options.now ?? Date.now;
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const secrets = secretsOf(url);
  const toError = (err: unknown): GatewayError => {
    if (err instanceof GatewayError) return err;
    const cause = redactedError(secrets, err);
    const code = (cause as { code?: unknown }).code;
    // A statement the server rejected for its content is a bug in the gateway, not an outage.
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !UNAVAILABLE_SQLSTATE.test(code)) return new GatewayError('SF_ERR_INTERNAL', { cause });
    return new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause });
  };

  const clientConfig: pg.ClientConfig = {
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Every unqualified table and function name resolves in the gateway's schema.
    options: `-c search_path=${quoteIdentifier(schema)}`,
    types,
    // Shows in pg_stat_activity which gateway schema a connection serves.
    application_name: `smartflow ${schema}`.slice(0, 63),
  };
  let pool: pg.Pool;
  try {
    pool = new pg.Pool({ ...clientConfig, max: options.poolSize ?? DEFAULT_POOL_SIZE });
  } catch (err) {
    throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause: toError(err).cause });
  }
  // An idle connection the server drops reports here; the next query gets a fresh one.
  pool.on('error', () => undefined);
  const bus = new NotificationBus({ clientConfig, pool, channel: notifyChannel(schema), now });
  try {
    const client = await pool.connect();
    try {
      await migrate(client, schema);
    } finally {
      client.release();
    }
    await bus.start();
  } catch (err) {
    await bus.close();
    await pool.end().catch(() => undefined);
    throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause: toError(err).cause });
  }

  let closed = false;
  /** Runs a database call, turning every failure into a GatewayError with redacted details. */
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { message: 'The store is closed.' });
    try {
      return await fn();
    } catch (err) {
      throw toError(err);
    }
  };
  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> => pool.query<R>(sql, params);

  /** Applies guarded increment sets in order in one statement (see the sf_guarded_increments migration). */
  const applySets = async (sets: GuardedIncrement[][]): Promise<GuardedIncrementResult[]> => {
    const { rows } = await query<{ results: GuardedIncrementResult[] }>('SELECT sf_guarded_increments($1::jsonb, $2) AS results', [
      JSON.stringify(sets.map(wireSet)),
      now(),
    ]);
    return rows[0]!.results;
  };

  const sweep = async (): Promise<void> => {
    const at = now();
    // The outer `expires_at <= $1` is re-checked on a row a concurrent increment just renewed,
    // so a counter that came back to life is never swept.
    await query('DELETE FROM counters WHERE expires_at <= $1 AND key IN (SELECT key FROM counters WHERE expires_at <= $1 LIMIT $2)', [at, SWEEP_BATCH]);
    await query('DELETE FROM entries WHERE expires_at <= $1 AND key IN (SELECT key FROM entries WHERE expires_at <= $1 LIMIT $2)', [at, SWEEP_BATCH]);
    await query('DELETE FROM messages WHERE expires_at <= $1', [at]);
  };
  const summarySources = postgresSummarySources(pool);
  const timer = setInterval(() => {
    // An unreachable database skips this sweep; the next one catches up.
    sweep().catch(() => undefined);
  }, SWEEP_INTERVAL_MS);
  // The sweep must never keep the process alive on its own.
  timer.unref();

  const store: Store = {
    kind: 'postgres',

    getDoc<T>(collection: string, id: string) {
      return run(async () => (await query<{ doc: T }>('SELECT doc FROM docs WHERE collection = $1 AND id = $2', [collection, id])).rows[0]?.doc);
    },
    getVersionedDoc<T>(collection: string, id: string) {
      return run(async () => {
        const row = (await query<{ doc: T; version: number }>('SELECT doc, version FROM docs WHERE collection = $1 AND id = $2', [collection, id])).rows[0];
        return row === undefined ? undefined : { doc: row.doc, version: row.version };
      });
    },
    putDoc<T>(collection: string, id: string, doc: T) {
      return run(async () => {
        await query(
          'INSERT INTO docs (collection, id, doc) VALUES ($1, $2, $3) ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc, version = docs.version + 1',
          [collection, id, JSON.stringify(doc)],
        );
      });
    },
    compareAndSetDoc<T>(collection: string, id: string, doc: T, expectedVersion: number) {
      return run(async () => {
        const json = JSON.stringify(doc);
        if (expectedVersion === 0) {
          const created = await query('INSERT INTO docs (collection, id, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [collection, id, json]);
          return created.rowCount === 1 ? 1 : null;
        }
        const updated = await query('UPDATE docs SET doc = $1, version = version + 1 WHERE collection = $2 AND id = $3 AND version = $4', [json, collection, id, expectedVersion]);
        return updated.rowCount === 1 ? expectedVersion + 1 : null;
      });
    },
    createDoc<T>(collection: string, id: string, doc: T) {
      return run(async () => (await query('INSERT INTO docs (collection, id, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [collection, id, JSON.stringify(doc)])).rowCount === 1);
    },
    deleteDoc(collection, id) {
      return run(async () => (await query('DELETE FROM docs WHERE collection = $1 AND id = $2', [collection, id])).rowCount === 1);
    },
    listDocs<T>(collection: string, options: ListOptions = {}) {
      return run(async (): Promise<DocPage<T>> => {
        const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(options.limit ?? 100)));
        const { rows } =
          options.cursor === undefined
            ? await query<{ id: string; doc: T; version: number }>('SELECT id, doc, version FROM docs WHERE collection = $1 ORDER BY id LIMIT $2', [collection, limit + 1])
            : await query<{ id: string; doc: T; version: number }>('SELECT id, doc, version FROM docs WHERE collection = $1 AND id > $2 ORDER BY id LIMIT $3', [
                collection,
                options.cursor,
                limit + 1,
              ]);
        const more = rows.length > limit;
        if (more) rows.length = limit;
        return { items: rows.map((row) => ({ id: row.id, doc: row.doc, version: row.version })), next_cursor: more ? (rows[rows.length - 1]?.id ?? null) : null };
      });
    },

    getCounter(key) {
      return run(async () => (await query<{ value: number }>('SELECT value FROM counters WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)', [key, now()])).rows[0]?.value ?? 0);
    },
    incrCounter(key, delta, ttl_ms) {
      checkInteger('delta', delta);
      return run(async () => {
        const [result] = await applySets([[{ key, delta, ...(ttl_ms !== undefined ? { ttl_ms } : {}) }]]);
        return result!.values[0]!;
      });
    },
    guardedIncrement(entries) {
      for (const entry of entries) checkInteger('delta', entry.delta);
      return run(async () => (entries.length === 0 ? { ok: true, values: [] } : (await applySets([entries]))[0]!));
    },
    guardedIncrementBatch(batches) {
      return run(async () => {
        // A set with a bad number fails alone: the others of the batch belong to other requests.
        const invalid = batches.map((entries) => invalidIncrement(entries));
        const valid = batches.filter((_, i) => invalid[i] === undefined);
        const applied = valid.length === 0 ? [] : await applySets(valid);
        let next = 0;
        return invalid.map((error): GuardedIncrementBatchResult => (error === undefined ? applied[next++]! : { ok: false, error }));
      });
    },

    setEntry(key, value, ttl_ms) {
      return run(async () => {
        // A non-positive TTL means "already expired": storing it would only leave garbage.
        if (ttl_ms <= 0) await query('DELETE FROM entries WHERE key = $1', [key]);
        else
          await query('INSERT INTO entries (key, value, expires_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at', [
            key,
            value,
            now() + Math.ceil(ttl_ms),
          ]);
      });
    },
    getEntry(key) {
      return run(async () => (await query<{ value: string }>('SELECT value FROM entries WHERE key = $1 AND expires_at > $2', [key, now()])).rows[0]?.value);
    },
    deleteEntry(key) {
      return run(async () => {
        const row = (await query<{ expires_at: number }>('DELETE FROM entries WHERE key = $1 RETURNING expires_at', [key])).rows[0];
        return row !== undefined && row.expires_at > now();
      });
    },
    deleteEntriesByPrefix(prefix) {
      return run(async () => {
        const upper = prefixUpperBound(prefix);
        // Expired rows go too, but only live entries count as deleted.
        const { rows } = await query<{ live: number }>(
          `WITH gone AS (DELETE FROM entries WHERE key >= $1${upper === undefined ? '' : ' AND key < $3'} RETURNING expires_at)
           SELECT COUNT(*) FILTER (WHERE expires_at > $2) AS live FROM gone`,
          upper === undefined ? [prefix, now()] : [prefix, now(), upper],
        );
        return rows[0]?.live ?? 0;
      });
    },
    measureEntries(prefix) {
      return run(async () => {
        const upper = prefixUpperBound(prefix);
        const { rows } = await query<{ key: string; bytes: number }>(
          `SELECT key, octet_length(value) AS bytes FROM entries WHERE key >= $1 AND expires_at > $2${upper === undefined ? '' : ' AND key < $3'}`,
          upper === undefined ? [prefix, now()] : [prefix, now(), upper],
        );
        const groups = new Map<string, EntryMeasure>();
        for (const row of rows) addToMeasure(groups, prefix, row.key, row.bytes);
        return groups;
      });
    },

    publish(channel, message) {
      return run(() => bus.publish(channel, message));
    },
    subscribe(channel, handler) {
      return run(() => {
        const off = bus.subscribe(channel, handler);
        return Promise.resolve(() => {
          off();
          return Promise.resolve();
        });
      });
    },

    appendSpend(records) {
      return run(() => appendSpendRows(pool, records));
    },
    querySpend(spendQuery) {
      return run(() => querySpendRows(pool, spendQuery));
    },
    summarizeSpend(summaryQuery) {
      return run(() => summarizeSpendWith(summaryQuery, summarySources));
    },
    deleteSpendBefore(time, limit) {
      return run(() => deleteSpendRowsBefore(pool, time, Math.max(1, Math.floor(limit))));
    },
    deleteSpendRollupsBefore(time, limit) {
      return run(() => deleteRollupDaysBefore(pool, dayStart(time), Math.max(1, Math.floor(limit))));
    },

    ...createPostgresTransfer(pool, now, run),

    ping() {
      return run(async () => {
        await query('SELECT 1', []);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await bus.close();
      await pool.end().catch(() => undefined);
    },
  };
  return { store, pool, run };
}
