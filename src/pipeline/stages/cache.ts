import type { CacheConfig } from '../../cache/cache-config.js';
import type { CachedAnswer, CacheEntry } from '../../cache/cache-entry.js';
import { cacheKey, semanticScope, type CacheKeyInput } from '../../cache/cache-key.js';
import { cacheOwner } from '../../cache/cache-owner.js';
import { cachingEnabled, planCaching, readCacheControls, type CachePlan } from '../../cache/controls.js';
import { keyContext } from '../../cache/key-context.js';
import { callerAnthropicKey } from '../../providers/anthropic/client-headers.js';
import { withoutCacheControls } from '../../schemas/gateway-fields.js';
import type { ResponseCache } from '../../cache/response-cache.js';
import type { SemanticCache } from '../../cache/semantic-cache.js';
import { captureStream } from '../../cache/capture-stream.js';
import { cachedResponse } from '../../cache/cached-response.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Usage } from '../../providers/types.js';
import { costMicros } from '../../spend/pricing.js';
import type { GatewayRequest } from '../../providers/gateway-request.js';
import type { CacheOutcome, GatewayContext, Stage } from '../types.js';

export interface CacheStageDeps {
  config: CacheConfig;
  cache: ResponseCache;
  /** Null when no semantic cache is configured. */
  semantic: SemanticCache | null;
  /** The gateway clock: TTLs and `age`. */
  now: () => number;
  /** passthrough.anthropic.allow_byok: whether callers' own Anthropic keys may replace the provider's. */
  allowAnthropicByok: boolean;
}

/** Where a semantic hit's vector goes once its answer is stored. */
interface SemanticRef {
  scope: string;
  vector: Float32Array;
}

/** The request with the `cache` object taken out of its body. */
function stripped(request: GatewayRequest): GatewayRequest {
  switch (request.operation) {
    case 'chat':
      return { operation: 'chat', body: withoutCacheControls(request.body) };
    case 'embeddings':
      return { operation: 'embeddings', body: withoutCacheControls(request.body) };
    case 'messages':
      return { ...request, body: withoutCacheControls(request.body) };
    case 'responses':
      return { ...request, body: withoutCacheControls(request.body) };
  }
}

/**
 * The response cache (docs/caching.md). Before `next()`: strips and reads the per-request
 * controls, computes the key, and on a hit (exact, or semantic when configured) answers from the
 * cache without calling `next()`, so no provider is called and the usage, hence the cost, stays
 * zero. After `next()`: stores a successful JSON answer at once, and a stream as it passes, once
 * it has ended cleanly. Errors and partial streams are never stored. Storage failures are logged
 * and never fail the request.
 */
export function createCacheStage(deps: CacheStageDeps): Stage {
  const { cache } = deps;

  /** Registers the namespace's use; false when the owner holds too many. A store failure admits it: lookups then fail as misses. */
  async function claim(ctx: GatewayContext, plan: CachePlan): Promise<boolean> {
    try {
      return await cache.claim(plan.owner, plan.narrowed);
    } catch (err) {
      ctx.log.warn({ err }, 'could not register a cache namespace');
      return true;
    }
  }

  async function find(ctx: GatewayContext, namespace: string, key: string): Promise<CacheEntry | undefined> {
    try {
      return await cache.get(namespace, key);
    } catch (err) {
      ctx.log.warn({ err }, 'cache lookup failed; treated as a miss');
      return undefined;
    }
  }

  /** Answers from the entry; false when the cached answer cannot take the form the request wants. */
  function serve(ctx: GatewayContext, outcome: CacheOutcome, entry: CacheEntry, similarity?: number): boolean {
    const request = ctx.request;
    let response;
    try {
      response = cachedResponse(entry, {
        verbatimOnly: request?.operation === 'messages' || request?.operation === 'responses',
        stream: ctx.stream,
        logprobs: request?.body.logprobs === true,
        includeUsage: request?.operation === 'chat' && request.body.stream_options?.include_usage === true,
      });
    } catch (err) {
      ctx.log.warn({ err }, 'a cached answer could not be replayed; treated as a miss');
      return false;
    }
    if (!response) return false;
    ctx.response = response;
    return hit(ctx, outcome, entry, similarity);
  }

  function hit(ctx: GatewayContext, outcome: CacheOutcome, entry: CacheEntry, similarity: number | undefined): true {
    outcome.status = 'hit';
    outcome.key = entry.key;
    outcome.savedCostMicros = entry.costMicros;
    const headers = ctx.responseHeaders;
    headers['x-smartflow-cache'] = 'HIT';
    headers['x-smartflow-cache-key'] = entry.key;
    headers.age = String(Math.max(0, Math.floor((deps.now() - entry.createdAt) / 1000)));
    if (similarity !== undefined) headers['x-smartflow-cache-similarity'] = similarity.toFixed(4);
    return true;
  }

  /** Stores an answer (and its prompt vector); true when it was stored. */
  async function save(ctx: GatewayContext, plan: CachePlan, key: string, answer: CachedAnswer, usage: Usage, semantic: SemanticRef | undefined): Promise<boolean> {
    const createdAt = deps.now();
    const expiresAt = createdAt + plan.ttlSeconds * 1000;
    // ctx.deployment is the deployment that answered (the route stage may have moved on from the first).
    const entry: CacheEntry = { key, namespace: plan.namespace, answer, usage, costMicros: costMicros(usage, ctx.deployment?.price), createdAt, expiresAt };
    try {
      if (!(await cache.set(entry))) return false;
      if (semantic) await cache.addVector(plan.namespace, semantic.scope, { key, vector: semantic.vector, expiresAt });
      return true;
    } catch (err) {
      ctx.log.warn({ err }, 'could not store an answer in the cache');
      return false;
    }
  }

  return {
    name: 'cache',
    async run(ctx, next) {
      const request = ctx.request;
      const deployment = ctx.deployment;
      if (!request || !deployment) throw new GatewayError('SF_ERR_INTERNAL', { message: 'The cache stage ran before the request was validated and resolved.' });
      // A fallback chain is one model to its callers, whichever target answers (or is cooling down).
      const model = ctx.plan?.chainId ?? deployment.name;
      const enabled = cachingEnabled(deps.config, model, ctx.principal?.policy?.cache ?? null);
      // The body's `cache` object is checked and removed whether or not caching applies; the
      // headers are ordinary HTTP headers and mean nothing where it does not.
      const controls = readCacheControls(request.body, enabled ? ctx.headers : {});
      const forwarded = 'cache' in request.body ? stripped(request) : request;
      ctx.request = forwarded;
      const principal = ctx.principal;
      if (!enabled || !principal) return next();
      const nativeAnthropic = request.operation === 'messages';
      const ownProviderKey = nativeAnthropic ? callerAnthropicKey(ctx.headers, principal, deps.allowAnthropicByok) : undefined;
      const owner = cacheOwner(deps.config.scope, principal, ownProviderKey !== undefined);
      const plan = planCaching(deps.config, model, controls, owner);

      const body = forwarded.body;
      const form = ctx.stream ? 'sse' : 'json';
      const operation = request.operation === 'messages' || request.operation === 'responses' ? (`${request.operation}:${form}` as const) : request.operation;
      const context = keyContext({ nativeAnthropic, headers: ctx.headers, query: nativeAnthropic ? request.query : '', longContext: ctx.longContext, ownProviderKey });
      // A Responses request is keyed by its own body: its chat translation leaves out what only native providers read.
      const keyInput: CacheKeyInput = { namespace: plan.namespace, operation, model, body: forwarded.operation === 'responses' ? forwarded.native.body : body, context };
      const key = cacheKey(keyInput);
      // A namespace over its owner's limit is neither looked up, counted nor stored.
      const admitted = (!plan.lookup && !plan.store) || (await claim(ctx, plan));
      const lookup = plan.lookup && admitted;
      const outcome: CacheOutcome = { status: lookup ? 'miss' : 'bypass', key, savedCostMicros: 0 };
      ctx.cache = outcome;
      ctx.responseHeaders['x-smartflow-cache-key'] = key;
      ctx.responseHeaders['x-smartflow-cache'] = lookup ? 'MISS' : 'BYPASS';
      if (!admitted) return next();

      // Only chat prompts are compared by meaning; embeddings inputs match exactly or not at all.
      const chatBody = forwarded.operation === 'chat' || forwarded.operation === 'responses' ? forwarded.body : null;
      const pin = owner.startsWith('pin/') ? owner.slice('pin/'.length) : undefined;
      const semantic = chatBody && deps.semantic?.appliesTo([plan.narrowed, pin], model) ? deps.semantic : null;
      if (plan.lookup) {
        const entry = await find(ctx, plan.namespace, key);
        if (entry && serve(ctx, outcome, entry)) {
          cache.recordLookup(plan.namespace, true);
          return;
        }
      }
      let semanticRef: SemanticRef | undefined;
      if (semantic && chatBody && (plan.lookup || plan.store)) {
        const vector = await semantic.embed(ctx, chatBody);
        // The Responses API's prompt is `input` and `instructions`: compared by meaning, so not part of the scope.
        const scopeInput = forwarded.operation === 'responses' ? { ...keyInput, body: { ...keyInput.body, input: undefined, instructions: undefined } } : keyInput;
        if (vector) semanticRef = { scope: semanticScope(scopeInput, ctx.principal?.policy?.fingerprint ?? 'master'), vector };
      }
      if (plan.lookup && semantic && semanticRef) {
        const near = await cache.nearest(plan.namespace, semanticRef.scope, semanticRef.vector).catch((err: unknown) => {
          ctx.log.warn({ err }, 'semantic cache lookup failed; treated as a miss');
          return undefined;
        });
        if (near && near.similarity >= semantic.threshold) {
          const entry = await find(ctx, plan.namespace, near.key);
          if (entry && serve(ctx, outcome, entry, near.similarity)) {
            cache.recordLookup(plan.namespace, true);
            return;
          }
        }
      }
      if (plan.lookup) cache.recordLookup(plan.namespace, false);

      await next();

      const response = ctx.response;
      if (!plan.store || !response || response.status !== 200) return;
      if (response.kind === 'json') {
        if (ctx.abort.aborted) return;
        const stored = await save(ctx, plan, key, { kind: 'json', text: response.text ?? JSON.stringify(response.body) }, response.usage, semanticRef);
        if (stored && outcome.status === 'miss') {
          outcome.status = 'stored';
          ctx.responseHeaders['x-smartflow-cache'] = 'STORED';
        }
        return;
      }
      // The headers of a stream are gone before it ends: it stays MISS there; the spend log says `stored`.
      ctx.response = {
        ...response,
        frames: captureStream(response.frames, {
          nativeAnthropic,
          maxEntryBytes: deps.config.max_entry_bytes,
          aborted: () => ctx.abort.aborted,
          complete: async (frames) => {
            if ((await save(ctx, plan, key, { kind: 'sse', frames }, response.usage(), semanticRef)) && outcome.status === 'miss') outcome.status = 'stored';
          },
        }),
      };
    },
  };
}
