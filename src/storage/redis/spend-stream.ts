import type { Redis } from 'ioredis';
import { GatewayError } from '../../errors/gateway-error.js';
import { addRecordToTotals, emptyTotals, type SpendPage, type SpendQuery, type SpendRecord, type SpendSummaryQuery, type SpendSummaryRow } from '../../spend/spend-record.js';
import { DAY_MS, rollUp } from '../../spend/spend-rollup.js';
import { APPEND_SPEND } from './spend-rollup-lua.js';
import { rollupArgs, type RollupLayout } from './spend-rollups.js';

/** Rows the stream keeps by default (`store.spend_log_max_rows`). */
export const DEFAULT_SPEND_MAX_ROWS = 1_000_000;
/**
 * A record's `time` is when the request started; it is appended when the request ends (and the
 * gateway's clock may differ from Redis's). Stream ids are bounded by `from`/`to` widened by this.
 */
const APPEND_SKEW_MS = 60_000;
/** Entries read per XREVRANGE round trip. */
const SCAN_BATCH = 500;
/**
 * Upper bound on entries examined by one query, so a rare filter over a huge stream cannot stall
 * the caller; the page then comes back short with a cursor to continue from.
 */
const MAX_SCAN = 20_000;
/** Entries per XRANGE round trip when summarizing a day, which reads every entry in range. */
const SUMMARY_BATCH = 5_000;
export const FIELD = 'r';
const STREAM_ID = /^\d+-\d+$/;

/**
 * Appends a batch in one script with its rollups (spend-rollup-lua.ts APPEND_SPEND), sorted by
 * (time, id) so append order matches the SQLite order, and trims the stream to about `maxRows`.
 * Resolves to how many of the oldest entries the trim removed, exactly (XTRIM replies with its
 * count, where XADD's own MAXLEN says nothing). `MAXLEN ~` removes whole stream nodes only
 * (cheap), so the stream keeps from `maxRows` to one node (at most 100 entries by default) more;
 * and it removes at most 100 nodes per call, so after the cap is lowered the surplus goes over
 * the next batches rather than in one long command.
 */
export async function appendSpendRecords(client: Redis, layout: RollupLayout, records: SpendRecord[], maxRows: number): Promise<number> {
  if (records.length === 0) return 0;
  const sorted = [...records].sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const { keys, args } = rollupArgs(layout, rollUp(records), 'add');
  const evicted = await APPEND_SPEND.run(client, [layout.spendKey, layout.markKey, ...keys], [maxRows, FIELD, sorted.length, ...sorted.map((r) => JSON.stringify(r)), ...args]);
  return Number(evicted);
}

type Bounds = Pick<SpendSummaryQuery, 'from' | 'to'>;

/**
 * The stream ids that can hold records with from <= time < to. `to` is exclusive on record.time,
 * so an id whose time part is to - 1 + skew may still hold a match.
 */
function idRange({ from, to }: Bounds): [start: string, end: string] {
  return [
    from === undefined ? '-' : String(Math.max(0, from - APPEND_SKEW_MS)),
    to === undefined ? '+' : String(Math.max(0, to - 1 + APPEND_SKEW_MS)),
  ];
}

function inTimeRange(record: SpendRecord, { from, to }: Bounds): boolean {
  return (from === undefined || record.time >= from) && (to === undefined || record.time < to);
}

function matches(record: SpendRecord, query: SpendQuery): boolean {
  if (!inTimeRange(record, query)) return false;
  if (query.model !== undefined && record.model !== query.model) return false;
  if (query.key_id !== undefined && record.key_id !== query.key_id) return false;
  if (query.principal !== undefined && record.principal !== query.principal) return false;
  if (query.status === 'success') return record.status < 400;
  if (query.status === 'error') return record.status >= 400;
  if (query.status !== undefined) return record.status === query.status;
  return true;
}

/** The record an entry's fields hold, with the defaults of fields added since; undefined for an entry that is not one. */
export function recordOf(fields: string[]): SpendRecord | undefined {
  const index = fields.indexOf(FIELD);
  const json = index >= 0 && index % 2 === 0 ? fields[index + 1] : undefined;
  if (json === undefined) return undefined;
  try {
    const record = JSON.parse(json) as SpendRecord;
    // Records written before the field existed were all reported usage.
    record.usage_estimated ??= false;
    // Nor were they part of an MCP tool loop.
    record.loop_id ??= null;
    record.loop_step ??= null;
    record.trace_id ??= null;
    return record;
  } catch {
    // An entry someone else wrote into our stream: skip it rather than fail the whole query.
    return undefined;
  }
}

/**
 * Newest first, in append order. The cursor is the stream id of the last entry examined, and
 * the next page continues strictly below it.
 */
export async function querySpendRecords(client: Redis, key: string, query: SpendQuery): Promise<SpendPage> {
  if (query.cursor !== undefined && !STREAM_ID.test(query.cursor)) {
    throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The cursor is not valid.', param: 'cursor' });
  }
  const limit = Math.max(1, Math.floor(query.limit));
  const [start, rangeEnd] = idRange(query);
  let end = query.cursor !== undefined ? `(${query.cursor}` : rangeEnd;
  // Without filters every entry is a row, so reading more than one page (plus one) is waste.
  const unfiltered =
    query.from === undefined && query.to === undefined && query.model === undefined &&
    query.key_id === undefined && query.principal === undefined && query.status === undefined;
  const rows: SpendRecord[] = [];
  let lastRowId: string | undefined;
  let lastSeenId: string | undefined;
  let scanned = 0;

  while (scanned < MAX_SCAN) {
    const count = Math.min(unfiltered ? limit + 1 : SCAN_BATCH, MAX_SCAN - scanned);
    const batch = await client.xrevrange(key, end, start, 'COUNT', count);
    for (const [id, fields] of batch) {
      scanned += 1;
      const record = recordOf(fields);
      if (record && matches(record, query)) {
        // A match beyond a full page proves another page exists; it starts after this page's last row.
        if (rows.length === limit) return { rows, next_cursor: lastRowId ?? null };
        rows.push(record);
        lastRowId = id;
      }
      lastSeenId = id;
    }
    if (batch.length < count || lastSeenId === undefined) return { rows, next_cursor: null };
    end = `(${lastSeenId}`;
  }
  // Scan budget spent with entries left in range: hand back a cursor even if the page is short.
  return { rows, next_cursor: lastSeenId ?? null };
}

/**
 * SummarySources.rawDay on Redis: every entry whose id can hold a record of the UTC day is read,
 * in batches, and filtered on the record's own time; the day's records are counted, and those
 * in [from, to) summed per group. Summaries read raw rows only for the partial days at the
 * edges of their range, so this reads at most a day (and the append skew) of the stream.
 */
export async function summarizeStreamDay(
  client: Redis,
  key: string,
  groupBy: SpendSummaryQuery['group_by'],
  day: number,
  from: number,
  to: number,
): Promise<{ count: number; rows: SpendSummaryRow[] }> {
  const groups = new Map<string | null, SpendSummaryRow>();
  const dayRange = { from: day, to: day + DAY_MS };
  const [first, end] = idRange(dayRange);
  let count = 0;
  let start = first;
  for (;;) {
    const batch = await client.xrange(key, start, end, 'COUNT', SUMMARY_BATCH);
    for (const [, fields] of batch) {
      const record = recordOf(fields);
      if (!record || !inTimeRange(record, dayRange)) continue;
      count += 1;
      if (!inTimeRange(record, { from, to })) continue;
      const id = groupBy === 'key' ? record.key_id : record.team_id;
      let row = groups.get(id);
      if (!row) groups.set(id, (row = { id, ...emptyTotals(record.time) }));
      addRecordToTotals(row, record);
    }
    const last = batch[batch.length - 1];
    if (batch.length < SUMMARY_BATCH || last === undefined) break;
    start = `(${last[0]}`;
  }
  return { count, rows: [...groups.values()] };
}
