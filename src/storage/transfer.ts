import { GatewayError } from '../errors/gateway-error.js';
import { DAY_MS, type SpendRollupRow } from '../spend/spend-rollup.js';
import type { ScanPage, Store } from './types.js';

/** The Store methods `smartflow migrate` reads and writes a whole store with; each backend implements them in its own transfer module. */
export type TransferMethods = Pick<
  Store,
  'listCollections' | 'importDoc' | 'scanCounters' | 'importCounter' | 'scanEntries' | 'scanSpend' | 'importSpend' | 'countSpend' | 'scanSpendRollups' | 'importSpendRollups'
>;

const DEFAULT_PAGE = 500;
const MAX_PAGE = 1_000;

/** Items per scan page: `limit` within 1..1,000, 500 when absent. */
export function scanLimit(limit: number | undefined): number {
  return Math.min(MAX_PAGE, Math.max(1, Math.floor(limit ?? DEFAULT_PAGE)));
}

/**
 * An imported document's version: positive, and exact in every backend (SQLite, Lua and JSON
 * numbers are doubles). Checked before the store call, so the caller's mistake rejects as a
 * RangeError rather than as a store failure.
 */
export function checkVersion(version: number): void {
  if (!(Number.isSafeInteger(version) && version >= 1)) throw new RangeError(`version must be a positive safe integer, got ${version}`);
}

/** An imported counter's value: exact in every backend. */
export function checkCounterValue(value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`value must be a safe integer, got ${value}`);
}

const ROLLUP_TOTALS = ['requests', 'errors', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'cost_micros', 'last_used'] as const;

/** An imported rollup row: a UTC midnight and exact non-negative totals (Redis adds them up in Lua, in doubles). */
export function checkRollupRow(row: SpendRollupRow): void {
  if (!(Number.isSafeInteger(row.day) && row.day % DAY_MS === 0)) throw new RangeError(`day must be a UTC midnight in epoch ms, got ${row.day}`);
  for (const name of ROLLUP_TOTALS) {
    const value = row[name];
    if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
  }
}

/** The day a rollup scan resumes after (Store.scanSpendRollups' cursor is the last day of the previous page). */
export function decodeRollupCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  if (!/^-?\d{1,16}$/.test(cursor)) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The cursor is not valid.', param: 'cursor' });
  return Number(cursor);
}

/**
 * Cuts rollup rows read in day order after the cursor, `limit` + 1 of them, to whole days. When
 * the first day alone holds more than `limit` rows, the caller reads that whole day as the page.
 */
export function wholeDays(rows: SpendRollupRow[], limit: number): ScanPage<SpendRollupRow> | { oversized: number } {
  if (rows.length <= limit) return { items: rows, next_cursor: null };
  // The extra row's day may continue past what was read: it goes to the next page whole.
  const cut = rows[limit]!.day;
  const items = rows.filter((row) => row.day < cut);
  if (items.length === 0) return { oversized: cut };
  return { items, next_cursor: String(items[items.length - 1]!.day) };
}
