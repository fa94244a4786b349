import type { GuardedIncrement } from '../types.js';

/** A guarded increment set as sf_guarded_increments reads it. */
export function wireSet(entries: GuardedIncrement[]): Array<{ k: string; d: number; l: number | null; t: number | null }> {
  return entries.map((e) => ({ k: e.key, d: e.delta, l: e.limit ?? null, t: e.ttl_ms !== undefined && e.ttl_ms > 0 ? Math.ceil(e.ttl_ms) : null }));
}
