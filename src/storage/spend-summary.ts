import { DAY_MS, dayStart } from '../spend/spend-rollup.js';
import { addTotals, type SpendSummary, type SpendSummaryQuery, type SpendSummaryRow } from '../spend/spend-record.js';

type GroupBy = SpendSummaryQuery['group_by'];

/** What a backend reads a summary from: its daily rollups and its raw rows. */
export interface SummarySources {
  /** Totals per group of the rollups of the days with fromDay <= day < toDay (undefined: unbounded). */
  rollupTotals(groupBy: GroupBy, fromDay: number | undefined, toDay: number | undefined): Promise<SpendSummaryRow[]>;
  /** Requests the rollups of the UTC day starting at `day` count. */
  rollupRequests(day: number): Promise<number>;
  /**
   * The raw rows of the UTC day starting at `day`: how many the log holds, and their totals per
   * group over from <= time < to (a part of that day).
   */
  rawDay(groupBy: GroupBy, day: number, from: number, to: number): Promise<{ count: number; rows: SpendSummaryRow[] }>;
}

/** The part of a partial day at an edge of the range. */
interface EdgePart {
  day: number;
  from: number;
  to: number;
}

interface SplitRange {
  /** The whole UTC days inside the range, as [first day, end day) (undefined: unbounded); none when absent. */
  whole?: [number | undefined, number | undefined];
  /** At most two: where the range starts and ends inside a day. */
  edges: EdgePart[];
}

function nextMidnight(time: number): number {
  const day = dayStart(time);
  return day === time ? time : day + DAY_MS;
}

/** Splits [from, to) into the whole UTC days it covers and the partial days at its edges. */
export function splitRange(from: number | undefined, to: number | undefined): SplitRange {
  if (from !== undefined && to !== undefined && from >= to) return { edges: [] };
  const first = from === undefined ? undefined : nextMidnight(from);
  const end = to === undefined ? undefined : dayStart(to);
  if (from !== undefined && to !== undefined && first! >= end!) {
    // Not one whole day: the range lies inside one day or straddles one midnight.
    const day = dayStart(from);
    if (to <= day + DAY_MS) return { edges: [{ day, from, to }] };
    return { edges: [{ day, from, to: day + DAY_MS }, { day: day + DAY_MS, from: day + DAY_MS, to }] };
  }
  const edges: EdgePart[] = [];
  if (from !== undefined && from < first!) edges.push({ day: first! - DAY_MS, from, to: first! });
  if (to !== undefined && end! < to) edges.push({ day: end!, from: end!, to });
  return { whole: [first, end], edges };
}

/** Most expensive first; ties by id in byte order (SQLite's BINARY, PostgreSQL's "C"), the null group last. */
export function summaryOrder(a: SpendSummaryRow, b: SpendSummaryRow): number {
  if (a.cost_micros !== b.cost_micros) return b.cost_micros - a.cost_micros;
  if (a.id === null || b.id === null) return (a.id === null ? 1 : 0) - (b.id === null ? 1 : 0);
  return Buffer.compare(Buffer.from(a.id), Buffer.from(b.id));
}

/** Adds up the totals of the parts per group. */
function merge(parts: SpendSummaryRow[][]): SpendSummaryRow[] {
  const groups = new Map<string | null, SpendSummaryRow>();
  for (const part of parts) {
    for (const row of part) {
      const seen = groups.get(row.id);
      if (seen === undefined) {
        groups.set(row.id, { ...row });
        continue;
      }
      addTotals(seen, row);
    }
  }
  return [...groups.values()].sort(summaryOrder);
}

/**
 * Store.summarizeSpend on any backend: the whole UTC days of the range from the rollups (a few
 * rows a day whatever the traffic, and still there after retention deleted the raw rows), the
 * partial days at its edges from the raw rows, so the totals equal a sum over every raw row.
 *
 * An edge day whose raw rows are not all there any more (fewer than its rollups count) cannot be
 * cut at the bound: that whole day is counted from its rollups, and the returned bound says so.
 * Counting it whole errs by at most a day on the side the caller can see, where leaving it out
 * would lose the part inside the range silently.
 */
export async function summarizeSpendWith(query: SpendSummaryQuery, sources: SummarySources): Promise<SpendSummary> {
  const { group_by: groupBy } = query;
  const { whole, edges } = splitRange(query.from, query.to);
  let { from, to } = query;
  const parts = await Promise.all([
    whole === undefined ? [] : sources.rollupTotals(groupBy, ...whole),
    ...edges.map(async (edge) => {
      // Rollups first: a write adds to both at once, so raw rows counted afterwards are at
      // least as many as the rollups counted, unless some were deleted.
      const requests = await sources.rollupRequests(edge.day);
      const raw = await sources.rawDay(groupBy, edge.day, edge.from, edge.to);
      if (raw.count >= requests) return raw.rows;
      if (from !== undefined) from = Math.min(from, edge.day);
      if (to !== undefined) to = Math.max(to, edge.day + DAY_MS);
      return sources.rollupTotals(groupBy, edge.day, edge.day + DAY_MS);
    }),
  ]);
  return { rows: merge(parts), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}
