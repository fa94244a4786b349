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
 * a timer or a full batch triggers a write; `close` writes what is left.
 */
export class SpendLog {
  private buffer: SpendRecord[] = [];
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly options: SpendLogOptions,
  ) {
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  record(rec: SpendRecord): void {
    this.buffer.push(rec);
    this.trim();
    if (this.closed) {
      // A request that ended after close() began (a stream cut at the end of the grace period).
      void this.flush();
      return;
    }
    if (this.buffer.length >= this.options.batchSize && !this.flushing) void this.flush();
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
    clearInterval(this.timer);
    // A flush already under way may have started before the last records arrived: flush again after it.
    await this.flush();
    await this.flush();
  }
}
