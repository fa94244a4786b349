import { workerIdentity } from '../cluster/worker-identity.js';
import type { RequestLog } from '../core/request-log.js';
import type { Store } from '../storage/types.js';
import type { CacheConfig } from './cache-config.js';
import type { CachedVector, CacheEntry } from './cache-entry.js';
import { createMemoryCache } from './memory-cache.js';
import { createStoreCache } from './store-cache.js';

/** The statistics of one namespace. */
export interface NamespaceStats {
  namespace: string;
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

/** Namespaces registered but with nothing to report (no lookups, no live entries) are left out of the statistics. */
export function hasActivity(row: NamespaceStats): boolean {
  return row.hits + row.misses + row.entries > 0;
}

/** What GET /api/cache/stats reports (plus the hit rate). */
export interface CacheStats {
  backend: 'memory' | 'store';
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
  /** The memory backend's bound; null for the store backend. */
  max_bytes: number | null;
  namespaces: NamespaceStats[];
}

/**
 * Where cached answers live: an in-memory LRU bounded by bytes (one instance) or the gateway's
 * store (Redis: shared by every instance). Both honour the gateway clock for expiry. Storage
 * failures reject; the cache stage treats them as misses, never as failed requests.
 * Namespaces are `{owner}` or `{owner}/{name}` (cache-owner.ts).
 */
export interface ResponseCache {
  readonly backend: 'memory' | 'store';
  /**
   * Registers a use of the owner's own namespace (`name` undefined) or of one a client named
   * inside it, before anything is looked up, counted or stored there. False when the name is new
   * and the owner already holds `cache.namespaces.max_per_owner` others.
   */
  claim(owner: string, name: string | undefined): Promise<boolean>;
  /** The live entry under `key` in `namespace`, or undefined. */
  get(namespace: string, key: string): Promise<CacheEntry | undefined>;
  /** Stores the entry until its expiresAt; false when it is larger than `max_entry_bytes`. */
  set(entry: CacheEntry): Promise<boolean>;
  /** Deletes the entry with this key, whatever its namespace; false when there was none. */
  delete(key: string): Promise<boolean>;
  /** Deletes every entry (and semantic vector) of a namespace and of the namespaces narrowed inside it; returns how many entries went. */
  deleteNamespace(namespace: string): Promise<number>;
  /** Counts a lookup for the statistics; never waits and never fails the request. */
  recordLookup(namespace: string, hit: boolean): void;
  stats(): Promise<CacheStats>;
  /** The most similar live vector of a semantic comparison group, with its cosine similarity. */
  nearest(namespace: string, scope: string, vector: Float32Array): Promise<{ key: string; similarity: number } | undefined>;
  /** Adds a vector to a comparison group, keeping the newest `max_candidates`. */
  addVector(namespace: string, scope: string, item: CachedVector): Promise<void>;
}

/** What a cache backend needs: the settings, the store (for the store backend), the gateway clock, a logger. */
export interface ResponseCacheDeps {
  config: CacheConfig;
  store: Store;
  now: () => number;
  log: RequestLog;
}

/**
 * The one switch between the cache backends: `auto` follows the store (memory with SQLite in one
 * process; shared with Redis and PostgreSQL, and with SQLite under `serve --workers N`, where a per-worker LRU
 * would answer differently per connection and miss deletions made through another worker).
 */
export function createResponseCache(deps: ResponseCacheDeps): ResponseCache {
  const shared = deps.store.kind !== 'sqlite' || workerIdentity() !== null;
  const useStore = deps.config.backend === 'store' || (deps.config.backend === 'auto' && shared);
  return useStore ? createStoreCache(deps) : createMemoryCache(deps);
}
