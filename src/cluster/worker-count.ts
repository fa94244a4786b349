import { availableParallelism } from 'node:os';
import type { GatewayConfig } from '../config/schema.js';

/**
 * How many processes `smartflow serve` runs. `auto` is one per core. An in-memory SQLite store
 * is private to its process, so it cannot be shared: one process then, whatever was asked.
 */
export function workerCount(requested: number | 'auto', store: GatewayConfig['store']): number {
  if (store.type === 'sqlite' && (store.path === ':memory:' || store.path === '')) return 1;
  return requested === 'auto' ? availableParallelism() : requested;
}
