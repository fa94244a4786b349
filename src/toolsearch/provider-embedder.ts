import { randomUUID } from 'node:crypto';
import { Cancellation } from '../core/cancellation.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { OpenAIEmbeddingsResponse } from '../providers/types.js';
import type { SpendLog } from '../spend/spend-log.js';
import { systemEmbeddingSpendRow } from '../spend/system-embedding-spend.js';
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
      const ok = response.status === 200;
      this.spend.log.record(
        systemEmbeddingSpendRow({ id: randomUUID(), principal: 'system:toolsearch', time: startedAt, deployment, usage: usageFromOpenAI(ok ? body.usage : undefined), latencyMs: performance.now() - started, status: response.status, errorCode: ok ? null : 'upstream_error' }),
      );
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

function decodeBase64(text: string): Float32Array {
  const buf = Buffer.from(text, 'base64');
  const out = new Float32Array(Math.floor(buf.length / 4));
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}
