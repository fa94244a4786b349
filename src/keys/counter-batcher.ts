import type { GuardedIncrement, GuardedIncrementResult, Store } from '../storage/types.js';

interface Pending {
  entries: GuardedIncrement[];
  resolve: (result: GuardedIncrementResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces the guarded increments requested during one turn of the event loop into one store
 * call (one SQLite transaction, one Redis round trip). Each keeps its own all-or-nothing
 * outcome, in arrival order, so results are what separate calls would have given; under load the
 * transaction's lock and commit, most of its cost, are shared by every request of the turn.
 */
export class CounterBatcher {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(private readonly store: Store) {}

  submit(entries: GuardedIncrement[]): Promise<GuardedIncrementResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after the poll phase, so every request read in this turn joins the batch.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    let results;
    try {
      results = await this.store.guardedIncrementBatch(batch.map((p) => p.entries));
    } catch (err) {
      // The store itself failed: nothing in the batch was applied, and every caller hears why.
      for (const p of batch) p.reject(err);
      return;
    }
    // Each set fails on its own: one request's bad numbers must not fail the others of its turn.
    batch.forEach((p, i) => {
      const result = results[i]!;
      if ('error' in result) p.reject(result.error);
      else p.resolve(result);
    });
  }
}
