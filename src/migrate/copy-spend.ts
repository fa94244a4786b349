import type { Store } from '../storage/types.js';
import { MigrateError, saveProgress, type MigrateProgress } from './progress.js';

export interface SpendCopy {
  source: Store;
  target: Store;
  /** Saved in the target after every page; changed in place. */
  progress: MigrateProgress;
  /** Told the rows copied so far after each page. */
  onPage?: (rows: number) => void;
}

/**
 * A run that stopped between appending a page and saving its progress (Ctrl-C, a crash, an
 * outage) left that page in the target: counting the target's rows tells whether it landed.
 * Any other count means something else wrote to the target's spend log, and copying on would
 * duplicate or lose rows.
 */
async function settleLastPage({ source, target, progress }: SpendCopy): Promise<void> {
  const spend = progress.spend;
  const present = await target.countSpend();
  const expected = spend.base_rows + spend.rows;
  if (present === expected) return;
  const page = await source.scanSpend({ limit: spend.page_size, ...(spend.cursor !== null ? { cursor: spend.cursor } : {}) });
  if (present !== expected + page.rows.length) {
    throw new MigrateError(
      `The target's spend log holds ${present} rows, where this migration left ${expected}${page.rows.length > 0 ? ` (or ${expected + page.rows.length})` : ''}: ` +
        'something else changed it since. Start over with an empty target.',
    );
  }
  spend.rows += page.rows.length;
  if (page.next_cursor === null) spend.done = true;
  else spend.cursor = page.next_cursor;
  await saveProgress(target, progress);
}

/**
 * Copies the spend log page by page, oldest first, in the source's own order, and saves the
 * position after each page, so memory holds one page whatever the log's size and a stopped run
 * resumes where it stopped. `resumed`: the progress was saved by an earlier run. Returns the
 * rows this run copied.
 */
export async function copySpend(copy: SpendCopy, resumed: boolean): Promise<number> {
  const { source, target, progress } = copy;
  const spend = progress.spend;
  if (resumed && !spend.done) await settleLastPage(copy);
  const before = spend.rows;
  while (!spend.done) {
    const page = await source.scanSpend({ limit: spend.page_size, ...(spend.cursor !== null ? { cursor: spend.cursor } : {}) });
    await target.importSpend(page.rows);
    spend.rows += page.rows.length;
    if (page.next_cursor === null) spend.done = true;
    else spend.cursor = page.next_cursor;
    await saveProgress(target, progress);
    copy.onPage?.(spend.rows);
  }
  return spend.rows - before;
}
