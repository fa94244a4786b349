import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleTrimOptions {
  /** How often the event loop's utilisation is read. Each read is one timer wake-up. */
  checkMs: number;
  /** Quiet checks in a row, after a busy one, before the trim runs. */
  quietChecks: number;
  /** Utilisation (0-1) above which a check counts as busy. */
  busyUtilization: number;
  /** A full garbage collection; V8's own, exposed at first use, unless a test passes one. */
  gc?: () => void;
}

/** 10 s windows, trimmed after 20 s of quiet; busy = the loop ran more than 1 % of a window (100 ms). */
export const IDLE_TRIM: IdleTrimOptions = { checkMs: 10_000, quietChecks: 2, busyUtilization: 0.01 };

/**
 * Returns the memory a burst of load left behind, once the gateway is quiet again. V8 keeps what
 * load grew: the young generation at its cap and old-space pages holding garbage promoted from
 * in-flight requests, and an idle process runs no major GC to give them back. One full GC after
 * a quiet spell does, and because little was allocated since the previous GC, V8 also shrinks
 * the young generation in it (bench:memory: 120-124 MiB 3 s after load, 105-109 MiB 30 s after it,
 * against 97-101 MiB after start).
 *
 * At most one GC per busy-then-quiet transition: light traffic never counts as busy, so it
 * causes none (busy means the loop ran over 1 % of a window: some 70 requests a second), and
 * sustained traffic never counts as quiet. The GC blocks the loop for tens of milliseconds
 * (68-158 ms measured on a heavily loaded 2-core VM), at a moment when little has been asking for 20 s.
 */
export function startIdleTrim(options: IdleTrimOptions = IDLE_TRIM): { stop(): void } {
  let last = performance.eventLoopUtilization();
  let busy = false;
  let quiet = 0;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (utilization > options.busyUtilization) {
      busy = true;
      quiet = 0;
      return;
    }
    if (!busy || ++quiet < options.quietChecks) return;
    busy = false;
    (options.gc ?? exposedGc())();
  }, options.checkMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

let gc: (() => void) | null = null;

/** V8's gc(): --expose-gc set at run time reaches new contexts only, so one is made to fetch it. */
function exposedGc(): () => void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  return gc;
}
