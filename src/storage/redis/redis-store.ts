import { Redis } from 'ioredis';
import { GatewayError } from '../../errors/gateway-error.js';
import { dayStart } from '../../spend/spend-rollup.js';
import { addToMeasure } from '../entry-measure.js';
import { invalidIncrement } from '../invalid-increment.js';
import { summarizeSpendWith, type SummarySources } from '../spend-summary.js';
import type { DocPage, EntryMeasure, GuardedIncrement, GuardedIncrementBatchResult, GuardedIncrementResult, ListOptions, Store, StoreOptions } from '../types.js';
import { secretsOf } from '../url-credentials.js';
import { CONNECT_TIMEOUT_MS, CONNECTION_OPTIONS, connectWithin } from './connection.js';
import { createErrorMapper } from './errors.js';
import { escapeGlob } from './glob.js';
import { ALL_SCRIPTS, COMPARE_AND_SET_DOC, CREATE_DOC, GET_VERSIONED_DOC, DELETE_DOC, GUARDED_INCREMENT, INCR_WITH_TTL, LIST_DOCS, PUT_DOC, TRIM_SPEND_BEFORE } from './lua.js';
import { SubscriberFanout } from './pubsub.js';
import { rollUpUnmarked } from './rollup-catch-up.js';
import { APPEND_SPEND } from './spend-rollup-lua.js';
import { deleteRollupDaysBefore, redisRollupSources, type RollupLayout } from './spend-rollups.js';
import { appendSpendRecords, DEFAULT_SPEND_MAX_ROWS, FIELD as SPEND_FIELD, querySpendRecords, summarizeStreamDay } from './spend-stream.js';
import { createRedisTransfer } from './transfer.js';

const MAX_PAGE = 1_000;
/** Keys per SCAN step and per UNLINK when deleting by prefix. */
const SCAN_COUNT = 1_000;

function checkInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be a safe integer, got ${value}`);
}

function toNumbers(value: unknown): number[] {
  if (!Array.isArray(value)) throw new Error('Unexpected script reply.');
  return value.map((v) => Number(v));
}

export interface RedisStoreOptions extends StoreOptions {
  /** Rows the spend stream keeps (about: it trims whole nodes); the oldest go first. */
  spendMaxRows?: number;
  /**
   * Told how many rows an append removed to stay within `spendMaxRows` (only when some went), so
   * the gateway can count and log them: a capped log must not lose rows silently. A callback
   * keeps the store free of metrics and logging. It must not throw: a batch whose append
   * rejected would be written again.
   */
  onSpendEvicted?: (rows: number, maxRows: number) => void;
}

/**
 * Connects to Redis at `url` and returns the store. Rejects with SF_ERR_STORE_UNAVAILABLE (never
 * with an error that shows the URL or its password) when Redis cannot be reached.
 * Several gateway instances using the same Redis and prefix share all state.
 */
export async function createRedisStore(url: string, options: RedisStoreOptions = {}): Promise<Store> {
  const prefix = options.prefix ?? 'sf:';
  const spendMaxRows = options.spendMaxRows ?? DEFAULT_SPEND_MAX_ROWS;
  const toError = createErrorMapper(secretsOf(url));
  // Commands and subscriptions need separate connections: a subscribed connection accepts no other commands.
  let client: Redis;
  let subscriber: Redis;
  try {
    client = new Redis(url, CONNECTION_OPTIONS);
    subscriber = new Redis(url, CONNECTION_OPTIONS);
  } catch (err) {
    // A malformed URL: the parser's message may quote it.
    throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause: toError(err).cause });
  }
  for (const connection of [client, subscriber]) {
    // Without a listener ioredis prints connection errors itself; failures reach callers as rejections.
    connection.on('error', () => undefined);
  }
  const spendKey = `${prefix}spend`;
  const rollups: RollupLayout = {
    spendKey,
    markKey: `${prefix}spendroll:mark`,
    daysKey: `${prefix}spendroll:days`,
    dayKey: (day) => `${prefix}spendroll:${day}`,
  };
  try {
    await Promise.all([connectWithin(client, CONNECT_TIMEOUT_MS + 500), connectWithin(subscriber, CONNECT_TIMEOUT_MS + 500)]);
    await Promise.all([...ALL_SCRIPTS, APPEND_SPEND].map((script) => client.script('LOAD', script.lua)));
    // Before any summary: a stream from before rollups is added to them here, once (docs/storage.md).
    await rollUpUnmarked(client, rollups, SPEND_FIELD);
  } catch (err) {
    // Stops the background reconnect loop, which would otherwise keep the process alive.
    client.disconnect();
    subscriber.disconnect();
    throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause: toError(err).cause });
  }
  // From now on a dropped connection fails calls at once instead of queueing them.
  client.options.enableOfflineQueue = false;
  subscriber.options.enableOfflineQueue = false;

  const fanout = new SubscriberFanout(subscriber);
  const docKey = (collection: string): string => `${prefix}doc:${collection}`;
  const indexKey = (collection: string): string => `${prefix}docidx:${collection}`;
  const versionKey = (collection: string): string => `${prefix}docver:${collection}`;
  const docKeys = (collection: string): string[] => [docKey(collection), indexKey(collection), versionKey(collection)];
  const counterKey = (key: string): string => `${prefix}ctr:${key}`;
  const entryKey = (key: string): string => `${prefix}ent:${key}`;
  const channelKey = (channel: string): string => `${prefix}ch:${channel}`;
  const summarySources: SummarySources = {
    ...redisRollupSources(client, rollups),
    rawDay: (groupBy, day, from, to) => summarizeStreamDay(client, spendKey, groupBy, day, from, to),
  };

  let closing: Promise<void> | undefined;
  /** Runs a Redis call, turning every failure into a GatewayError with redacted details. */
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closing) throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { message: 'The store is closed.' });
    try {
      return await fn();
    } catch (err) {
      throw toError(err);
    }
  };

  async function guardedOne(entries: GuardedIncrement[]): Promise<GuardedIncrementResult> {
    if (entries.length === 0) return { ok: true, values: [] };
    const keys: string[] = [];
    const args: Array<string | number> = [];
    for (const entry of entries) {
      checkInteger('delta', entry.delta);
      keys.push(counterKey(entry.key));
      args.push(entry.delta, entry.limit ?? '', entry.ttl_ms !== undefined && entry.ttl_ms > 0 ? Math.ceil(entry.ttl_ms) : 0);
    }
    const [ok, index, ...values] = toNumbers(await GUARDED_INCREMENT.run(client, keys, args));
    return ok === 1 ? { ok: true, values } : { ok: false, index: index ?? 0, values };
  }

  const store: Store = {
    kind: 'redis',

    getDoc<T>(collection: string, id: string) {
      return guard(async () => {
        const json = await client.hget(docKey(collection), id);
        return json === null ? undefined : (JSON.parse(json) as T);
      });
    },
    getVersionedDoc<T>(collection: string, id: string) {
      return guard(async () => {
        const reply = (await GET_VERSIONED_DOC.run(client, [docKey(collection), versionKey(collection)], [id])) as [string, string] | [];
        return reply.length === 0 ? undefined : { doc: JSON.parse(reply[0]) as T, version: Number(reply[1]) };
      });
    },
    putDoc<T>(collection: string, id: string, doc: T) {
      return guard(async () => {
        await PUT_DOC.run(client, docKeys(collection), [id, JSON.stringify(doc)]);
      });
    },
    compareAndSetDoc<T>(collection: string, id: string, doc: T, expectedVersion: number) {
      return guard(async () => {
        const version = Number(await COMPARE_AND_SET_DOC.run(client, docKeys(collection), [id, JSON.stringify(doc), expectedVersion]));
        return version === 0 ? null : version;
      });
    },
    createDoc<T>(collection: string, id: string, doc: T) {
      return guard(async () => {
        const created = await CREATE_DOC.run(client, docKeys(collection), [id, JSON.stringify(doc)]);
        return created === 1;
      });
    },
    deleteDoc(collection, id) {
      return guard(async () => (await DELETE_DOC.run(client, docKeys(collection), [id])) === 1);
    },
    listDocs<T>(collection: string, options: ListOptions = {}) {
      return guard(async (): Promise<DocPage<T>> => {
        const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(options.limit ?? 100)));
        const start = options.cursor === undefined ? '-' : `(${options.cursor}`;
        const reply = await LIST_DOCS.run(client, docKeys(collection), [start, limit + 1]);
        const [ids, docs, versions] = Array.isArray(reply) ? (reply as [string[], Array<string | null>, Array<string | null>]) : [[], [], []];
        const items: DocPage<T>['items'] = [];
        for (const [i, id] of ids.slice(0, limit).entries()) {
          const json = docs[i];
          // Both structures change in one script, so a gap means someone else edited our keys.
          if (typeof json === 'string') items.push({ id, doc: JSON.parse(json) as T, version: Number(versions[i] ?? 1) });
        }
        return { items, next_cursor: ids.length > limit ? (ids[limit - 1] ?? null) : null };
      });
    },

    getCounter(key) {
      return guard(async () => Number((await client.get(counterKey(key))) ?? 0));
    },
    incrCounter(key, delta, ttl_ms) {
      return guard(async () => {
        checkInteger('delta', delta);
        if (ttl_ms === undefined || ttl_ms <= 0) return client.incrby(counterKey(key), delta);
        return Number(await INCR_WITH_TTL.run(client, [counterKey(key)], [delta, Math.ceil(ttl_ms)]));
      });
    },
    guardedIncrement(entries) {
      return guard(() => guardedOne(entries));
    },
    guardedIncrementBatch(batches) {
      // ioredis writes commands issued together back to back on one connection: one round trip.
      // A set with a bad number fails alone: the others of the batch belong to other requests.
      return guard(() =>
        Promise.all(
          batches.map((entries): Promise<GuardedIncrementBatchResult> | GuardedIncrementBatchResult => {
            const error = invalidIncrement(entries);
            return error ? { ok: false, error } : guardedOne(entries);
          }),
        ),
      );
    },

    setEntry(key, value, ttl_ms) {
      return guard(async () => {
        // A non-positive TTL means "already expired" (and PX rejects it).
        if (ttl_ms <= 0) await client.del(entryKey(key));
        else await client.set(entryKey(key), value, 'PX', Math.ceil(ttl_ms));
      });
    },
    getEntry(key) {
      return guard(async () => (await client.get(entryKey(key))) ?? undefined);
    },
    deleteEntry(key) {
      return guard(async () => (await client.del(entryKey(key))) === 1);
    },
    deleteEntriesByPrefix(entryPrefix) {
      return guard(async () => {
        const pattern = `${escapeGlob(entryKey(entryPrefix))}*`;
        let cursor = '0';
        let deleted = 0;
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
          cursor = next;
          // UNLINK frees memory off the main thread; SCAN may repeat a key, which UNLINK then counts as 0.
          if (keys.length > 0) deleted += await client.unlink(...keys);
        } while (cursor !== '0');
        return deleted;
      });
    },
    measureEntries(entryPrefix) {
      return guard(async () => {
        const full = entryKey(entryPrefix);
        const pattern = `${escapeGlob(full)}*`;
        const groups = new Map<string, EntryMeasure>();
        const seen = new Set<string>();
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
          cursor = next;
          // SCAN may return a key twice; a key that expired since the scan saw it is skipped.
          const fresh = keys.filter((k) => !seen.has(k));
          for (const k of fresh) seen.add(k);
          if (fresh.length === 0) continue;
          const pipeline = client.pipeline();
          for (const k of fresh) pipeline.exists(k).strlen(k);
          const replies = (await pipeline.exec()) ?? [];
          fresh.forEach((k, i) => {
            if (Number(replies[2 * i]?.[1] ?? 0) === 1) addToMeasure(groups, full, k, Number(replies[2 * i + 1]?.[1] ?? 0));
          });
        } while (cursor !== '0');
        return groups;
      });
    },

    publish(channel, message) {
      return guard(async () => {
        await client.publish(channelKey(channel), message);
      });
    },
    subscribe(channel, handler) {
      return guard(async () => {
        const unsubscribe = await fanout.add(channelKey(channel), handler);
        return () => guard(unsubscribe).catch((err: unknown) => {
          // After close the connection and its subscriptions are gone: nothing left to undo.
          if (closing) return;
          throw err;
        });
      });
    },

    async appendSpend(records) {
      const evicted = await guard(() => appendSpendRecords(client, rollups, records, spendMaxRows));
      if (evicted > 0) options.onSpendEvicted?.(evicted, spendMaxRows);
    },
    querySpend(query) {
      return guard(() => querySpendRecords(client, spendKey, query));
    },
    summarizeSpend(query) {
      return guard(() => summarizeSpendWith(query, summarySources));
    },
    deleteSpendBefore(time, limit) {
      return guard(async () => Number(await TRIM_SPEND_BEFORE.run(client, [spendKey], [time, Math.max(1, Math.floor(limit)), SPEND_FIELD])));
    },
    deleteSpendRollupsBefore(time, limit) {
      return guard(() => deleteRollupDaysBefore(client, rollups, dayStart(time), Math.max(1, Math.floor(limit))));
    },

    ...createRedisTransfer(client, { docKey, docKeys, counterKey, entryKey, rollups }, guard),

    ping() {
      return guard(async () => {
        await client.ping();
      });
    },
    close() {
      closing ??= (async () => {
        fanout.clear();
        await Promise.all(
          [client, subscriber].map(async (connection) => {
            try {
              await connection.quit();
            } catch {
              // Not connected right now: just stop the reconnect loop.
              connection.disconnect();
            }
          }),
        );
      })();
      return closing;
    },
  };
  return store;
}
