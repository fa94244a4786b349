import { GatewayError } from '../../errors/gateway-error.js';
import { invalidIncrement } from '../invalid-increment.js';
import { checkCounterValue } from '../transfer.js';
import { openPostgres, type PostgresStoreOptions } from '../postgres/postgres-store.js';
import { connectRedis } from '../redis/connection.js';
import { createErrorMapper } from '../redis/errors.js';
import { createRedisStore } from '../redis/redis-store.js';
import type { EntryMeasure, Store } from '../types.js';
import { secretsOf } from '../url-credentials.js';
import { LayeredCounters } from './layered-counters.js';
import { RedisCounters } from './redis-counters.js';

/** Entries under this prefix (the response cache) live in Redis; every other entry in PostgreSQL. */
const FAST_ENTRY_PREFIX = 'cache:';
/** How often each gateway writes its budget counter changes to PostgreSQL. */
const DEFAULT_FLUSH_MS = 500;

export interface LayeredStoreOptions extends PostgresStoreOptions {
  redisUrl: string;
  /** Prefix of every Redis key (default `sf:`). */
  redisPrefix?: string;
  flushMs?: number;
  onCounterFlushError?: (err: unknown) => void;
}

/** Which side of the layered store holds the entries under `prefix`: Redis, PostgreSQL, or both (a prefix of the cache's). */
function entriesOf(prefix: string): 'redis' | 'postgres' | 'both' {
  if (prefix.startsWith(FAST_ENTRY_PREFIX)) return 'redis';
  return FAST_ENTRY_PREFIX.startsWith(prefix) ? 'both' : 'postgres';
}

function mergeMeasures(a: Map<string, EntryMeasure>, b: Map<string, EntryMeasure>): Map<string, EntryMeasure> {
  const out = new Map(a);
  for (const [group, m] of b) {
    const seen = out.get(group);
    out.set(group, seen ? { entries: seen.entries + m.entries, bytes: seen.bytes + m.bytes } : m);
  }
  return out;
}

/**
 * PostgreSQL as the system of record with Redis in front (`store: {type: postgres, url, redis}`).
 * PostgreSQL holds documents (keys, teams, chains, servers, agents, policies, tasks), the spend
 * log with its daily rollups and every entry but the response cache (OAuth state, tokens,
 * sessions, locks). Redis holds what must be fast and may be rebuilt: every counter (budget
 * counters written behind to PostgreSQL, see LayeredCounters), the response cache and pub/sub.
 */
export async function createLayeredStore(url: string, options: LayeredStoreOptions): Promise<Store> {
  const prefix = options.redisPrefix ?? 'sf:';
  const pg = await openPostgres(url, options);
  let redisStore: Store;
  let counterClient: Awaited<ReturnType<typeof connectRedis>>;
  try {
    redisStore = await createRedisStore(options.redisUrl, { prefix });
    try {
      counterClient = await connectRedis(options.redisUrl);
    } catch (err) {
      await redisStore.close();
      throw err;
    }
  } catch (err) {
    await pg.store.close();
    throw err instanceof GatewayError ? err : new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause: createErrorMapper(secretsOf(options.redisUrl))(err).cause });
  }
  const toRedisError = createErrorMapper(secretsOf(options.redisUrl));
  const now = options.now ?? Date.now;
  const counters = new LayeredCounters({
    redis: new RedisCounters(counterClient, prefix),
    pool: pg.pool,
    runPg: (fn) => pg.run(fn),
    now,
    flushMs: options.flushMs ?? DEFAULT_FLUSH_MS,
    // A background flush's failure reaches the gateway's log: a raw ioredis error can carry the
    // connection options, so it is mapped like every other call's.
    onFlushError: (err) => options.onCounterFlushError?.(toRedisError(err)),
  });
  const records = pg.store;
  const fast = redisStore;
  let closed = false;
  /** Counter calls touch Redis and PostgreSQL: both sides' failures become GatewayErrors. */
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { message: 'The store is closed.' });
    try {
      return await fn();
    } catch (err) {
      throw toRedisError(err);
    }
  };
  const entryStore = (key: string): Store => (key.startsWith(FAST_ENTRY_PREFIX) ? fast : records);

  const store: Store = {
    kind: 'postgres',
    getDoc: (collection, id) => records.getDoc(collection, id),
    getVersionedDoc: (collection, id) => records.getVersionedDoc(collection, id),
    putDoc: (collection, id, doc) => records.putDoc(collection, id, doc),
    compareAndSetDoc: (collection, id, doc, expectedVersion) => records.compareAndSetDoc(collection, id, doc, expectedVersion),
    createDoc: (collection, id, doc) => records.createDoc(collection, id, doc),
    deleteDoc: (collection, id) => records.deleteDoc(collection, id),
    listDocs: (collection, listOptions) => records.listDocs(collection, listOptions),

    getCounter: (key) => guard(() => counters.get(key)),
    async incrCounter(key, delta, ttl_ms) {
      const invalid = invalidIncrement([{ key, delta }]);
      if (invalid) throw invalid;
      const [result] = await guard(() => counters.guardedBatch([[{ key, delta, ...(ttl_ms !== undefined ? { ttl_ms } : {}) }]]));
      return result!.values[0]!;
    },
    async guardedIncrement(entries) {
      const invalid = invalidIncrement(entries);
      if (invalid) throw invalid;
      if (entries.length === 0) return { ok: true, values: [] };
      return (await guard(() => counters.guardedBatch([entries])))[0]!;
    },
    guardedIncrementBatch: (batches) =>
      guard(async () => {
        const invalid = batches.map((entries) => invalidIncrement(entries));
        const valid = batches.filter((_, i) => invalid[i] === undefined && batches[i]!.length > 0);
        const applied = valid.length === 0 ? [] : await counters.guardedBatch(valid);
        let next = 0;
        return batches.map((entries, i) => {
          const error = invalid[i];
          if (error !== undefined) return { ok: false as const, error };
          return entries.length === 0 ? { ok: true as const, values: [] } : applied[next++]!;
        });
      }),

    setEntry: (key, value, ttl_ms) => entryStore(key).setEntry(key, value, ttl_ms),
    getEntry: (key) => entryStore(key).getEntry(key),
    deleteEntry: (key) => entryStore(key).deleteEntry(key),
    async deleteEntriesByPrefix(entryPrefix) {
      const side = entriesOf(entryPrefix);
      if (side !== 'both') return (side === 'redis' ? fast : records).deleteEntriesByPrefix(entryPrefix);
      const [a, b] = await Promise.all([fast.deleteEntriesByPrefix(entryPrefix), records.deleteEntriesByPrefix(entryPrefix)]);
      return a + b;
    },
    async measureEntries(entryPrefix) {
      const side = entriesOf(entryPrefix);
      if (side !== 'both') return (side === 'redis' ? fast : records).measureEntries(entryPrefix);
      const [a, b] = await Promise.all([fast.measureEntries(entryPrefix), records.measureEntries(entryPrefix)]);
      return mergeMeasures(a, b);
    },

    publish: (channel, message) => fast.publish(channel, message),
    subscribe: (channel, handler) => fast.subscribe(channel, handler),

    appendSpend: (rows) => records.appendSpend(rows),
    querySpend: (query) => records.querySpend(query),
    summarizeSpend: (query) => records.summarizeSpend(query),
    deleteSpendBefore: (time, limit) => records.deleteSpendBefore(time, limit),
    deleteSpendRollupsBefore: (time, limit) => records.deleteSpendRollupsBefore(time, limit),

    // `smartflow migrate`. Counters are read from Redis, which holds every live one (PostgreSQL
    // only the budget counters, a flush behind); an imported counter is written to both. Entries
    // are read from PostgreSQL, then the response cache from Redis, under one cursor.
    listCollections: () => records.listCollections(),
    importDoc: (collection, id, doc, version) => records.importDoc(collection, id, doc, version),
    scanCounters: (scanOptions) => guard(() => counters.scan(scanOptions ?? {})),
    async importCounter(counter) {
      checkCounterValue(counter.value);
      return guard(() => counters.importCounter(counter, (c) => records.importCounter(c)));
    },
    async scanEntries(scanOptions = {}) {
      const cursor = scanOptions.cursor ?? 'p';
      const side = cursor.charAt(0);
      const rest = cursor.slice(1);
      if (side !== 'p' && side !== 'r') throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The cursor is not valid.', param: 'cursor' });
      const page = await (side === 'p' ? records : fast).scanEntries({ ...scanOptions, ...(rest ? { cursor: rest } : { cursor: undefined }) });
      const next = page.next_cursor !== null ? `${side}${page.next_cursor}` : side === 'p' ? 'r' : null;
      return { items: page.items, next_cursor: next };
    },
    scanSpend: (scanOptions) => records.scanSpend(scanOptions),
    importSpend: (rows) => records.importSpend(rows),
    countSpend: () => records.countSpend(),
    scanSpendRollups: (scanOptions) => records.scanSpendRollups(scanOptions),
    importSpendRollups: (rows) => records.importSpendRollups(rows),

    async ping() {
      await Promise.all([records.ping(), fast.ping()]);
    },
    async close() {
      if (closed) return;
      try {
        await counters.close().catch((err: unknown) => {
          throw toRedisError(err);
        });
      } finally {
        closed = true;
        counterClient.disconnect();
        await Promise.all([fast.close(), records.close()]);
      }
    },
  };
  return store;
}
