import { performance } from 'node:perf_hooks';
import type { GatewayContext } from '../pipeline/types.js';
import type { ProviderAdapter } from '../providers/adapter.js';
import type { ModelDeployment, ProviderRegistry } from '../providers/registry.js';
import type { OpenAIChatRequest, OpenAIContentPart, OpenAIEmbeddingsResponse, Usage } from '../providers/types.js';
import type { SpendLog } from '../spend/spend-log.js';
import { systemEmbeddingSpendRow } from '../spend/system-embedding-spend.js';
import type { SemanticCacheConfig } from './cache-config.js';

/** The spend-log principal of the embedding calls the semantic cache makes: gateway overhead, no key's budget. */
const SEMANTIC_CACHE_PRINCIPAL = 'semantic-cache';

/**
 * The semantic layer over the exact-match cache: which requests it applies to, and the prompt's
 * embedding through a configured embedding model, called like any other request through the
 * provider registry. Vectors are stored by the response cache, next to the answers.
 */
export interface SemanticCache {
  /** Cosine similarity at or above which a cached answer is served. */
  readonly threshold: number;
  /** Whether requests for this model get semantic lookups, given the namespace a client named and the one an admin pinned (if any). */
  appliesTo(namespaces: ReadonlyArray<string | undefined>, model: string): boolean;
  /**
   * The embedding of the request's prompt, or undefined when the prompt cannot be compared
   * (non-text parts, longer than max_prompt_chars) or the embedding call failed.
   */
  embed(ctx: GatewayContext, body: OpenAIChatRequest): Promise<Float32Array | undefined>;
}

/** What the semantic cache needs: its settings, the resolved embedding model, where to log the embedding calls. */
export interface SemanticCacheDeps {
  config: SemanticCacheConfig;
  model: EmbeddingModel;
  spendLog: SpendLog;
  now: () => number;
}

function partText(part: OpenAIContentPart): string | undefined {
  return part.type === 'text' && typeof part.text === 'string' ? part.text : undefined;
}

/** Every message as `role: text`, tool calls included; undefined when a message holds anything but text. */
function promptText(body: OpenAIChatRequest): string | undefined {
  const lines: string[] = [];
  for (const m of body.messages) {
    let text = '';
    if (typeof m.content === 'string') text = m.content;
    else if (Array.isArray(m.content)) {
      for (const part of m.content) {
        const t = partText(part);
        // An image or audio part changes the question in ways its text cannot show.
        if (t === undefined) return undefined;
        text += t;
      }
    }
    for (const tc of m.tool_calls ?? []) {
      // A call of a tool type the gateway does not know (a custom tool's) has no text form to compare.
      if (!tc.function) return undefined;
      text += `\n[call ${tc.function.name}(${tc.function.arguments})]`;
    }
    lines.push(`${m.role}: ${text}`);
  }
  return lines.join('\n');
}

type Embeddings = NonNullable<ProviderAdapter['embeddings']>;

/** The embedding model and its adapter's embeddings call. */
export interface EmbeddingModel {
  deployment: ModelDeployment;
  embeddings: Embeddings;
}

/** Resolves `cache.semantic.embedding_model`; a string says why it cannot embed. */
export function resolveEmbeddingModel(registry: ProviderRegistry, name: string): EmbeddingModel | string {
  const deployment = registry.resolveModel(name);
  if (!deployment) return `cache.semantic.embedding_model: unknown model "${name}"`;
  if (deployment.mode !== 'embedding') return `cache.semantic.embedding_model: "${name}" is a ${deployment.mode} model, not an embedding model`;
  const adapter = registry.adapter(deployment.provider.name);
  if (!adapter.embeddings) return `cache.semantic.embedding_model: the provider "${deployment.provider.name}" has no embeddings API`;
  return { deployment, embeddings: adapter.embeddings.bind(adapter) };
}

/** The semantic cache over a resolved embedding model (see resolveEmbeddingModel). */
export function createSemanticCache(deps: SemanticCacheDeps): SemanticCache {
  const { config, spendLog } = deps;
  const { deployment, embeddings } = deps.model;
  const models = new Set(config.models);
  const namespaces = new Set(config.namespaces);

  function record(ctx: GatewayContext, startedHr: number, status: number, usage: Usage, errorCode: string | null): void {
    spendLog.record(systemEmbeddingSpendRow({ id: ctx.id, principal: SEMANTIC_CACHE_PRINCIPAL, time: deps.now(), deployment, usage, latencyMs: performance.now() - startedHr, status, errorCode }));
  }

  return {
    threshold: config.threshold,
    appliesTo: (names, model) => models.has(model) || names.some((n) => n !== undefined && namespaces.has(n)),
    async embed(ctx, body) {
      const text = promptText(body);
      if (text === undefined || text.length > config.max_prompt_chars) return undefined;
      const startedHr = performance.now();
      try {
        const response = await embeddings(
          { model: deployment.name, input: text },
          { requestedModel: deployment.name, upstreamModel: deployment.upstreamModel, signal: ctx.abort, forwardedHeaders: {} },
        );
        record(ctx, startedHr, response.status, response.usage, null);
        const parsed = (response.body ?? JSON.parse(response.text ?? '')) as OpenAIEmbeddingsResponse;
        const embedding = parsed.data?.[0]?.embedding;
        if (!Array.isArray(embedding) || embedding.length === 0) throw new Error('the embedding response holds no vector');
        return Float32Array.from(embedding);
      } catch (err) {
        // The semantic lookup is an optimisation: without a vector the request goes on as an exact-match miss.
        ctx.log.warn({ err, model: deployment.name }, 'semantic cache: could not embed the prompt');
        return undefined;
      }
    },
  };
}
