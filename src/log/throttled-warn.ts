import type { Logger } from 'pino';

/**
 * A warning for failures that repeat while something is down (a background write retried every
 * half second): logged at once, then at most once per `intervalMs`, with how many occurred since.
 */
export function throttledWarn(log: Logger, intervalMs: number, message: string, now: () => number = Date.now): (err: unknown) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (err) => {
    if (now() - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now();
    log.warn({ err, ...(suppressed > 0 ? { repeated: suppressed } : {}) }, message);
    suppressed = 0;
  };
}
