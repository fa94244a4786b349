import type { Store } from '../storage/types.js';
import { PROGRESS_COLLECTION } from './progress.js';

const PAGE = 500;

/**
 * Copies every document of every collection (but the migration's own progress documents),
 * with its version, so ETags and compare-and-set writers carry over. Idempotent: a resumed run
 * writes the same documents again. Returns how many documents each collection held.
 */
export async function copyDocuments(source: Store, target: Store): Promise<Map<string, number>> {
  const copied = new Map<string, number>();
  for (const collection of await source.listCollections()) {
    if (collection === PROGRESS_COLLECTION) continue;
    let n = 0;
    let cursor: string | undefined;
    do {
      const page = await source.listDocs(collection, { limit: PAGE, ...(cursor ? { cursor } : {}) });
      // One page in flight at a time bounds memory; its writes go together (a pool, a pipeline).
      await Promise.all(page.items.map((item) => target.importDoc(collection, item.id, item.doc, item.version)));
      n += page.items.length;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    copied.set(collection, n);
  }
  return copied;
}
