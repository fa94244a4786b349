import type { Store, StoredDoc } from './types.js';

/** Every document of a collection, page by page (maintenance commands; never on a request path). */
export async function allDocs<T>(store: Store, collection: string): Promise<StoredDoc<T>[]> {
  const out: StoredDoc<T>[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listDocs<T>(collection, { limit: 500, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}
