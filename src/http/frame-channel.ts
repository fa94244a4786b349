import { GatewayError } from '../errors/gateway-error.js';

/** Frames queued before the producer waits for the client to catch up. */
const HIGH_WATER = 64;

/**
 * A stream of SSE frames written by one producer (the tool loop, across several LLM steps and
 * tool calls) and read by the response writer. `push` waits while the reader is behind, and
 * throws once the reader has gone, which stops the producer.
 */
export class FrameChannel implements AsyncIterableIterator<string> {
  private readonly queue: string[] = [];
  private wakeReader: (() => void) | null = null;
  private wakeWriter: (() => void) | null = null;
  private ended = false;
  private error: unknown = undefined;
  private gone = false;

  async push(frame: string): Promise<void> {
    if (this.gone) throw new GatewayError('SF_ERR_CLIENT_CLOSED');
    this.queue.push(frame);
    this.wake();
    if (this.queue.length >= HIGH_WATER) await new Promise<void>((resolve) => (this.wakeWriter = resolve));
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  fail(err: unknown): void {
    this.error = err;
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = null;
    wake?.();
  }

  async next(): Promise<IteratorResult<string>> {
    for (;;) {
      const frame = this.queue.shift();
      if (frame !== undefined) {
        if (this.queue.length < HIGH_WATER) this.release();
        return { done: false, value: frame };
      }
      if (this.error !== undefined) {
        const err = this.error;
        this.error = undefined;
        throw err;
      }
      if (this.ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
  }

  async return(): Promise<IteratorResult<string>> {
    this.gone = true;
    this.release();
    return { done: true, value: undefined };
  }

  private release(): void {
    const wake = this.wakeWriter;
    this.wakeWriter = null;
    wake?.();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<string> {
    return this;
  }
}
