import { mkdirSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { GatewayError } from '../../errors/gateway-error.js';
import type { SpendRecord } from '../../spend/spend-record.js';
import { dayStart, rollUp } from '../../spend/spend-rollup.js';
import { addToMeasure } from '../entry-measure.js';
import { invalidIncrement } from '../invalid-increment.js';
import { prefixUpperBound } from '../prefix-range.js';
import { summarizeSpendWith } from '../spend-summary.js';
import type { DocPage, EntryMeasure, GuardedIncrement, GuardedIncrementBatchResult, GuardedIncrementResult, ListOptions, Store, StoreOptions } from '../types.js';
import { acquireLocalBus } from './local-bus.js';
import { initSchema } from './schema.js';
import { createSpendQuerier, INSERT_SPEND_SQL, spendParams } from './spend-sql.js';
import { createSqliteRollups } from './spend-rollup-sql.js';
import { createSqliteSummarySources } from './spend-summary-sql.js';
import { createSqliteTransfer } from './transfer.js';

const BUSY_TIMEOUT_MS = 5_000;
/** Expired rows are swept after this many expiring writes, and on a timer for idle stores. */
const SWEEP_EVERY_WRITES = 1_000;
const SWEEP_INTERVAL_MS = 60_000;
/** Rows per sweep statement, so a sweep never holds the write lock for long. */
const SWEEP_BATCH = 1_000;
const MAX_PAGE = 1_000;

/** SQLite result codes that mean the database cannot be used right now, not that the call was wrong. */
const UNAVAILABLE_CODE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY|NOMEM|CORRUPT|NOTADB|PROTOCOL)/;

function toStoreError(err: unknown): unknown {
  if (err instanceof Database.SqliteError && UNAVAILABLE_CODE.test(err.code)) {
    return new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause: err });
  }
  return err;
}

function checkInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be a safe integer, got ${value}`);
}

/**
 * Opens (creating if needed) the SQLite store at `path`, or a private in-memory one for ':memory:'.
 * Several stores, and several processes, may open the same file: counters stay atomic across them.
 */
export async function createSqliteStore(path: string, options: StoreOptions = {}): Promise<Store> {
  const now = options.now ?? Date.now;
  const inMemory = path === ':memory:' || path === '';
  let busKey: string | null = null;
  let db: Database.Database | undefined;
  try {
    if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Database(path);
    // realpath after opening, when the file exists: symlinked or relative paths share one bus.
    if (!inMemory) busKey = realpathSync(resolve(path));
    initSchema(db, BUSY_TIMEOUT_MS);
  } catch (err) {
    db?.close();
    throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause: err });
  }

  const q = {
    getDoc: db.prepare<[string, string], { doc: string }>('SELECT doc FROM docs WHERE collection = ? AND id = ?'),
    getVersionedDoc: db.prepare<[string, string], { doc: string; version: number }>('SELECT doc, version FROM docs WHERE collection = ? AND id = ?'),
    putDoc: db.prepare<[string, string, string]>(
      'INSERT INTO docs (collection, id, doc) VALUES (?, ?, ?) ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc, version = docs.version + 1',
    ),
    replaceDoc: db.prepare<[string, string, string, number]>('UPDATE docs SET doc = ?, version = version + 1 WHERE collection = ? AND id = ? AND version = ?'),
    createDoc: db.prepare<[string, string, string]>('INSERT INTO docs (collection, id, doc) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    deleteDoc: db.prepare<[string, string]>('DELETE FROM docs WHERE collection = ? AND id = ?'),
    listDocs: db.prepare<[string, number], { id: string; doc: string; version: number }>(
      'SELECT id, doc, version FROM docs WHERE collection = ? ORDER BY id LIMIT ?',
    ),
    listDocsAfter: db.prepare<[string, string, number], { id: string; doc: string; version: number }>(
      'SELECT id, doc, version FROM docs WHERE collection = ? AND id > ? ORDER BY id LIMIT ?',
    ),
    getCounter: db.prepare<[string, number], { value: number }>(
      'SELECT value FROM counters WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
    ),
    // An expired row is replaced, not added to: it reads as 0 and gets a fresh TTL.
    incrCounter: db.prepare<[{ key: string; delta: number; expires_at: number | null; now: number }], { value: number }>(`
      INSERT INTO counters (key, value, expires_at) VALUES (@key, @delta, @expires_at)
      ON CONFLICT (key) DO UPDATE SET
        value = CASE WHEN expires_at <= @now THEN excluded.value ELSE value + excluded.value END,
        expires_at = CASE WHEN expires_at <= @now THEN excluded.expires_at ELSE expires_at END
      RETURNING value`),
    // The same upsert without RETURNING, for writes whose new value is already known. SQLite
    // collects RETURNING rows in an ephemeral table; inside the guarded transaction (two reads,
    // two upserts) that cost about 120 µs more CPU per transaction on the bench machine (151 vs
    // 31 µs, mostly page faults as malloc grew and trimmed the heap on every run), about 30 µs
    // per budgeted request in the gateway. A lone RETURNING upsert showed no such cost.
    addToCounter: db.prepare<[{ key: string; delta: number; expires_at: number | null; now: number }]>(`
      INSERT INTO counters (key, value, expires_at) VALUES (@key, @delta, @expires_at)
      ON CONFLICT (key) DO UPDATE SET
        value = CASE WHEN expires_at <= @now THEN excluded.value ELSE value + excluded.value END,
        expires_at = CASE WHEN expires_at <= @now THEN excluded.expires_at ELSE expires_at END`),
    setEntry: db.prepare<[string, string, number]>(
      'INSERT INTO entries (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
    ),
    getEntry: db.prepare<[string, number], { value: string }>('SELECT value FROM entries WHERE key = ? AND expires_at > ?'),
    deleteEntry: db.prepare<[string], { expires_at: number }>('DELETE FROM entries WHERE key = ? RETURNING expires_at'),
    deleteRange: db.prepare<[string, string], { expires_at: number }>(
      'DELETE FROM entries WHERE key >= ? AND key < ? RETURNING expires_at',
    ),
    deleteFrom: db.prepare<[string], { expires_at: number }>('DELETE FROM entries WHERE key >= ? RETURNING expires_at'),
    measureRange: db.prepare<[string, string, number], { key: string; bytes: number }>(
      'SELECT key, length(CAST(value AS BLOB)) AS bytes FROM entries WHERE key >= ? AND key < ? AND expires_at > ?',
    ),
    measureFrom: db.prepare<[string, number], { key: string; bytes: number }>('SELECT key, length(CAST(value AS BLOB)) AS bytes FROM entries WHERE key >= ? AND expires_at > ?'),
    appendSpend: db.prepare<Array<string | number | null>>(INSERT_SPEND_SQL),
    sweepCounters: db.prepare<[number, number]>(
      'DELETE FROM counters WHERE key IN (SELECT key FROM counters WHERE expires_at <= ? LIMIT ?)',
    ),
    // Oldest first through the time index; each call is one short write transaction.
    deleteSpendBefore: db.prepare<[number, number]>('DELETE FROM spend_log WHERE seq IN (SELECT seq FROM spend_log WHERE time < ? ORDER BY time LIMIT ?)'),
    ping: db.prepare('SELECT 1'),
    sweepEntries: db.prepare<[number, number]>(
      'DELETE FROM entries WHERE key IN (SELECT key FROM entries WHERE expires_at <= ? LIMIT ?)',
    ),
  };
  const querySpend = createSpendQuerier(db);
  const rollups = createSqliteRollups(db);
  const summarySources = createSqliteSummarySources(db, rollups);

  const readCounter = (key: string, at: number): number => q.getCounter.get(key, at)?.value ?? 0;
  const expiryOf = (ttl_ms: number | undefined, at: number): number | null => (ttl_ms !== undefined && ttl_ms > 0 ? at + Math.ceil(ttl_ms) : null);
  const writeCounter = (key: string, delta: number, ttl_ms: number | undefined, at: number): number => {
    const row = q.incrCounter.get({ key, delta, expires_at: expiryOf(ttl_ms, at), now: at });
    return row?.value ?? 0;
  };

  /**
   * The counters one transaction has read or changed: their values as the transaction sees them,
   * and the net change each needs written at the end. The requests of one batch mostly touch the
   * same few counters (one key's spend and reservation): reading each once and writing each once
   * per transaction, instead of a read and an upsert per request, was about 10 % of the gateway's
   * CPU per budgeted request at 64 connections.
   */
  interface Pending {
    value: number;
    delta: number;
    /** The expiry of the first write: the upsert keeps a live row's expiry, so later writes never change it. */
    expiresAt: number | null;
    written: boolean;
  }
  // Checks every limit before writing anything, so a refusal leaves no trace and needs no rollback.
  const applyGuarded = (entries: GuardedIncrement[], at: number, seen: Map<string, Pending>): GuardedIncrementResult => {
    const counter = (key: string): Pending => {
      let c = seen.get(key);
      if (!c) seen.set(key, (c = { value: readCounter(key, at), delta: 0, expiresAt: null, written: false }));
      return c;
    };
    const current = new Map<string, number>();
    const values: number[] = [];
    for (const [index, entry] of entries.entries()) {
      const value = current.get(entry.key) ?? counter(entry.key).value;
      const next = value + entry.delta;
      // A non-positive delta never pushes a counter further over its limit: refunds always apply.
      if (entry.limit !== undefined && entry.delta > 0 && next > entry.limit) {
        return { ok: false, index, values: entries.map((e) => counter(e.key).value) };
      }
      current.set(entry.key, next);
      values.push(next);
    }
    for (const entry of entries) {
      const c = counter(entry.key);
      c.value += entry.delta;
      c.delta += entry.delta;
      if (!c.written) {
        c.written = true;
        c.expiresAt = expiryOf(entry.ttl_ms, at);
      }
    }
    return { ok: true, values };
  };
  // The new values were computed under the write lock; the writes need not return them. A
  // counter read as 0 because its row had expired is replaced by the upsert, as a single write would.
  const writePending = (seen: Map<string, Pending>, at: number): void => {
    for (const [key, c] of seen) if (c.written) q.addToCounter.run({ key, delta: c.delta, expires_at: c.expiresAt, now: at });
  };
  // IMMEDIATE takes the write lock before the reads, so no other connection or process can
  // change a counter between the limit check and the increment.
  const guarded = db.transaction((entries: GuardedIncrement[], at: number) => {
    const seen = new Map<string, Pending>();
    const result = applyGuarded(entries, at, seen);
    writePending(seen, at);
    return result;
  });
  // One transaction for many: the lock and commit are most of a guarded increment's cost.
  const guardedBatch = db.transaction((batches: GuardedIncrement[][], at: number) => {
    const seen = new Map<string, Pending>();
    const results = batches.map((entries) => applyGuarded(entries, at, seen));
    writePending(seen, at);
    return results;
  });

  const appendBatch = db.transaction((records: SpendRecord[]) => {
    // Inserted in (time, id) order so that the rowid breaks ties the way the Redis backend's
    // stream order does: newest first means (time, id) descending on both.
    const ordered = [...records].sort((x, y) => x.time - y.time || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    for (const record of ordered) q.appendSpend.run(...spendParams(record));
    rollups.add(rollUp(records));
  });

  const sweep = (): void => {
    const at = now();
    q.sweepCounters.run(at, SWEEP_BATCH);
    q.sweepEntries.run(at, SWEEP_BATCH);
  };
  let writesSinceSweep = 0;
  const noteExpiringWrite = (): void => {
    if (++writesSinceSweep < SWEEP_EVERY_WRITES) return;
    writesSinceSweep = 0;
    sweep();
  };
  const timer = setInterval(() => {
    try {
      sweep();
    } catch {
      // A busy database skips this sweep; the next one catches up.
    }
  }, SWEEP_INTERVAL_MS);
  // The sweep must never keep the process alive on its own.
  timer.unref();

  const bus = acquireLocalBus(busKey);
  let closed = false;

  /** Runs a synchronous database call as the Store's promise, mapping driver errors. */
  const call = <T>(fn: () => T): Promise<T> => {
    if (closed) return Promise.reject(new GatewayError('SF_ERR_STORE_UNAVAILABLE', { message: 'The store is closed.' }));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(toStoreError(err));
    }
  };

  const store: Store = {
    kind: 'sqlite',

    getDoc<T>(collection: string, id: string) {
      return call(() => {
        const row = q.getDoc.get(collection, id);
        return row === undefined ? undefined : (JSON.parse(row.doc) as T);
      });
    },
    getVersionedDoc<T>(collection: string, id: string) {
      return call(() => {
        const row = q.getVersionedDoc.get(collection, id);
        return row === undefined ? undefined : { doc: JSON.parse(row.doc) as T, version: row.version };
      });
    },
    putDoc<T>(collection: string, id: string, doc: T) {
      return call(() => {
        q.putDoc.run(collection, id, JSON.stringify(doc));
      });
    },
    compareAndSetDoc<T>(collection: string, id: string, doc: T, expectedVersion: number) {
      return call(() => {
        const json = JSON.stringify(doc);
        if (expectedVersion === 0) return q.createDoc.run(collection, id, json).changes === 1 ? 1 : null;
        return q.replaceDoc.run(json, collection, id, expectedVersion).changes === 1 ? expectedVersion + 1 : null;
      });
    },
    createDoc<T>(collection: string, id: string, doc: T) {
      return call(() => q.createDoc.run(collection, id, JSON.stringify(doc)).changes === 1);
    },
    deleteDoc(collection, id) {
      return call(() => q.deleteDoc.run(collection, id).changes === 1);
    },
    listDocs<T>(collection: string, options: ListOptions = {}) {
      return call((): DocPage<T> => {
        const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(options.limit ?? 100)));
        const rows =
          options.cursor === undefined
            ? q.listDocs.all(collection, limit + 1)
            : q.listDocsAfter.all(collection, options.cursor, limit + 1);
        const more = rows.length > limit;
        if (more) rows.length = limit;
        return {
          items: rows.map((row) => ({ id: row.id, doc: JSON.parse(row.doc) as T, version: row.version })),
          next_cursor: more ? (rows[rows.length - 1]?.id ?? null) : null,
        };
      });
    },

    getCounter(key) {
      return call(() => readCounter(key, now()));
    },
    incrCounter(key, delta, ttl_ms) {
      return call(() => {
        checkInteger('delta', delta);
        const value = writeCounter(key, delta, ttl_ms, now());
        if (ttl_ms !== undefined) noteExpiringWrite();
        return value;
      });
    },
    guardedIncrement(entries) {
      return call(() => {
        for (const entry of entries) checkInteger('delta', entry.delta);
        const result = guarded.immediate(entries, now());
        if (result.ok && entries.some((e) => e.ttl_ms !== undefined)) noteExpiringWrite();
        return result;
      });
    },

    guardedIncrementBatch(batches) {
      return call(() => {
        // A set with a bad number fails alone: the others of the batch belong to other requests.
        const invalid = batches.map((entries) => invalidIncrement(entries));
        const valid = batches.filter((_, i) => invalid[i] === undefined);
        const applied = guardedBatch.immediate(valid, now());
        if (valid.some((entries, i) => applied[i]!.ok && entries.some((e) => e.ttl_ms !== undefined))) noteExpiringWrite();
        let next = 0;
        return invalid.map((error): GuardedIncrementBatchResult => (error === undefined ? applied[next++]! : { ok: false, error }));
      });
    },

    setEntry(key, value, ttl_ms) {
      return call(() => {
        // A non-positive TTL means "already expired": storing it would only leave garbage.
        if (ttl_ms <= 0) q.deleteEntry.run(key);
        else q.setEntry.run(key, value, now() + Math.ceil(ttl_ms));
        noteExpiringWrite();
      });
    },
    getEntry(key) {
      return call(() => q.getEntry.get(key, now())?.value);
    },
    deleteEntry(key) {
      return call(() => {
        const row = q.deleteEntry.get(key);
        return row !== undefined && row.expires_at > now();
      });
    },
    deleteEntriesByPrefix(prefix) {
      return call(() => {
        const upper = prefixUpperBound(prefix);
        const rows = upper === undefined ? q.deleteFrom.all(prefix) : q.deleteRange.all(prefix, upper);
        const at = now();
        // Expired rows go too, but only live entries count as deleted.
        return rows.reduce((n, row) => (row.expires_at > at ? n + 1 : n), 0);
      });
    },
    measureEntries(prefix) {
      return call(() => {
        const upper = prefixUpperBound(prefix);
        const at = now();
        const groups = new Map<string, EntryMeasure>();
        for (const row of upper === undefined ? q.measureFrom.iterate(prefix, at) : q.measureRange.iterate(prefix, upper, at)) addToMeasure(groups, prefix, row.key, row.bytes);
        return groups;
      });
    },

    async publish(channel, message) {
      await call(() => bus.publish(channel, message));
    },
    subscribe(channel, handler) {
      return call(() => {
        const off = bus.subscribe(channel, handler);
        return () => {
          off();
          return Promise.resolve();
        };
      });
    },

    appendSpend(records) {
      return call(() => {
        if (records.length > 0) appendBatch(records);
      });
    },
    querySpend(query) {
      return call(() => querySpend(query));
    },
    async summarizeSpend(query) {
      // The sources are synchronous calls behind promises: their errors reject, so map them here.
      try {
        return await call(() => summarizeSpendWith(query, summarySources));
      } catch (err) {
        throw toStoreError(err);
      }
    },
    deleteSpendBefore(time, limit) {
      return call(() => q.deleteSpendBefore.run(time, Math.max(1, Math.floor(limit))).changes);
    },
    deleteSpendRollupsBefore(time, limit) {
      return call(() => rollups.deleteBefore(dayStart(time), Math.max(1, Math.floor(limit))));
    },

    ...createSqliteTransfer(db, now, call, rollups),

    ping() {
      return call(() => {
        q.ping.get();
      });
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      clearInterval(timer);
      bus.release();
      db.close();
      return Promise.resolve();
    },
  };
  return store;
}
