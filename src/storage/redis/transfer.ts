import type { Redis } from 'ioredis';
import { GatewayError } from '../../errors/gateway-error.js';
import type { SpendRecord } from '../../spend/spend-record.js';
import { rollUp } from '../../spend/spend-rollup.js';
import { checkCounterValue, checkRollupRow, checkVersion, decodeRollupCursor, scanLimit, type TransferMethods } from '../transfer.js';
import type { CounterItem, EntryItem, ListOptions } from '../types.js';
import { escapeGlob } from './glob.js';
import { LuaScript } from './lua.js';
import { IMPORT_SPEND, WRITE_ROLLUPS } from './spend-rollup-lua.js';
import { rollupArgs, scanRollupDays, type RollupLayout } from './spend-rollups.js';
import { FIELD, recordOf } from './spend-stream.js';

/** Slots SCAN walks per round trip (COUNT is how far it looks, not how many keys it returns). */
const SCAN_COUNT = 1_000;
const SCAN_CURSOR = /^\d+$/;
const STREAM_ID = /^\d+-\d+$/;

/*
 * The scripts below and the spend imports (spend-rollup-lua.ts) run only during a migration, so
 * they are not among the scripts loaded at connect; the first call sends their text.
 */

/** KEYS: docs, id index, versions. ARGV: id, json, version. Writes the document with this version. */
const IMPORT_DOC = new LuaScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1`);

/** Where the store keeps things (redis-store.ts owns the layout). */
export interface RedisLayout {
  docKey(collection: string): string;
  /** The documents hash, the id index and the versions hash of a collection. */
  docKeys(collection: string): string[];
  counterKey(key: string): string;
  entryKey(key: string): string;
  /** The spend stream and its rollups. */
  rollups: RollupLayout;
}

function invalidCursor(): GatewayError {
  return new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The cursor is not valid.', param: 'cursor' });
}

/**
 * Keys matching `pattern` from SCAN, until about `limit` were found or the scan ended. SCAN holds
 * every key that existed for the whole scan at least once, and may repeat one.
 */
export async function scanKeys(client: Redis, pattern: string, options: ListOptions): Promise<{ keys: string[]; next_cursor: string | null }> {
  let cursor = options.cursor ?? '0';
  if (!SCAN_CURSOR.test(cursor)) throw invalidCursor();
  const limit = scanLimit(options.limit);
  const keys: string[] = [];
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0' && keys.length < limit);
  return { keys, next_cursor: cursor === '0' ? null : cursor };
}

/** The value and remaining time (PTTL: -1 for none) of each key still there and holding a string. */
export async function readStrings(client: Redis, keys: string[]): Promise<Array<{ key: string; value: string; pttl: number }>> {
  if (keys.length === 0) return [];
  const pipeline = client.pipeline();
  for (const key of keys) pipeline.get(key).pttl(key);
  const replies = (await pipeline.exec()) ?? [];
  const out: Array<{ key: string; value: string; pttl: number }> = [];
  keys.forEach((key, i) => {
    const [getErr, value] = replies[2 * i] ?? [];
    const [, pttl] = replies[2 * i + 1] ?? [];
    // Gone since SCAN saw it (-2, null), or not a string: not ours to copy.
    if (getErr || typeof value !== 'string' || typeof pttl !== 'number' || pttl === -2) return;
    out.push({ key, value, pttl });
  });
  return out;
}

/** Byte order, as the SQL stores sort text. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Store.listCollections, importDoc, scanCounters, importCounter, scanEntries and the spend log's and rollups' scans and imports on Redis. */
export function createRedisTransfer(client: Redis, layout: RedisLayout, guard: <T>(fn: () => Promise<T>) => Promise<T>): TransferMethods {
  const docPrefix = layout.docKey('');
  const counterPrefix = layout.counterKey('');
  const entryPrefix = layout.entryKey('');
  const { spendKey } = layout.rollups;

  return {
    listCollections() {
      return guard(async () => {
        const names = new Set<string>();
        let cursor: string | undefined;
        do {
          const page = await scanKeys(client, `${escapeGlob(docPrefix)}*`, { limit: SCAN_COUNT, ...(cursor ? { cursor } : {}) });
          for (const key of page.keys) names.add(key.slice(docPrefix.length));
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
        // Redis deletes a hash with its last field, so every name found holds a document.
        return [...names].sort(byteOrder);
      });
    },
    async importDoc(collection, id, doc, version) {
      checkVersion(version);
      await guard(async () => {
        await IMPORT_DOC.run(client, layout.docKeys(collection), [id, JSON.stringify(doc), version]);
      });
    },
    scanCounters(options = {}) {
      return guard(async () => {
        const page = await scanKeys(client, `${escapeGlob(counterPrefix)}*`, options);
        const items: CounterItem[] = [];
        for (const { key, value, pttl } of await readStrings(client, page.keys)) {
          const n = Number(value);
          if (Number.isSafeInteger(n)) items.push({ key: key.slice(counterPrefix.length), value: n, ttl_ms: pttl === -1 ? null : pttl });
        }
        return { items, next_cursor: page.next_cursor };
      });
    },
    async importCounter({ key, value, ttl_ms }) {
      checkCounterValue(value);
      await guard(async () => {
        // SET without PX also clears a TTL the target's counter had; a non-positive TTL means "already expired".
        if (ttl_ms === null) await client.set(layout.counterKey(key), value);
        else if (ttl_ms <= 0) await client.del(layout.counterKey(key));
        else await client.set(layout.counterKey(key), value, 'PX', Math.ceil(ttl_ms));
      });
    },
    scanEntries(options = {}) {
      return guard(async () => {
        const page = await scanKeys(client, `${escapeGlob(entryPrefix)}*`, options);
        const items: EntryItem[] = [];
        // The store writes every entry with an expiry; a key without one is someone else's.
        for (const { key, value, pttl } of await readStrings(client, page.keys)) if (pttl >= 0) items.push({ key: key.slice(entryPrefix.length), value, ttl_ms: pttl });
        return { items, next_cursor: page.next_cursor };
      });
    },
    scanSpend(options = {}) {
      return guard(async () => {
        if (options.cursor !== undefined && !STREAM_ID.test(options.cursor)) throw invalidCursor();
        const limit = scanLimit(options.limit);
        const batch = await client.xrange(spendKey, options.cursor === undefined ? '-' : `(${options.cursor}`, '+', 'COUNT', limit);
        const rows: SpendRecord[] = [];
        for (const [, fields] of batch) {
          const record = recordOf(fields);
          if (record) rows.push(record);
        }
        return { rows, next_cursor: batch.length < limit ? null : (batch[batch.length - 1]?.[0] ?? null) };
      });
    },
    importSpend(records) {
      return guard(async () => {
        if (records.length === 0) return;
        const args: string[] = [FIELD, String(records.length)];
        for (const record of records) args.push(String(Math.max(0, Math.floor(record.time))), JSON.stringify(record));
        const rollups = rollupArgs(layout.rollups, rollUp(records), 'add');
        await IMPORT_SPEND.run(client, [spendKey, layout.rollups.markKey, ...rollups.keys], [...args, ...rollups.args]);
      });
    },
    countSpend() {
      return guard(() => client.xlen(spendKey));
    },
    scanSpendRollups(options = {}) {
      return guard(() => scanRollupDays(client, layout.rollups, decodeRollupCursor(options.cursor), scanLimit(options.limit)));
    },
    async importSpendRollups(rows) {
      rows.forEach(checkRollupRow);
      if (rows.length === 0) return;
      const { keys, args } = rollupArgs(layout.rollups, rows, 'set');
      await guard(() => WRITE_ROLLUPS.run(client, keys, args));
    },
  };
}
