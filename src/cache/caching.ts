import { ConfigError } from '../config/load.js';
import type { RequestLog } from '../core/request-log.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { SpendLog } from '../spend/spend-log.js';
import type { Store } from '../storage/types.js';
import type { CacheConfig } from './cache-config.js';
import { createResponseCache, type ResponseCache } from './response-cache.js';
import { createSemanticCache, resolveEmbeddingModel, type SemanticCache } from './semantic-cache.js';

/** The response cache and, when configured, the semantic cache over it. */
export interface Caching {
  cache: ResponseCache;
  semantic: SemanticCache | null;
  /**
   * Rejects with a ConfigError when the semantic cache's embedding model cannot embed. Run as an
   * onReady hook, so a failed start goes through listen()'s clean-up like any other.
   */
  verify(): Promise<void>;
}

/** What building the caches needs. */
export interface CachingDeps {
  config: CacheConfig;
  store: Store;
  registry: ProviderRegistry;
  spendLog: SpendLog;
  now: () => number;
  log: RequestLog;
}

/** Builds the response cache for the configured backend and, when `cache.semantic` is set, the semantic cache. */
export function createCaching(deps: CachingDeps): Caching {
  const cache = createResponseCache({ config: deps.config, store: deps.store, now: deps.now, log: deps.log });
  const semantic = deps.config.semantic;
  if (!semantic) return { cache, semantic: null, verify: async () => undefined };
  const model = resolveEmbeddingModel(deps.registry, semantic.embedding_model);
  if (typeof model === 'string') {
    return {
      cache,
      semantic: null,
      async verify() {
        throw new ConfigError(model);
      },
    };
  }
  return { cache, semantic: createSemanticCache({ config: semantic, model, spendLog: deps.spendLog, now: deps.now }), verify: async () => undefined };
}
