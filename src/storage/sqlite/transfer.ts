import type BetterSqlite3 from 'better-sqlite3';
import type { SpendRecord } from '../../spend/spend-record.js';
import { rollUp, type SpendRollupRow } from '../../spend/spend-rollup.js';
import { checkCounterValue, checkRollupRow, checkVersion, decodeRollupCursor, scanLimit, type TransferMethods } from '../transfer.js';
import type { CounterItem, EntryItem, ScanPage } from '../types.js';
import type { SqliteRollups } from './spend-rollup-sql.js';
import { createSpendScanner, INSERT_SPEND_SQL, spendParams } from './spend-sql.js';

/** Runs a synchronous database call as the store's promise (the store's own wrapper: closed checks, error mapping). */
type Call = <T>(fn: () => T) => Promise<T>;

interface CounterRow {
  key: string;
  value: number;
  expires_at: number | null;
}

interface EntryRow {
  key: string;
  value: string;
  expires_at: number;
}

/** One keyset page over a key-ordered table, read with one row more than `limit` to learn whether more follow. */
function keyPage<R extends { key: string }>(rows: R[], limit: number): { rows: R[]; next_cursor: string | null } {
  const more = rows.length > limit;
  if (more) rows.length = limit;
  return { rows, next_cursor: more ? (rows[rows.length - 1]?.key ?? null) : null };
}

/** Store.listCollections, importDoc, scanCounters, importCounter, scanEntries and the spend log's and rollups' scans and imports on SQLite. */
export function createSqliteTransfer(db: BetterSqlite3.Database, now: () => number, call: Call, rollups: SqliteRollups): TransferMethods {
  const q = {
    collections: db.prepare<[], { collection: string }>('SELECT DISTINCT collection FROM docs ORDER BY collection'),
    importDoc: db.prepare<[string, string, string, number]>(
      'INSERT INTO docs (collection, id, doc, version) VALUES (?, ?, ?, ?) ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc, version = excluded.version',
    ),
    counters: db.prepare<[number, number], CounterRow>('SELECT key, value, expires_at FROM counters WHERE (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?'),
    countersAfter: db.prepare<[string, number, number], CounterRow>(
      'SELECT key, value, expires_at FROM counters WHERE key > ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?',
    ),
    importCounter: db.prepare<[string, number, number | null]>(
      'INSERT INTO counters (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
    ),
    deleteCounter: db.prepare<[string]>('DELETE FROM counters WHERE key = ?'),
    entries: db.prepare<[number, number], EntryRow>('SELECT key, value, expires_at FROM entries WHERE expires_at > ? ORDER BY key LIMIT ?'),
    entriesAfter: db.prepare<[string, number, number], EntryRow>('SELECT key, value, expires_at FROM entries WHERE key > ? AND expires_at > ? ORDER BY key LIMIT ?'),
    insertSpend: db.prepare<Array<string | number | null>>(INSERT_SPEND_SQL),
    countSpend: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM spend_log'),
  };
  const scanSpend = createSpendScanner(db);
  const importSpend = db.transaction((records: SpendRecord[]) => {
    for (const record of records) q.insertSpend.run(...spendParams(record));
    rollups.add(rollUp(records));
  });
  const importRollups = db.transaction((rows: SpendRollupRow[]) => rollups.replace(rows));

  return {
    listCollections() {
      return call(() => q.collections.all().map((row) => row.collection));
    },
    importDoc(collection, id, doc, version) {
      return call(() => {
        checkVersion(version);
        q.importDoc.run(collection, id, JSON.stringify(doc), version);
      });
    },
    scanCounters(options = {}) {
      return call((): ScanPage<CounterItem> => {
        const limit = scanLimit(options.limit);
        const at = now();
        const page = keyPage(options.cursor === undefined ? q.counters.all(at, limit + 1) : q.countersAfter.all(options.cursor, at, limit + 1), limit);
        return {
          items: page.rows.map((row) => ({ key: row.key, value: row.value, ttl_ms: row.expires_at === null ? null : row.expires_at - at })),
          next_cursor: page.next_cursor,
        };
      });
    },
    importCounter({ key, value, ttl_ms }) {
      return call(() => {
        checkCounterValue(value);
        // A non-positive TTL means "already expired", as for setEntry.
        if (ttl_ms !== null && ttl_ms <= 0) q.deleteCounter.run(key);
        else q.importCounter.run(key, value, ttl_ms === null ? null : now() + Math.ceil(ttl_ms));
      });
    },
    scanEntries(options = {}) {
      return call((): ScanPage<EntryItem> => {
        const limit = scanLimit(options.limit);
        const at = now();
        const page = keyPage(options.cursor === undefined ? q.entries.all(at, limit + 1) : q.entriesAfter.all(options.cursor, at, limit + 1), limit);
        return { items: page.rows.map((row) => ({ key: row.key, value: row.value, ttl_ms: row.expires_at - at })), next_cursor: page.next_cursor };
      });
    },
    scanSpend(options = {}) {
      return call(() => scanSpend(options.cursor, scanLimit(options.limit)));
    },
    importSpend(records) {
      return call(() => {
        if (records.length > 0) importSpend(records);
      });
    },
    countSpend() {
      return call(() => q.countSpend.get()?.n ?? 0);
    },
    scanSpendRollups(options = {}) {
      return call(() => rollups.scan(decodeRollupCursor(options.cursor), scanLimit(options.limit)));
    },
    importSpendRollups(rows) {
      return call(() => {
        rows.forEach(checkRollupRow);
        if (rows.length > 0) importRollups(rows);
      });
    },
  };
}
