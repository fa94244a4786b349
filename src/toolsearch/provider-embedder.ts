import { randomUUID } from 'node:crypto';
import { Cancellation } from '../core/cancellation.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { OpenAIEmbeddingsResponse } from '../providers/types.js';
import { costMicros } from '../spend/pricing.js';
import type { SpendLog } from '../spend/spend-log.js';
import type { SpendRecord } from '../spend/spend-record.js';
import { usageFromOpenAI } from '../spend/usage.js';
import { normalise, type Embedder } from './embedder.js';

/** Texts per upstream request: well under every provider's input limit. */
const BATCH = 64;

/**
 * Embeddings from a model configured in the gateway (`toolsearch.embedding_model`), through the
 * same provider adapters as `/v1/embeddings`: OpenAI, Gemini (translated) or any OpenAI-compatible
 * local server. The model is resolved on each call so a config reload or a new provider key applies.
 * Every upstream call is a spend row of the principal `system:toolsearch` (no key pays for the
 * index, but the operator sees what it costs).
 */
export class ProviderEmbedder implements Embedder {
  readonly id: string;

  constructor(
    private readonly registry: ProviderRegistry,
    private readonly model: string,
    readonly dimensions: number,
    private readonly spend: { log: Pick<SpendLog, 'record'>; now: () => number },
  ) {
    this.id = `model:${model}:${dimensions}`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const deployment = this.registry.resolveModel(this.model);
    if (!deployment) throw new GatewayError('SF_ERR_MODEL_NOT_FOUND', { message: `toolsearch.embedding_model "${this.model}" is not a model of this gateway.` });
    const adapter = this.registry.adapter(deployment.provider.name);
    if (!adapter.embeddings) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `The provider of "${this.model}" has no embeddings API.` });
    const out: Float32Array[] = [];
    for (let at = 0; at < texts.length; at += BATCH) {
      const input = texts.slice(at, at + BATCH);
      const call = { requestedModel: this.model, upstreamModel: deployment.upstreamModel, signal: new Cancellation(), forwardedHeaders: {} };
      const startedAt = this.spend.now();
      const started = performance.now();
      const response = await adapter.embeddings({ model: deployment.upstreamModel, input, encoding_format: 'float', dimensions: this.dimensions }, call);
      const body = (response.body ?? JSON.parse(response.text ?? '{}')) as OpenAIEmbeddingsResponse;
      const usage = usageFromOpenAI(body.usage);
      this.spend.log.record(indexSpendRow({ startedAt, latencyMs: performance.now() - started, model: this.model, provider: deployment.provider.name, upstreamModel: deployment.upstreamModel, status: response.status, usage, cost: costMicros(usage, deployment.price) }));
      if (response.status !== 200 || !Array.isArray(body.data) || body.data.length !== input.length) {
        throw new GatewayError('SF_ERR_UPSTREAM_ERROR', { message: `Embedding model "${this.model}" answered ${response.status} without ${input.length} vectors.` });
      }
      for (const item of [...body.data].sort((a, b) => a.index - b.index)) {
        const values = typeof item.embedding === 'string' ? decodeBase64(item.embedding) : Float32Array.from(item.embedding);
        if (values.length !== this.dimensions) throw new GatewayError('SF_ERR_UPSTREAM_ERROR', { message: `Embedding model "${this.model}" returned ${values.length} dimensions, not ${this.dimensions}.` });
        out.push(normalise(values));
      }
    }
    return out;
  }
}

function indexSpendRow(r: { startedAt: number; latencyMs: number; model: string; provider: string; upstreamModel: string; status: number; usage: ReturnType<typeof usageFromOpenAI>; cost: number }): SpendRecord {
  return {
    id: randomUUID(),
    time: r.startedAt,
    principal: 'system:toolsearch',
    key_id: null,
    team_id: null,
    model: r.model,
    provider: r.provider,
    upstream_model: r.upstreamModel,
    operation: 'embeddings',
    stream: false,
    input_tokens: r.usage.input_tokens,
    cached_input_tokens: r.usage.cached_input_tokens,
    output_tokens: r.usage.output_tokens,
    cost_micros: r.status === 200 ? r.cost : 0,
    usage_estimated: false,
    latency_ms: Math.round(r.latencyMs * 1000) / 1000,
    ttft_ms: null,
    status: r.status,
    error_code: r.status === 200 ? null : 'upstream_error',
    cache_status: null,
    saved_cost_micros: 0,
    fallback_chain: null,
    attempts: null,
    loop_id: null,
    loop_step: null,
    trace_id: null,
  };
}

function decodeBase64(text: string): Float32Array {
  const buf = Buffer.from(text, 'base64');
  const out = new Float32Array(Math.floor(buf.length / 4));
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}
