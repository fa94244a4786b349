import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Store } from '../storage/types.js';

const DAY_MS = 86_400_000;
/** A pass an hour: rows leave within an hour of passing the retention age. */
const INTERVAL_MS = 3_600_000;
/** The first pass comes within this long after start, at a random point, so a fleet started together does not delete in step. */
const FIRST_PASS_WITHIN_MS = 60_000;
/** Rows per delete: on SQLite a delete runs on the main thread, so each stays a few milliseconds long. */
const BATCH = 1_000;
/** Pause between batches, so requests get the store (and, on SQLite, the event loop) in between. */
const PAUSE_MS = 10;

export interface SpendRetentionOptions {
  store: Store;
  log: Logger;
  /** Rows older than this many days are deleted; 0 keeps every row. */
  retentionDays: number;
  now: () => number;
}

/**
 * Deletes spend-log rows past `spend_log.retention_days` in the background: a pass an hour, in
 * small batches with pauses between them, so a first pass over years of rows never blocks requests.
 * Every instance of a fleet runs it; deleting the same old rows twice is harmless.
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
   * One pass: deletes every row older than the retention age, batch by batch, and resolves to how
   * many went. A failing store ends the pass with a warning; the next pass retries.
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

  private async pass(): Promise<number> {
    const { store, log, retentionDays, now } = this.options;
    if (retentionDays <= 0) return 0;
    const cutoff = now() - retentionDays * DAY_MS;
    let total = 0;
    try {
      for (;;) {
        const deleted = await store.deleteSpendBefore(cutoff, BATCH);
        total += deleted;
        if (deleted < BATCH || this.stopped) break;
        await sleep(PAUSE_MS);
      }
    } catch (err) {
      log.warn({ err, deleted: total }, 'spend log retention pass failed; the next pass retries');
      return total;
    }
    if (total > 0) log.info({ deleted: total, before: new Date(cutoff).toISOString(), retention_days: retentionDays }, 'spend log rows past retention deleted');
    return total;
  }
}
