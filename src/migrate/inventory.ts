import type { CounterItem, EntryItem, ListOptions, ScanPage, Store } from '../storage/types.js';
import { PROGRESS_COLLECTION } from './progress.js';

const PAGE = 1_000;

/**
 * Expiring items (counters, entries) by when they expire, so two stores read at different
 * moments can be counted at one: an item that expired between the two reads counts on neither side.
 */
export interface Expiring {
  /** Items that never expire. */
  lasting: number;
  /** Epoch ms at which each other item expires. */
  expiries: number[];
}

/** What a store holds, by the measures `migrate` verifies. */
export interface Inventory {
  /** Documents per collection (without the migration's own progress documents). */
  documents: Map<string, number>;
  counters: Expiring;
  entries: Expiring;
  spendRows: number;
  /** Rollup rows (a day, key, team and model each) and the requests they count. */
  rollups: { rows: number; requests: number };
}

/** Items of `expiring` still live at `at`. */
export function liveAt(expiring: Expiring, at: number): number {
  return expiring.lasting + expiring.expiries.filter((expiry) => expiry > at).length;
}

/** The spend log's rollup rows and the requests they count, page by page. */
async function countRollups(store: Store): Promise<Inventory['rollups']> {
  const counted = { rows: 0, requests: 0 };
  let cursor: string | undefined;
  do {
    const page = await store.scanSpendRollups({ limit: PAGE, ...(cursor ? { cursor } : {}) });
    counted.rows += page.items.length;
    for (const row of page.items) counted.requests += row.requests;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return counted;
}

/** The documents of each collection but the progress one, page by page. */
export async function countDocuments(store: Store): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const collection of await store.listCollections()) {
    if (collection === PROGRESS_COLLECTION) continue;
    let n = 0;
    let cursor: string | undefined;
    do {
      const page = await store.listDocs(collection, { limit: PAGE, ...(cursor ? { cursor } : {}) });
      n += page.items.length;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    if (n > 0) counts.set(collection, n);
  }
  return counts;
}

/** Reads a whole scan, once per key (Redis's SCAN may repeat one), noting when each item expires. */
async function countExpiring<T extends CounterItem | EntryItem>(scan: (options: ListOptions) => Promise<ScanPage<T>>, now: () => number): Promise<Expiring> {
  const seen = new Set<string>();
  const counted: Expiring = { lasting: 0, expiries: [] };
  let cursor: string | undefined;
  do {
    const page = await scan({ limit: PAGE, ...(cursor ? { cursor } : {}) });
    const readAt = now();
    for (const item of page.items) {
      if (seen.has(item.key)) continue;
      seen.add(item.key);
      if (item.ttl_ms === null) counted.lasting += 1;
      else counted.expiries.push(readAt + item.ttl_ms);
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return counted;
}

/** Counts everything `migrate` copies. Reads every key and document once: for a migration, not for a running gateway. */
export async function takeInventory(store: Store, now: () => number): Promise<Inventory> {
  return {
    documents: await countDocuments(store),
    counters: await countExpiring((options) => store.scanCounters(options), now),
    entries: await countExpiring((options) => store.scanEntries(options), now),
    spendRows: await store.countSpend(),
    rollups: await countRollups(store),
  };
}
