import { fstatSync, writeSync } from 'node:fs';

/** Held lines past this size are dropped (and counted) rather than let a stalled reader grow the heap. */
const MAX_HELD_CHARS = 16 * 1024 * 1024;
/** How soon a write the reader was not ready for (EAGAIN) is tried again. */
const RETRY_MS = 10;
/** Linux's PIPE_BUF: a pipe write up to this size is never interleaved with another process's. */
const PIPE_ATOMIC_BYTES = 4096;

/**
 * A pino destination that writes the lines of one event-loop turn with one `write(2)` on the
 * main thread, after the turn's I/O callbacks (setImmediate). pino's default destination
 * (sonic-boom, asynchronous) hands each write to libuv's thread pool: with one request in
 * flight that was a thread hand-off, futex and eventfd wake-ups and an extra read per access
 * line (7 of the 36 system calls of a budgeted request, measured with strace).
 *
 * A file, /dev/null, a TTY or a blocking pipe is written synchronously, as `console.log`
 * writes them. Into a pipe, where the workers of `serve --workers N` may write at once, each
 * write ends at a line break and stays within PIPE_BUF so lines never interleave. A
 * non-blocking reader that is full (EAGAIN) keeps the lines for a later try instead of stalling
 * the process; past MAX_HELD_CHARS new lines are dropped and counted, and the count is logged
 * once the reader catches up.
 */
export class TurnBatchedDestination {
  private held = '';
  private scheduled = false;
  private retry: NodeJS.Timeout | null = null;
  private dropped = 0;
  private readonly pipe: boolean;
  private readonly flushSoon = () => {
    this.scheduled = false;
    this.flush();
  };

  constructor(private readonly fd: number) {
    let pipe = false;
    try {
      pipe = fstatSync(fd).isFIFO();
    } catch {
      // A closed descriptor: writes will fail and be dropped, as for a broken pipe.
    }
    this.pipe = pipe;
  }

  write(line: string): boolean {
    if (this.held.length > MAX_HELD_CHARS) {
      this.dropped++;
      return true;
    }
    this.held += line;
    if (!this.scheduled && this.retry === null) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
    return true;
  }

  /** Writes what is held now; also called on exit so that the last lines are not lost. */
  flush(): void {
    if (this.dropped > 0 && this.held.length < MAX_HELD_CHARS) {
      this.held += `${JSON.stringify({ level: 40, time: new Date().toISOString(), msg: `log output was not read fast enough: ${this.dropped} lines dropped` })}\n`;
      this.dropped = 0;
    }
    while (this.held.length > 0) {
      const piece = this.pipe ? atomicPiece(this.held) : this.held;
      const bytes = Buffer.from(piece);
      let written = 0;
      try {
        while (written < bytes.length) written += writeSync(this.fd, bytes, written);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          // Keep what the reader did not take; a partial line stays whole with its rest.
          this.held = bytes.subarray(written).toString() + this.held.slice(piece.length);
          this.retryLater();
          return;
        }
        // Anything else (a closed or broken output, EPIPE): the lines are lost, the gateway goes on.
        this.held = '';
        return;
      }
      this.held = this.held.slice(piece.length);
    }
  }

  private retryLater(): void {
    if (this.retry !== null) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.flush();
    }, RETRY_MS);
    // A reader that never drains must not keep a stopping gateway alive; exit flushes once more.
    this.retry.unref();
  }
}

/** The longest run of whole lines within PIPE_BUF (a longer single line goes alone). */
function atomicPiece(text: string): string {
  // Characters are at least one byte each: a text this short in characters may still be long in bytes.
  if (text.length <= PIPE_ATOMIC_BYTES / 4 || Buffer.byteLength(text) <= PIPE_ATOMIC_BYTES) return text;
  let end = text.lastIndexOf('\n', PIPE_ATOMIC_BYTES - 1);
  while (end > 0 && Buffer.byteLength(text.slice(0, end + 1)) > PIPE_ATOMIC_BYTES) end = text.lastIndexOf('\n', end - 1);
  if (end < 0) end = text.indexOf('\n');
  return end < 0 ? text : text.slice(0, end + 1);
}
