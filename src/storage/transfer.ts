import type { Store } from './types.js';

/** The Store methods `smartflow migrate` reads and writes a whole store with; each backend implements them in its own transfer module. */
export type TransferMethods = Pick<Store, 'listCollections' | 'importDoc' | 'scanCounters' | 'importCounter' | 'scanEntries' | 'scanSpend' | 'importSpend'>;

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
