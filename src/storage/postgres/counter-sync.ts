import type { Pool } from 'pg';
import { wireSet } from './guarded-wire.js';

/**
 * PostgreSQL's half of the layered store's budget counters (storage/layered/): flushes of the
 * changes each gateway made in Redis, and the snapshot a rebuilt Redis starts from. The two
 * exclude each other through one advisory lock (flushes share it, a snapshot takes it alone), so
 * every flush is either inside a snapshot or sees the epoch that snapshot started.
 */
const EPOCH_LOCK = "hashtextextended(current_schema() || ':counter-epoch', 0)";

/** A change to one counter, as sf_guarded_increments reads it (no limit: a flush never refuses). */
export interface CounterDelta {
  key: string;
  delta: number;
  ttlMs: number | undefined;
}

/**
 * Applies one flush unless a flush with this id was applied before (a retry after a lost reply),
 * and returns the current epoch, read under the same lock.
 */
export async function applyCounterFlush(pool: Pool, flushId: string, deltas: CounterDelta[], now: number): Promise<{ epoch: string | null }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query(`SELECT pg_advisory_xact_lock_shared(${EPOCH_LOCK})`);
      const fresh = await client.query('INSERT INTO counter_flushes (id, applied_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [flushId, now]);
      if (fresh.rowCount === 1 && deltas.length > 0) {
        const set = wireSet(deltas.map((d) => ({ key: d.key, delta: d.delta, ...(d.ttlMs !== undefined ? { ttl_ms: d.ttlMs } : {}) })));
        await client.query('SELECT sf_guarded_increments($1::jsonb, $2)', [JSON.stringify([set]), now]);
      }
      const { rows } = await client.query<{ epoch: string }>('SELECT epoch FROM counter_epochs ORDER BY seq DESC LIMIT 1');
      await client.query('COMMIT');
      return { epoch: rows[0]?.epoch ?? null };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    client.release();
  }
}

/** Starts `epoch` and returns every live counter as it stands with no flush under way. */
export async function startCounterEpoch(pool: Pool, epoch: string, now: number): Promise<Array<{ key: string; value: number; ttlMs: number | undefined }>> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query(`SELECT pg_advisory_xact_lock(${EPOCH_LOCK})`);
      await client.query('INSERT INTO counter_epochs (epoch, created_at) VALUES ($1, $2)', [epoch, now]);
      const { rows } = await client.query<{ key: string; value: number; expires_at: number | null }>(
        'SELECT key, value, expires_at FROM counters WHERE expires_at IS NULL OR expires_at > $1',
        [now],
      );
      await client.query('COMMIT');
      return rows.map((r) => ({ key: r.key, value: r.value, ttlMs: r.expires_at === null ? undefined : r.expires_at - now }));
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    client.release();
  }
}

/** Forgets flush ids older than `before`: a retry comes within seconds, not a day. */
export async function forgetCounterFlushes(pool: Pool, before: number): Promise<void> {
  await pool.query('DELETE FROM counter_flushes WHERE applied_at < $1', [before]);
}
