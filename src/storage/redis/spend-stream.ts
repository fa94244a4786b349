import type { Redis } from 'ioredis';
import { GatewayError } from '../../errors/gateway-error.js';
import type { SpendPage, SpendQuery, SpendRecord } from '../../spend/spend-record.js';

/** Approximate cap on the stream (MAXLEN ~ lets Redis trim whole nodes, which is cheap). */
const MAX_LEN = 1_000_000;
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
const FIELD = 'r';
const STREAM_ID = /^\d+-\d+$/;

/** Appends a batch in one MULTI. Sorted by (time, id) so append order matches the SQLite order. */
export async function appendSpendRecords(client: Redis, key: string, records: SpendRecord[]): Promise<void> {
  if (records.length === 0) return;
  const sorted = [...records].sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const multi = client.multi();
  for (const record of sorted) multi.xadd(key, 'MAXLEN', '~', MAX_LEN, '*', FIELD, JSON.stringify(record));
  const results = await multi.exec();
  const failed = results?.find(([err]) => err !== null);
  if (results === null || failed) throw failed?.[0] ?? new Error('The spend batch transaction was aborted.');
}

function matches(record: SpendRecord, query: SpendQuery): boolean {
  if (query.from !== undefined && record.time < query.from) return false;
  if (query.to !== undefined && record.time >= query.to) return false;
  if (query.model !== undefined && record.model !== query.model) return false;
  if (query.key_id !== undefined && record.key_id !== query.key_id) return false;
  if (query.principal !== undefined && record.principal !== query.principal) return false;
  if (query.status === 'success') return record.status < 400;
  if (query.status === 'error') return record.status >= 400;
  if (query.status !== undefined) return record.status === query.status;
  return true;
}

function recordOf(fields: string[]): SpendRecord | undefined {
  const index = fields.indexOf(FIELD);
  const json = index >= 0 && index % 2 === 0 ? fields[index + 1] : undefined;
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json) as SpendRecord;
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
  const start = query.from === undefined ? '-' : String(Math.max(0, query.from - APPEND_SKEW_MS));
  // `to` is exclusive on record.time; an id whose time part is to - 1 + skew may still hold a match.
  let end =
    query.cursor !== undefined ? `(${query.cursor}` : query.to === undefined ? '+' : String(Math.max(0, query.to - 1 + APPEND_SKEW_MS));
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
