import type { Usage } from '../providers/types.js';
import { answerBytes, cosine, type CachedAnswer, type CachedVector } from './cache-entry.js';
import { namespaceOf } from './cache-owner.js';
import { liveNames, parseOwnerNamespaces, registerUse, type OwnerNamespaces } from './namespace-registry.js';
import { hasActivity, type CacheStats, type NamespaceStats, type ResponseCache, type ResponseCacheDeps } from './response-cache.js';

/**
 * Store layout. Namespaces and keys contain no `:`, so prefixes never overlap, and an owner's
 * namespaces are exactly its own and those starting with `{owner}/`. Everything expires:
 *   cache:e:{namespace}:{key}    the entry
 *   cache:k:{key}                the entry's namespace, so DELETE /api/cache/{key} finds it
 *   cache:v:{namespace}:{scope}  a semantic comparison group's vectors
 *   cache:o:{owner}              the owner's registered namespaces (namespace-registry.ts)
 *   counters cache:hits:{namespace}, cache:misses:{namespace}
 */
const ENTRY_PREFIX = 'cache:e:';
const OWNER_PREFIX = 'cache:o:';
const entryKey = (namespace: string, key: string): string => `${ENTRY_PREFIX}${namespace}:${key}`;
const pointerKey = (key: string): string => `cache:k:${key}`;
const vectorsPrefix = (namespace: string): string => `cache:v:${namespace}:`;
const ownerKey = (owner: string): string => `${OWNER_PREFIX}${owner}`;
/** Earlier versions kept one permanent document per namespace ever named here; they are removed at start. */
const LEGACY_NAMESPACE_DOCS = 'cache_namespaces';
/** Claims this instance remembers; cleared when full, since claiming again is harmless. */
const MAX_REMEMBERED = 10_000;

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
  const limits = { ttlMs: config.namespaces.ttl_seconds * 1000, maxPerOwner: config.namespaces.max_per_owner };
  // A claim is trusted this long before it is written again: one store write per namespace and
  // instance per interval, not per request. Concurrent claims of one owner from two instances can
  // drop one registration (read-modify-write), which only delays its statistics until the next claim.
  const reclaimAfterMs = Math.min(limits.ttlMs / 10, 60_000);
  const claimed = new Map<string, number>();
  // Statistics writes are not awaited by requests; stats() waits for this instance's.
  const pending = new Set<Promise<unknown>>();

  function background(work: Promise<unknown>, what: string): void {
    const tracked = work.catch((err: unknown) => log.warn({ err }, what)).finally(() => pending.delete(tracked));
    pending.add(tracked);
  }

  async function dropLegacyNamespaceDocs(): Promise<void> {
    for (;;) {
      const page = await store.listDocs(LEGACY_NAMESPACE_DOCS, { limit: 1_000 });
      const deleted = await Promise.all(page.items.map((item) => store.deleteDoc(LEGACY_NAMESPACE_DOCS, item.id)));
      if (!deleted.includes(true)) return;
    }
  }
  background(dropLegacyNamespaceDocs(), 'could not remove the cache namespace documents of an earlier version');

  async function readOwner(owner: string): Promise<OwnerNamespaces | undefined> {
    const raw = await store.getEntry(ownerKey(owner));
    return raw === undefined ? undefined : parseOwnerNamespaces(raw);
  }

  /** Every namespace a live registration names: owners and the names inside them. Bounded by owners times the per-owner limit. */
  async function registeredNamespaces(): Promise<string[]> {
    const owners = [...(await store.measureEntries(OWNER_PREFIX)).keys()];
    const at = now();
    const docs = await Promise.all(owners.map((owner) => readOwner(owner)));
    return owners.flatMap((owner, i) => {
      const doc = docs[i];
      if (!doc || doc.seen + limits.ttlMs <= at) return [];
      return [owner, ...[...liveNames(doc, at, limits.ttlMs).keys()].map((name) => namespaceOf(owner, name))];
    });
  }

  async function readVectors(namespace: string, scope: string): Promise<StoredVectors['items']> {
    const raw = await store.getEntry(`${vectorsPrefix(namespace)}${scope}`);
    if (raw === undefined) return [];
    const parsed = JSON.parse(raw) as StoredVectors;
    return parsed.v === 1 && Array.isArray(parsed.items) ? parsed.items : [];
  }

  return {
    backend: 'store',

    async claim(owner, name) {
      const namespace = namespaceOf(owner, name);
      const at = now();
      const last = claimed.get(namespace);
      if (last !== undefined && at - last < reclaimAfterMs) return true;
      const next = registerUse(await readOwner(owner), name, at, limits);
      if (!next) return false;
      await store.setEntry(ownerKey(owner), JSON.stringify(next), limits.ttlMs);
      if (claimed.size >= MAX_REMEMBERED) claimed.clear();
      claimed.set(namespace, at);
      return true;
    },

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
      return true;
    },

    async delete(key) {
      const namespace = await store.getEntry(pointerKey(key));
      if (namespace === undefined) return false;
      const [deleted] = await Promise.all([store.deleteEntry(entryKey(namespace, key)), store.deleteEntry(pointerKey(key))]);
      return deleted;
    },

    async deleteNamespace(namespace) {
      // `{namespace}:` is the namespace's own, `{namespace}/` every namespace narrowed inside it.
      const prefixes = [`${ENTRY_PREFIX}${namespace}:`, `${ENTRY_PREFIX}${namespace}/`, vectorsPrefix(namespace), `cache:v:${namespace}/`];
      const [own, narrowed] = await Promise.all(prefixes.map((p) => store.deleteEntriesByPrefix(p)));
      return own! + narrowed!;
    },

    recordLookup(namespace, hit) {
      // Counters expire like registrations: a namespace nobody uses leaves nothing behind.
      background(store.incrCounter(`cache:${hit ? 'hits' : 'misses'}:${namespace}`, 1, limits.ttlMs), 'could not count a cache lookup');
    },

    async stats(): Promise<CacheStats> {
      await Promise.all(pending);
      const [names, sizes] = await Promise.all([registeredNamespaces(), store.measureEntries(ENTRY_PREFIX)]);
      const all = [...new Set([...names, ...sizes.keys()])].sort();
      const rows: NamespaceStats[] = await Promise.all(
        all.map(async (namespace) => {
          const [hits, misses] = await Promise.all([store.getCounter(`cache:hits:${namespace}`), store.getCounter(`cache:misses:${namespace}`)]);
          const size = sizes.get(namespace);
          return { namespace, hits, misses, entries: size?.entries ?? 0, bytes: size?.bytes ?? 0 };
        }),
      );
      const namespaces = rows.filter(hasActivity);
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
