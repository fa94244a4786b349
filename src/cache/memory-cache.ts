import { answerBytes, cosine, type CachedVector, type CacheEntry } from './cache-entry.js';
import { splitNamespace, withinNamespace } from './cache-owner.js';
import { liveNames, registerUse, type OwnerNamespaces } from './namespace-registry.js';
import { hasActivity, type CacheStats, type NamespaceStats, type ResponseCache, type ResponseCacheDeps } from './response-cache.js';

/** Semantic comparison groups kept; the oldest group goes first. */
const MAX_VECTOR_GROUPS = 10_000;

interface Held {
  entry: CacheEntry;
  bytes: number;
  /** The statistics row the entry is counted in. */
  row: NamespaceStats;
}

/**
 * The single-instance backend: a Map in least-recently-used order, bounded by the bytes of the
 * answers it holds. Expired entries are dropped when met (and before statistics are reported).
 * Statistics rows live as long as their namespace is registered or holds entries.
 */
export function createMemoryCache(deps: ResponseCacheDeps): ResponseCache {
  const { config, now } = deps;
  const maxBytes = config.memory.max_bytes;
  const maxCandidates = config.semantic?.max_candidates ?? 0;
  const limits = { ttlMs: config.namespaces.ttl_seconds * 1000, maxPerOwner: config.namespaces.max_per_owner };
  // Forgotten namespaces are swept at most this often, so a claim stays cheap.
  const sweepEveryMs = Math.min(limits.ttlMs, 60_000);
  // Map iteration order is insertion order: re-inserting on every hit keeps the least recently used first.
  const entries = new Map<string, Held>();
  const rows = new Map<string, NamespaceStats>();
  const owners = new Map<string, OwnerNamespaces>();
  // Least recently added first, like the entries; their bytes share the answers' budget (see addVector).
  const groups = new Map<string, CachedVector[]>();
  let vectorBytes = 0;
  let totalBytes = 0;
  let sweptAt = now();

  function rowFor(namespace: string): NamespaceStats {
    let row = rows.get(namespace);
    if (!row) {
      row = { namespace, hits: 0, misses: 0, entries: 0, bytes: 0 };
      rows.set(namespace, row);
    }
    return row;
  }

  function registered(namespace: string, at: number): boolean {
    const { owner, name } = splitNamespace(namespace);
    const doc = owners.get(owner);
    if (!doc || doc.seen + limits.ttlMs <= at) return false;
    return name === undefined || liveNames(doc, at, limits.ttlMs).has(name);
  }

  /** Forgets expired registrations, and the statistics of namespaces that are neither registered nor hold entries. */
  function sweepNamespaces(at: number): void {
    sweptAt = at;
    for (const [owner, doc] of owners) if (doc.seen + limits.ttlMs <= at) owners.delete(owner);
    for (const [namespace, row] of rows) if (row.entries === 0 && !registered(namespace, at)) rows.delete(namespace);
  }

  function remove(key: string, held: Held): void {
    entries.delete(key);
    totalBytes -= held.bytes;
    held.row.entries--;
    held.row.bytes -= held.bytes;
  }

  function sweepExpired(): void {
    const at = now();
    for (const [key, held] of entries) if (held.entry.expiresAt <= at) remove(key, held);
  }

  const groupKey = (namespace: string, scope: string): string => `${namespace}\n${scope}`;
  const bytesOf = (group: readonly CachedVector[]): number => group.reduce((n, v) => n + v.vector.byteLength, 0);

  function dropGroup(key: string): void {
    const group = groups.get(key);
    if (!group) return;
    vectorBytes -= bytesOf(group);
    groups.delete(key);
  }

  return {
    backend: 'memory',

    async claim(owner, name) {
      const at = now();
      if (at - sweptAt >= sweepEveryMs) sweepNamespaces(at);
      const next = registerUse(owners.get(owner), name, at, limits);
      if (!next) return false;
      owners.set(owner, next);
      return true;
    },

    async get(namespace, key) {
      const held = entries.get(key);
      if (!held || held.entry.namespace !== namespace) return undefined;
      if (held.entry.expiresAt <= now()) {
        remove(key, held);
        return undefined;
      }
      entries.delete(key);
      entries.set(key, held);
      return held.entry;
    },

    async set(entry) {
      const bytes = answerBytes(entry.answer);
      if (bytes > config.max_entry_bytes || bytes > maxBytes) return false;
      const previous = entries.get(entry.key);
      if (previous) remove(entry.key, previous);
      const row = rowFor(entry.namespace);
      entries.set(entry.key, { entry, bytes, row });
      totalBytes += bytes;
      row.entries++;
      row.bytes += bytes;
      for (const [key, held] of entries) {
        if (totalBytes <= maxBytes) break;
        remove(key, held);
      }
      return true;
    },

    async delete(key) {
      const held = entries.get(key);
      if (!held) return false;
      remove(key, held);
      return held.entry.expiresAt > now();
    },

    async deleteNamespace(namespace) {
      const at = now();
      let deleted = 0;
      for (const [key, held] of entries) {
        if (!withinNamespace(held.entry.namespace, namespace)) continue;
        if (held.entry.expiresAt > at) deleted++;
        remove(key, held);
      }
      for (const key of [...groups.keys()]) if (withinNamespace(key.slice(0, key.indexOf('\n')), namespace)) dropGroup(key);
      return deleted;
    },

    recordLookup(namespace, hit) {
      const row = rowFor(namespace);
      if (hit) row.hits++;
      else row.misses++;
    },

    async stats(): Promise<CacheStats> {
      sweepExpired();
      sweepNamespaces(now());
      const namespaces = [...rows.values()].filter(hasActivity).map((r) => ({ ...r })).sort((a, b) => (a.namespace < b.namespace ? -1 : 1));
      return {
        backend: 'memory',
        hits: namespaces.reduce((n, r) => n + r.hits, 0),
        misses: namespaces.reduce((n, r) => n + r.misses, 0),
        entries: entries.size,
        bytes: totalBytes,
        max_bytes: maxBytes,
        namespaces,
      };
    },

    async nearest(namespace, scope, vector) {
      const group = groups.get(groupKey(namespace, scope));
      if (!group) return undefined;
      const at = now();
      let best: { key: string; similarity: number } | undefined;
      for (const item of group) {
        // A vector outlives its answer when the answer was evicted or deleted: skip it.
        if (item.expiresAt <= at || !entries.has(item.key)) continue;
        const similarity = cosine(vector, item.vector);
        if (!best || similarity > best.similarity) best = { key: item.key, similarity };
      }
      return best;
    },

    async addVector(namespace, scope, item) {
      if (maxCandidates === 0) return;
      const key = groupKey(namespace, scope);
      const previous = groups.get(key) ?? [];
      dropGroup(key);
      const at = now();
      // Vectors whose answers expired or were evicted go too: a vector is only worth its answer.
      const kept = previous.filter((v) => v.key !== item.key && v.expiresAt > at && entries.has(v.key));
      kept.push(item);
      const group = kept.slice(-maxCandidates);
      groups.set(key, group);
      vectorBytes += bytesOf(group);
      // Client-chosen scopes (every unknown body field makes one) must not grow memory past the
      // cache's byte budget: the groups least recently added to go first.
      for (const oldest of groups.keys()) {
        if (oldest === key || (vectorBytes <= maxBytes && groups.size <= MAX_VECTOR_GROUPS)) break;
        dropGroup(oldest);
      }
    },
  };
}
