import { liveAt, type Inventory } from './inventory.js';

/** One line of the count check: what was counted, on the source and (unless a dry run) on the target. */
export interface CountRow {
  what: string;
  source: number;
  target?: number;
}

/**
 * The rows of the count check: documents per collection (every collection either side holds),
 * counters and entries live at `at` (so an item expiring between the two reads counts on
 * neither side), spend rows, and the rollups (rows, and the requests they count).
 */
export function countRows(source: Inventory, target: Inventory | undefined, at: number): CountRow[] {
  const collections = [...new Set([...source.documents.keys(), ...(target?.documents.keys() ?? [])])].sort();
  const row = (what: string, s: number, t: number | undefined): CountRow => (t === undefined ? { what, source: s } : { what, source: s, target: t });
  return [
    ...collections.map((c) => row(`documents ${c}`, source.documents.get(c) ?? 0, target ? (target.documents.get(c) ?? 0) : undefined)),
    row('counters', liveAt(source.counters, at), target ? liveAt(target.counters, at) : undefined),
    row('entries', liveAt(source.entries, at), target ? liveAt(target.entries, at) : undefined),
    row('spend rows', source.spendRows, target?.spendRows),
    row('spend rollups', source.rollups.rows, target?.rollups.rows),
    row('spend rollup requests', source.rollups.requests, target?.rollups.requests),
  ];
}

/** Rows whose target count differs from the source's. */
export function mismatches(rows: CountRow[]): CountRow[] {
  return rows.filter((r) => r.target !== undefined && r.target !== r.source);
}

/** The rows as an aligned text table; a row that differs is marked with `<- differs`. */
export function formatCountTable(rows: CountRow[]): string {
  const withTarget = rows.some((r) => r.target !== undefined);
  const header = withTarget ? ['', 'source', 'target'] : ['', 'source'];
  const cells = rows.map((r) => (withTarget ? [r.what, String(r.source), String(r.target ?? '')] : [r.what, String(r.source)]));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(header), ...cells.map((c, i) => `${line(c)}${mismatches([rows[i]!]).length > 0 ? '  <- differs' : ''}`)].map((l) => l.trimEnd()).join('\n');
}
