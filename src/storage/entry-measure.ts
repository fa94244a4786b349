import type { EntryMeasure } from './types.js';

/** Adds one entry to its group for Store.measureEntries (both backends group the same way). */
export function addToMeasure(groups: Map<string, EntryMeasure>, prefix: string, key: string, bytes: number): void {
  const rest = key.slice(prefix.length);
  const colon = rest.indexOf(':');
  const group = colon === -1 ? rest : rest.slice(0, colon);
  const m = groups.get(group);
  if (m) {
    m.entries++;
    m.bytes += bytes;
  } else groups.set(group, { entries: 1, bytes });
}
