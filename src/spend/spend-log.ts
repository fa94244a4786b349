import type { Logger } from 'pino';
import type { Store } from '../storage/types.js';
import type { SpendRecord } from './spend-record.js';

export interface SpendLogOptions {
  flushIntervalMs: number;
  batchSize: number;
  /** Records kept while the store is failing; beyond this the oldest are dropped (and counted). */
  maxBuffer: number;
  onDrop?: (count: number) => void;
}

/**
 * Batches spend records off the request path. `record` is synchronous and never throws;
 * a timer or a full batch triggers a write; `close` writes what is left. The timer runs only
 * while records wait: an idle gateway is not woken every interval to find nothing to write.
 */
export class SpendLog {
  private buffer: SpendRecord[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly options: SpendLogOptions,
  ) {}

  record(rec: SpendRecord): void {
    this.buffer.push(rec);
    this.trim();
    if (this.closed) {
      // A request that ended after close() began (a stream cut at the end of the grace period).
      void this.flush();
      return;
    }
    if (this.buffer.length >= this.options.batchSize && !this.flushing) void this.flush();
    this.arm();
  }

  /** Schedules the next timed write unless one is scheduled or nothing waits (a failed write left records: it retries). */
  private arm(): void {
    if (this.timer || this.closed || this.buffer.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush().finally(() => this.arm());
    }, this.options.flushIntervalMs);
    this.timer.unref();
  }

  private trim(): void {
    if (this.buffer.length <= this.options.maxBuffer) return;
    const dropped = this.buffer.length - this.options.maxBuffer;
    this.buffer.splice(0, dropped);
    this.options.onDrop?.(dropped);
    this.log.error({ dropped }, 'spend log buffer full: oldest records dropped');
  }

  /** Writes everything buffered; resolves when done. Failures keep the records for the next try. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.length === 0) return;
    this.flushing = (async () => {
      while (this.buffer.length > 0) {
        // Taken out before the await: record() may trim the buffer while the write is under way.
        const batch = this.buffer.splice(0, this.options.batchSize);
        try {
          await this.store.appendSpend(batch);
        } catch (err) {
          this.buffer.unshift(...batch);
          this.trim();
          this.log.warn({ err, pending: this.buffer.length }, 'spend log write failed; will retry');
          return;
        }
      }
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  get pending(): number {
    return this.buffer.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // A flush already under way may have started before the last records arrived: flush again after it.
    await this.flush();
    await this.flush();
  }
}
