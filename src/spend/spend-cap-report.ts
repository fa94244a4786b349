import type { Logger } from 'pino';

/** At most one warning line this often; the counter still counts every row. */
const LOG_EVERY_MS = 60_000;

export interface SpendCapReportOptions {
  /** Adds rows to the metric (`smartflow_spend_log_evicted_total`). */
  count: (rows: number) => void;
  log: Logger;
  now: () => number;
}

/**
 * What the gateway does when its store reports spend-log rows removed to stay within its cap
 * (the Redis stream's `store.spend_log_max_rows`): every row is counted, and a warning goes to
 * the log at once, then at most once a minute. Each line carries every row removed since the
 * previous one, so the lines add up to the counter however many appends were held back.
 */
export function createSpendCapReport(options: SpendCapReportOptions): (rows: number, maxRows: number) => void {
  let lastLine = -Infinity;
  let unlogged = 0;
  return (rows, maxRows) => {
    options.count(rows);
    unlogged += rows;
    const now = options.now();
    if (now - lastLine < LOG_EVERY_MS) return;
    options.log.warn({ evicted: unlogged, max_rows: maxRows }, 'spend log at its cap (store.spend_log_max_rows): the oldest rows were removed');
    lastLine = now;
    unlogged = 0;
  };
}
