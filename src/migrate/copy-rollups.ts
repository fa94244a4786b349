import type { Store } from '../storage/types.js';

const PAGE = 1_000;

/**
 * Copies the spend log's daily rollups, page by page of whole days, after the raw rows: each
 * replaces the one importSpend built in the target from the copied rows, so days whose raw rows
 * the source had already deleted (retention) keep their totals. Idempotent, so a resumed run
 * simply copies them all again. Returns how many rollup rows were copied.
 */
export async function copySpendRollups(source: Store, target: Store): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await source.scanSpendRollups({ limit: PAGE, ...(cursor ? { cursor } : {}) });
    await target.importSpendRollups(page.items);
    n += page.items.length;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return n;
}
