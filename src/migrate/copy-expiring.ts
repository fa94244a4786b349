import type { CounterItem, EntryItem, ListOptions, ScanPage, Store } from '../storage/types.js';

const PAGE = 1_000;

/**
 * Walks a scan and writes each live item with the time it has left at the moment of the write
 * (measured from when its page was read, so the copy never outlives the original); an item that
 * expired meanwhile is skipped. Idempotent. Returns how many distinct keys were written.
 */
async function copyExpiring<T extends CounterItem | EntryItem>(
  scan: (options: ListOptions) => Promise<ScanPage<T>>,
  write: (item: T) => Promise<void>,
  now: () => number,
): Promise<number> {
  const written = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await scan({ limit: PAGE, ...(cursor ? { cursor } : {}) });
    const readAt = now();
    await Promise.all(
      page.items.map(async (item) => {
        const left = item.ttl_ms === null ? null : readAt + item.ttl_ms - now();
        if (left !== null && left <= 0) return;
        written.add(item.key);
        await write(left === null ? item : { ...item, ttl_ms: left });
      }),
    );
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return written.size;
}

/** Copies every live counter (budget spend and reservations, rate windows) with its value and the time it has left. */
export function copyCounters(source: Store, target: Store, now: () => number): Promise<number> {
  return copyExpiring((options) => source.scanCounters(options), (item) => target.importCounter(item), now);
}

/** Copies every live entry (OAuth state, tokens, sessions, locks, the response cache) with the time it has left. */
export function copyEntries(source: Store, target: Store, now: () => number): Promise<number> {
  return copyExpiring((options) => source.scanEntries(options), (item) => target.setEntry(item.key, item.value, item.ttl_ms), now);
}
