import { z } from 'zod';

/** The `cache` section of smartflow.yaml (documented in docs/configuration.md and docs/caching.md). */

/** Namespaces appear in store keys and headers: a short, plain name. */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const NAMESPACE_RULE = 'a namespace is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit';

/** A namespace as config, headers and the admin API accept it. */
export const cacheNamespace = z.string().regex(NAMESPACE_PATTERN, NAMESPACE_RULE);

/** Who shares cache entries when no admin pinned a namespace: a key's team (or the key, without one), each key, or every caller. */
export const CACHE_SCOPES = ['team', 'key', 'global'] as const;
export type CacheScope = (typeof CACHE_SCOPES)[number];

const MIB = 1024 * 1024;

const semanticSchema = z.strictObject({
  /** The embedding model (a name clients could use) that embeds prompts for similarity lookups. */
  embedding_model: z.string().min(1).max(256),
  /** Cosine similarity at or above which a cached answer is served for a different prompt. */
  threshold: z.number().min(0).max(1).default(0.95),
  /** Models whose requests get semantic lookups, in every namespace. */
  models: z.array(z.string().min(1).max(256)).max(1000).default([]),
  /** Namespaces whose requests get semantic lookups, for every model. */
  namespaces: z.array(cacheNamespace).max(1000).default([]),
  /** Prompts compared per lookup: the most recent ones with the same model, parameters, namespace and key policy. */
  max_candidates: z.number().int().positive().max(10_000).default(256),
  /** Longer prompts (all message text together) skip the semantic cache; embedding models have input limits. */
  max_prompt_chars: z.number().int().positive().max(1_000_000).default(8_000),
});

/** The `cache` section. */
export const cacheConfigSchema = z.strictObject({
  /** Whether requests are cached when neither the model nor the key says otherwise. */
  enabled: z.boolean().default(false),
  /** `auto`: an in-memory LRU with the SQLite store, the Redis store (shared by every instance) with Redis. */
  backend: z.enum(['auto', 'memory', 'store']).default('auto'),
  default_ttl_seconds: z.number().int().positive().max(31_536_000).default(3_600),
  /** Longer TTLs asked for per request are shortened to this. */
  max_ttl_seconds: z.number().int().positive().max(31_536_000).default(604_800),
  /** Larger answers are not cached (either backend). */
  max_entry_bytes: z.number().int().positive().default(MIB),
  memory: z
    .strictObject({
      /** The in-memory backend evicts least recently used answers beyond this many bytes. */
      max_bytes: z.number().int().positive().default(64 * MIB),
    })
    .prefault({}),
  /** Per model name: switch caching on or off, or change the TTL. */
  models: z
    .record(
      z.string().min(1).max(256),
      z.strictObject({
        enabled: z.boolean().optional(),
        ttl_seconds: z.number().int().positive().max(31_536_000).optional(),
      }),
    )
    .default({}),
  /** The owner of an entry when no admin pinned one (docs/caching.md#who-shares-an-entry). */
  scope: z.enum(CACHE_SCOPES, 'cache.scope must be one of team, key, global').default('team'),
  /** Client-named namespaces are bounded: each owner may use this many, each forgotten this long after its last use. */
  namespaces: z
    .strictObject({
      /** A namespace's registration and its hit and miss counters expire this long after they were last refreshed. */
      ttl_seconds: z.number().int().positive().max(31_536_000).default(604_800),
      /** Namespaces a client may name inside one owner at once; requests naming another are not cached. */
      max_per_owner: z.number().int().positive().max(100_000).default(100),
    })
    .prefault({}),
  semantic: semanticSchema.optional(),
});

export type CacheConfig = z.infer<typeof cacheConfigSchema>;
export type SemanticCacheConfig = z.infer<typeof semanticSchema>;
