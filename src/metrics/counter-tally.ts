import type { Counter } from 'prom-client';

interface Pending<L extends string> {
  labels: Record<L, string>;
  value: number;
}

/**
 * Counter increments gathered in plain numbers and handed to prom-client when the counter is
 * read (its `collect`, which every scrape and `get()` runs first). prom-client sorts and joins
 * the label names and values into a hash on every `inc`; the request path made four such calls
 * per request. Here a request adds to an entry found by a key the caller builds cheaply, and
 * prom-client sees one `inc` per label set per scrape. What a scrape shows is unchanged.
 */
export class CounterTally<L extends string> {
  private pending = new Map<string, Pending<L>>();

  /** `key` must identify `labels` exactly (the caller joins the label values); `labels` is only called the first time a key is seen since the last scrape. */
  add(key: string, labels: () => Record<L, string>, value: number): void {
    const entry = this.pending.get(key);
    if (entry) entry.value += value;
    else this.pending.set(key, { labels: labels(), value });
  }

  /** Moves everything gathered into `counter`; for its `collect`. */
  fold(counter: Counter<L>): void {
    if (this.pending.size === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    for (const { labels, value } of pending.values()) counter.inc(labels, value);
  }
}
