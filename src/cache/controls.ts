import { z } from 'zod';
import { invalidRequest } from '../errors/from-zod.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingHeaders } from '../core/request-log.js';
import { cacheNamespace, NAMESPACE_PATTERN, NAMESPACE_RULE, type CacheConfig } from './cache-config.js';
import { namespaceOf } from './cache-owner.js';

/** What one request asks of the cache, from its body's `cache` object and its headers. */
export interface CacheControls {
  /** Do not answer from the cache (the answer may still be stored). */
  noCache: boolean;
  /** Do not store this answer. */
  noStore: boolean;
  /** How long to keep this answer; 0 keeps nothing. Undefined: the configured TTL. */
  ttlSeconds: number | undefined;
  /** Narrows the owner's namespace; never reaches another owner's. */
  namespace: string | undefined;
}

/** The LiteLLM convention, strict so a misspelt directive is a 400 rather than silently ignored. */
const bodyControls = z.strictObject({
  'no-cache': z.boolean().optional(),
  'no-store': z.boolean().optional(),
  ttl: z.number().int().nonnegative().max(31_536_000).optional(),
  namespace: cacheNamespace.optional(),
});

/** Wrapped so zod's issue paths start with `cache` and the 400 names `cache.ttl`. */
const bodyWithControls = z.object({ cache: bodyControls });

function header(headers: IncomingHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function badHeader(name: string, message: string): GatewayError {
  return new GatewayError('SF_ERR_INVALID_REQUEST', { message: `${name}: ${message}`, param: name });
}

function seconds(value: string, name: string): number {
  const v = value.trim();
  if (!/^\d{1,9}$/.test(v)) throw badHeader(name, 'expected a whole number of seconds');
  return Number(v);
}

function fromHeaders(headers: IncomingHeaders): CacheControls {
  const controls: CacheControls = { noCache: false, noStore: false, ttlSeconds: undefined, namespace: undefined };
  const cacheControl = header(headers, 'cache-control');
  if (cacheControl !== undefined) {
    // Other directives (no-transform, ...) mean nothing to a gateway and are ignored, as HTTP caches do.
    for (const raw of cacheControl.split(',')) {
      const directive = raw.trim().toLowerCase();
      if (directive === 'no-cache') controls.noCache = true;
      else if (directive === 'no-store') controls.noStore = true;
      else if (directive.startsWith('max-age=')) controls.ttlSeconds = seconds(directive.slice('max-age='.length), 'cache-control');
    }
  }
  const ttl = header(headers, 'x-smartflow-cache-ttl');
  if (ttl !== undefined) controls.ttlSeconds = seconds(ttl, 'x-smartflow-cache-ttl');
  const namespace = header(headers, 'x-smartflow-cache-namespace');
  if (namespace !== undefined) {
    if (!NAMESPACE_PATTERN.test(namespace)) throw badHeader('x-smartflow-cache-namespace', NAMESPACE_RULE);
    controls.namespace = namespace;
  }
  return controls;
}

/**
 * Reads the per-request controls: the body's `cache` object and the headers `Cache-Control`
 * (`no-cache`, `no-store`, `max-age=N`), `x-smartflow-cache-ttl` and `x-smartflow-cache-namespace`.
 * Both forms mean the same; where both set a control, the body wins. Throws a 400 naming the
 * field (`cache.ttl`) or header when one is malformed.
 */
export function readCacheControls(body: Readonly<Record<string, unknown>>, headers: IncomingHeaders): CacheControls {
  const controls = fromHeaders(headers);
  const raw = body.cache;
  if (raw === undefined || raw === null) return controls;
  const parsed = bodyWithControls.safeParse({ cache: raw });
  if (!parsed.success) throw invalidRequest(parsed.error);
  const c = parsed.data.cache;
  return {
    noCache: c['no-cache'] ?? controls.noCache,
    noStore: c['no-store'] ?? controls.noStore,
    ttlSeconds: c.ttl ?? controls.ttlSeconds,
    namespace: c.namespace ?? controls.namespace,
  };
}

/** What the cache does for one request. */
export interface CachePlan {
  /** Who the entries belong to (cache-owner.ts), decided by the server. */
  owner: string;
  /** The client's namespace inside the owner, if it named one. */
  narrowed: string | undefined;
  /** Where entries are looked up and stored: the owner's, or the client's inside it. */
  namespace: string;
  /** Look for a cached answer (false with no-cache). */
  lookup: boolean;
  /** Store the answer (false with no-store or a TTL of 0). */
  store: boolean;
  ttlSeconds: number;
}

/**
 * Whether a request to this model with this key is cached. The key's and the model's settings
 * are explicit choices: if either says no, it is not; if either says yes, it is; otherwise
 * `cache.enabled` decides.
 */
export function cachingEnabled(config: CacheConfig, model: string, keySetting: boolean | null): boolean {
  const explicit = [keySetting, config.models[model]?.enabled ?? null];
  return explicit.includes(false) ? false : explicit.includes(true) ? true : config.enabled;
}

/** How a request that is cached is cached, for an owner: its controls over the model's and the config's defaults. */
export function planCaching(config: CacheConfig, model: string, controls: CacheControls, owner: string): CachePlan {
  const ttlSeconds = Math.min(controls.ttlSeconds ?? config.models[model]?.ttl_seconds ?? config.default_ttl_seconds, config.max_ttl_seconds);
  return {
    owner,
    narrowed: controls.namespace,
    namespace: namespaceOf(owner, controls.namespace),
    lookup: !controls.noCache,
    store: !controls.noStore && ttlSeconds > 0,
    ttlSeconds,
  };
}
