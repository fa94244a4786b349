import type { GuardedIncrement } from './types.js';

/**
 * Why a guarded increment set cannot be applied, checked before it is tried: a delta or limit
 * that is not a safe integer would be rounded by SQLite and Lua alike. Undefined when it is fine.
 */
export function invalidIncrement(entries: GuardedIncrement[]): RangeError | undefined {
  for (const entry of entries) {
    if (!Number.isSafeInteger(entry.delta)) return new RangeError(`delta must be a safe integer, got ${entry.delta}`);
    if (entry.limit !== undefined && !Number.isSafeInteger(entry.limit)) return new RangeError(`limit must be a safe integer, got ${entry.limit}`);
  }
  return undefined;
}
