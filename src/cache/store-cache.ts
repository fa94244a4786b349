import type { Usage } from '../providers/types.js';
import { answerBytes, cosine, type CachedAnswer, type CachedVector } from './cache-entry.js';
import type { CacheStats, NamespaceStats, ResponseCache, ResponseCacheDeps } from './response-cache.js';

/**
 * Store layout. Namespaces and keys contain no `:`, so prefixes never overlap:
 *   cache:e:{namespace}:{key}    the entry
 *   cache:k:{key}                the entry's namespace, so DELETE /api/cache/{key} finds it
 *   cache:v:{namespace}:{scope}  a semantic comparison group's vectors
 *   counters cache:hits:{namespace}, cache:misses:{namespace}; docs cache_namespaces/{namespace}
 */
const ENTRY_PREFIX = 'cache:e:';
const entryKey = (namespace: string, key: string): string => `${ENTRY_PREFIX}${namespace}:${key}`;
const pointerKey = (key: string): string => `cache:k:${key}`;
const vectorsPrefix = (namespace: string): string => `cache:v:${namespace}:`;
const NAMESPACES = 'cache_namespaces';
/** Namespaces this instance has registered; cleared when full, since registering again is harmless. */
const MAX_REGISTERED = 10_000;

interface StoredEntry {
  v: 1;
  key: string;
  namespace: string;
  answer: CachedAnswer;
  usage: Usage;
  cost_micros: number;
  created_at: number;
  expires_at: number;
}

interface StoredVectors {
  v: 1;
  items: Array<{ key: string; vector: string; expires_at: number }>;
}

function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function decodeVector(s: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  // Copied out: a Float32Array needs 4-byte alignment, which a pooled Buffer's offset may lack.
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/**
 * The fleet backend: entries live in the gateway's store (Redis: shared by every instance, so one
 * instance's answer is another's hit). The store expires entries on its own clock; each entry
 * also records its expiry on the gateway clock, and an entry past it is not served, so both
 * clocks are honoured. Semantic vectors of a comparison group share one entry, updated by
 * read-modify-write: concurrent additions can drop one, which costs a future hit, nothing more.
 */
export function createStoreCache(deps: ResponseCacheDeps): ResponseCache {
  const { config, store, now, log } = deps;
  const maxCandidates = config.semantic?.max_candidates ?? 0;
  const registered = new Set<string>();
  // Statistics writes are not awaited by requests; stats() waits for this instance's.
  const pending = new Set<Promise<unknown>>();

  function background(work: Promise<unknown>, what: string): void {
    const tracked = work.catch((err: unknown) => log.warn({ err }, what)).finally(() => pending.delete(tracked));
    pending.add(tracked);
  }

  function register(namespace: string): void {
    if (registered.has(namespace)) return;
    if (registered.size >= MAX_REGISTERED) registered.clear();
    registered.add(namespace);
    background(store.createDoc(NAMESPACES, namespace, { namespace }), 'could not register a cache namespace');
  }

  async function readVectors(namespace: string, scope: string): Promise<StoredVectors['items']> {
    const raw = await store.getEntry(`${vectorsPrefix(namespace)}${scope}`);
    if (raw === undefined) return [];
    const parsed = JSON.parse(raw) as StoredVectors;
    return parsed.v === 1 && Array.isArray(parsed.items) ? parsed.items : [];
  }

  async function allNamespaces(): Promise<string[]> {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listDocs<{ namespace: string }>(NAMESPACES, { limit: 1_000, ...(cursor ? { cursor } : {}) });
      for (const item of page.items) names.push(item.id);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return names;
  }

  return {
    backend: 'store',

    async get(namespace, key) {
      const raw = await store.getEntry(entryKey(namespace, key));
      if (raw === undefined) return undefined;
      const e = JSON.parse(raw) as StoredEntry;
      if (e.v !== 1 || e.expires_at <= now()) return undefined;
      return { key: e.key, namespace: e.namespace, answer: e.answer, usage: e.usage, costMicros: e.cost_micros, createdAt: e.created_at, expiresAt: e.expires_at };
    },

    async set(entry) {
      if (answerBytes(entry.answer) > config.max_entry_bytes) return false;
      const ttl = entry.expiresAt - now();
      if (ttl <= 0) return false;
      const stored: StoredEntry = {
        v: 1,
        key: entry.key,
        namespace: entry.namespace,
        answer: entry.answer,
        usage: entry.usage,
        cost_micros: entry.costMicros,
        created_at: entry.createdAt,
        expires_at: entry.expiresAt,
      };
      await Promise.all([store.setEntry(entryKey(entry.namespace, entry.key), JSON.stringify(stored), ttl), store.setEntry(pointerKey(entry.key), entry.namespace, ttl)]);
      register(entry.namespace);
      return true;
    },

    async delete(key) {
      const namespace = await store.getEntry(pointerKey(key));
      if (namespace === undefined) return false;
      const [deleted] = await Promise.all([store.deleteEntry(entryKey(namespace, key)), store.deleteEntry(pointerKey(key))]);
      return deleted;
    },

    async deleteNamespace(namespace) {
      const [deleted] = await Promise.all([store.deleteEntriesByPrefix(`${ENTRY_PREFIX}${namespace}:`), store.deleteEntriesByPrefix(vectorsPrefix(namespace))]);
      return deleted;
    },

    recordLookup(namespace, hit) {
      background(store.incrCounter(`cache:${hit ? 'hits' : 'misses'}:${namespace}`, 1), 'could not count a cache lookup');
      register(namespace);
    },

    async stats(): Promise<CacheStats> {
      await Promise.all(pending);
      const [names, sizes] = await Promise.all([allNamespaces(), store.measureEntries(ENTRY_PREFIX)]);
      const all = [...new Set([...names, ...sizes.keys()])].sort();
      const namespaces: NamespaceStats[] = await Promise.all(
        all.map(async (namespace) => {
          const [hits, misses] = await Promise.all([store.getCounter(`cache:hits:${namespace}`), store.getCounter(`cache:misses:${namespace}`)]);
          const size = sizes.get(namespace);
          return { namespace, hits, misses, entries: size?.entries ?? 0, bytes: size?.bytes ?? 0 };
        }),
      );
      return {
        backend: 'store',
        hits: namespaces.reduce((n, r) => n + r.hits, 0),
        misses: namespaces.reduce((n, r) => n + r.misses, 0),
        entries: namespaces.reduce((n, r) => n + r.entries, 0),
        bytes: namespaces.reduce((n, r) => n + r.bytes, 0),
        max_bytes: null,
        namespaces,
      };
    },

    async nearest(namespace, scope, vector) {
      const at = now();
      let best: { key: string; similarity: number } | undefined;
      for (const item of await readVectors(namespace, scope)) {
        if (item.expires_at <= at) continue;
        const similarity = cosine(vector, decodeVector(item.vector));
        if (!best || similarity > best.similarity) best = { key: item.key, similarity };
      }
      return best;
    },

    async addVector(namespace, scope, item: CachedVector) {
      if (maxCandidates === 0) return;
      const at = now();
      const items = (await readVectors(namespace, scope)).filter((v) => v.key !== item.key && v.expires_at > at);
      items.push({ key: item.key, vector: encodeVector(item.vector), expires_at: item.expiresAt });
      const kept = items.slice(-maxCandidates);
      const ttl = Math.max(...kept.map((v) => v.expires_at)) - at;
      const value: StoredVectors = { v: 1, items: kept };
      await store.setEntry(`${vectorsPrefix(namespace)}${scope}`, JSON.stringify(value), ttl);
    },
  };
}
