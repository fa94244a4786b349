import type { RequestLog } from '../core/request-log.js';
import type { McpServerRegistry } from '../mcp/registry.js';
import type { UpstreamPool } from '../mcp/upstream/upstream-pool.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { SpendLog } from '../spend/spend-log.js';
import type { Store } from '../storage/types.js';
import type { ToolSearchConfig } from './config.js';
import { HashedEmbedder } from './hashed-embedder.js';
import { ProviderEmbedder } from './provider-embedder.js';
import { DEFAULT_RANKING } from './ranking.js';
import { ToolSearchIndex } from './tool-search-index.js';

export interface ToolSearchDeps {
  config: ToolSearchConfig;
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  providers: ProviderRegistry;
  store: Store;
  /** Where the embedding model's calls are recorded (they cost money, whoever searched). */
  spendLog: Pick<SpendLog, 'record'>;
  log: RequestLog;
  now: () => number;
}

/** The gateway's tool search index, with the embedder the config names (the offline one by default). */
export function createToolSearch(deps: ToolSearchDeps): ToolSearchIndex {
  const { config } = deps;
  const embedder = config.embedding_model === undefined ? new HashedEmbedder() : new ProviderEmbedder(deps.providers, config.embedding_model, config.dimensions, { log: deps.spendLog, now: deps.now });
  return new ToolSearchIndex({
    registry: deps.registry,
    upstreams: deps.upstreams,
    store: deps.store,
    embedder,
    log: deps.log,
    now: deps.now,
    refreshIntervalMs: config.refresh_interval_ms,
    ranking: { ...DEFAULT_RANKING, lexicalWeight: config.lexical_weight },
  });
}
