import type pg from 'pg';
import { checkCounterValue, checkRollupRow, checkVersion, decodeRollupCursor, scanLimit, type TransferMethods } from '../transfer.js';
import type { CounterItem, EntryItem, ScanPage } from '../types.js';
import { replaceRollups, scanRollupDays } from './spend-rollup-sql.js';
import { importSpendRows, scanSpendRows } from './spend-sql.js';

/** Runs a database call as the store runs its own: failures become GatewayErrors with redacted details. */
type Run = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * One keyset page of `table` (counters or entries) in key order: live rows after `cursor`, read
 * with one row more than `limit` to learn whether more follow. Keys are COLLATE "C", so the order
 * and the `>` agree with SQLite's and with each other.
 */
async function keyPage<R extends { key: string; expires_at: number | null }>(
  pool: pg.Pool,
  table: 'counters' | 'entries',
  at: number,
  options: { cursor?: string; limit?: number },
): Promise<{ rows: R[]; next_cursor: string | null }> {
  const limit = scanLimit(options.limit);
  const after = options.cursor === undefined ? '' : ' AND key > $3';
  const { rows } = await pool.query<R>(
    `SELECT key, value, expires_at FROM ${table} WHERE (expires_at IS NULL OR expires_at > $1)${after} ORDER BY key LIMIT $2`,
    options.cursor === undefined ? [at, limit + 1] : [at, limit + 1, options.cursor],
  );
  const more = rows.length > limit;
  if (more) rows.length = limit;
  return { rows, next_cursor: more ? (rows[rows.length - 1]?.key ?? null) : null };
}

/** Store.listCollections, importDoc, scanCounters, importCounter, scanEntries and the spend log's and rollups' scans and imports on PostgreSQL. */
export function createPostgresTransfer(pool: pg.Pool, now: () => number, run: Run): TransferMethods {
  return {
    listCollections() {
      return run(async () => (await pool.query<{ collection: string }>('SELECT DISTINCT collection FROM docs ORDER BY collection')).rows.map((row) => row.collection));
    },
    async importDoc(collection, id, doc, version) {
      checkVersion(version);
      await run(async () => {
        await pool.query(
          'INSERT INTO docs (collection, id, doc, version) VALUES ($1, $2, $3, $4) ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc, version = excluded.version',
          [collection, id, JSON.stringify(doc), version],
        );
      });
    },
    scanCounters(options = {}) {
      return run(async (): Promise<ScanPage<CounterItem>> => {
        const at = now();
        const page = await keyPage<{ key: string; value: number; expires_at: number | null }>(pool, 'counters', at, options);
        return { items: page.rows.map((row) => ({ key: row.key, value: row.value, ttl_ms: row.expires_at === null ? null : row.expires_at - at })), next_cursor: page.next_cursor };
      });
    },
    async importCounter({ key, value, ttl_ms }) {
      checkCounterValue(value);
      await run(async () => {
        // Every other write to a counter holds its advisory lock (sf_guarded_increments): so does
        // this one, taken in the same statement, so it can never land inside a guarded increment.
        const lock = "WITH lock AS (SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':counter:' || $1::text, 0)))";
        // A non-positive TTL means "already expired", as for setEntry.
        if (ttl_ms !== null && ttl_ms <= 0) await pool.query(`${lock} DELETE FROM counters WHERE key = $1::text AND EXISTS (SELECT 1 FROM lock)`, [key]);
        else
          await pool.query(
            `${lock} INSERT INTO counters (key, value, expires_at) SELECT $1::text, $2::int8, $3::int8 FROM lock ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
            [key, value, ttl_ms === null ? null : now() + Math.ceil(ttl_ms)],
          );
      });
    },
    scanEntries(options = {}) {
      return run(async (): Promise<ScanPage<EntryItem>> => {
        const at = now();
        const page = await keyPage<{ key: string; value: string; expires_at: number }>(pool, 'entries', at, options);
        return { items: page.rows.map((row) => ({ key: row.key, value: row.value, ttl_ms: row.expires_at - at })), next_cursor: page.next_cursor };
      });
    },
    scanSpend(options = {}) {
      return run(() => scanSpendRows(pool, options.cursor, scanLimit(options.limit)));
    },
    importSpend(records) {
      return run(() => importSpendRows(pool, records));
    },
    countSpend() {
      return run(async () => (await pool.query<{ n: number }>('SELECT COUNT(*) AS n FROM spend_log')).rows[0]?.n ?? 0);
    },
    scanSpendRollups(options = {}) {
      return run(() => scanRollupDays(pool, decodeRollupCursor(options.cursor), scanLimit(options.limit)));
    },
    async importSpendRollups(rows) {
      rows.forEach(checkRollupRow);
      await run(() => replaceRollups(pool, rows));
    },
  };
}
