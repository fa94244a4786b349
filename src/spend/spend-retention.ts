import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Store } from '../storage/types.js';
import { DAY_MS } from './spend-rollup.js';

/** A pass an hour: rows leave within an hour of passing the retention age. */
const INTERVAL_MS = 3_600_000;
/** The first pass comes within this long after start, at a random point, so a fleet started together does not delete in step. */
const FIRST_PASS_WITHIN_MS = 60_000;
/** Rows per delete: on SQLite a delete runs on the main thread, so each stays a few milliseconds long. */
const BATCH = 1_000;
/** Days of rollups per delete: a day holds a row per key, team and model in use that day. */
const ROLLUP_BATCH_DAYS = 10;
/** Pause between batches, so requests get the store (and, on SQLite, the event loop) in between. */
const PAUSE_MS = 10;

export interface SpendRetentionOptions {
  store: Store;
  log: Logger;
  /** Rows older than this many days are deleted; 0 keeps every row (and then every rollup too). */
  retentionDays: number;
  /**
   * Daily rollups of days that ended more than this many days ago are deleted; 0 keeps them.
   * At least `retentionDays` (the config schema checks it): summaries read whole days from the
   * rollups alone, so they must outlive the raw rows.
   */
  rollupRetentionDays: number;
  now: () => number;
}

/**
 * Deletes spend-log rows past `spend_log.retention_days`, then daily rollups past
 * `spend_log.rollup_retention_days`, in the background: a pass an hour, in small batches with
 * pauses between them, so a first pass over years of rows never blocks requests. Every instance
 * of a fleet runs it; deleting the same old rows twice is harmless.
 */
export class SpendRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(private readonly options: SpendRetentionOptions) {}

  /** Schedules the passes (none when retention is off). */
  start(): this {
    if (this.options.retentionDays > 0) this.schedule(Math.floor(Math.random() * FIRST_PASS_WITHIN_MS));
    return this;
  }

  /**
   * One pass: deletes every row older than the retention age, then the rollups older than theirs,
   * batch by batch, and resolves to how many rows went. A failing store ends the pass with a
   * warning; the next pass retries.
   */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce().finally(() => this.schedule(INTERVAL_MS));
    }, delayMs);
    // Retention must never keep the process alive on its own.
    this.timer.unref();
  }

  /**
   * Calls `remove` until it deletes fewer than `batch`, pausing between calls, and counts into
   * `deleted` as it goes, so a pass that fails part-way can still say how much went.
   */
  private async drain(remove: (limit: number) => Promise<number>, batch: number, deleted: { n: number }): Promise<void> {
    for (;;) {
      const n = await remove(batch);
      deleted.n += n;
      if (n < batch || this.stopped) return;
      await sleep(PAUSE_MS);
    }
  }

  private async pass(): Promise<number> {
    const { store, log, retentionDays, rollupRetentionDays, now } = this.options;
    if (retentionDays <= 0) return 0;
    const at = now();
    const cutoff = at - retentionDays * DAY_MS;
    const rows = { n: 0 };
    try {
      await this.drain((limit) => store.deleteSpendBefore(cutoff, limit), BATCH, rows);
    } catch (err) {
      // The rollups wait too: they must never go before the raw rows of their days.
      log.warn({ err, deleted: rows.n }, 'spend log retention pass failed; the next pass retries');
      return rows.n;
    }
    if (rows.n > 0) log.info({ deleted: rows.n, before: new Date(cutoff).toISOString(), retention_days: retentionDays }, 'spend log rows past retention deleted');
    if (rollupRetentionDays <= 0 || this.stopped) return rows.n;
    const rollupCutoff = at - rollupRetentionDays * DAY_MS;
    const days = { n: 0 };
    try {
      await this.drain((limit) => store.deleteSpendRollupsBefore(rollupCutoff, limit), ROLLUP_BATCH_DAYS, days);
    } catch (err) {
      log.warn({ err, days: days.n }, 'spend rollup retention failed; the next pass retries');
    }
    if (days.n > 0) log.info({ days: days.n, before: new Date(rollupCutoff).toISOString(), rollup_retention_days: rollupRetentionDays }, 'spend rollups past retention deleted');
    return rows.n;
  }
}
