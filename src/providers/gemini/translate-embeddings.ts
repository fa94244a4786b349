import { GatewayError } from '../../errors/gateway-error.js';
import { encodeEmbedding } from '../embedding-encoding.js';
import type { OpenAIEmbeddingsRequest, OpenAIEmbeddingsResponse, ProviderConfig, UpstreamRequest } from '../types.js';
import { geminiBaseUrl, geminiHeaders, geminiModelPath } from './translator.js';

function inputTexts(input: OpenAIEmbeddingsRequest['input']): string[] {
  const list: unknown[] = Array.isArray(input) ? input : [input];
  if (list.length === 0) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'input must not be empty.', param: 'input' });
  return list.map((item) => {
    // OpenAI accepts pre-tokenized input (token id arrays); Gemini has no such form.
    if (typeof item !== 'string') {
      throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'Gemini embedding models accept text input only, not token arrays.', param: 'input' });
    }
    return item;
  });
}

/**
 * Gemini returns no token counts for embeddings, so usage is estimated as one token per four
 * characters (at least one per input). Callers pass the result to `fromGeminiEmbeddingsResponse`.
 */
export function estimateEmbeddingTokens(input: OpenAIEmbeddingsRequest['input']): number {
  const list: unknown[] = Array.isArray(input) ? input : [input];
  return list.reduce<number>((sum, item) => sum + (typeof item === 'string' ? Math.max(1, Math.ceil(item.length / 4)) : 0), 0);
}

/**
 * OpenAI embeddings request -> Gemini `batchEmbedContents` (one call for one or many inputs).
 * `dimensions` maps to `outputDimensionality`; `encoding_format` is applied on the way back.
 */
export function toGeminiEmbeddingsRequest(req: OpenAIEmbeddingsRequest, upstreamModel: string, provider: ProviderConfig): UpstreamRequest {
  const model = `models/${geminiModelPath(upstreamModel)}`;
  const requests = inputTexts(req.input).map((text) => {
    const r: Record<string, unknown> = { model, content: { parts: [{ text }] } };
    if (req.dimensions !== undefined) r['outputDimensionality'] = req.dimensions;
    return r;
  });
  return {
    method: 'POST',
    url: `${geminiBaseUrl(provider)}/v1beta/${model}:batchEmbedContents`,
    headers: geminiHeaders(provider),
    body: JSON.stringify({ requests }),
  };
}

function vectors(body: unknown): number[][] {
  const embeddings = typeof body === 'object' && body !== null && 'embeddings' in body ? body.embeddings : undefined;
  if (!Array.isArray(embeddings)) {
    throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: 'Gemini returned an embeddings response without embeddings.' });
  }
  return embeddings.map((e: unknown) => {
    const values = typeof e === 'object' && e !== null && 'values' in e ? e.values : undefined;
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'number')) {
      throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: 'Gemini returned an embedding without values.' });
    }
    return values;
  });
}

/**
 * Gemini `batchEmbedContents` response -> OpenAI embeddings response. `inputTokens` is the
 * caller's estimate (see `estimateEmbeddingTokens`) because Gemini reports no usage.
 */
export function fromGeminiEmbeddingsResponse(
  body: unknown,
  model: string,
  inputTokens: number,
  encodingFormat: OpenAIEmbeddingsRequest['encoding_format'] = 'float',
): OpenAIEmbeddingsResponse {
  return {
    object: 'list',
    data: vectors(body).map((values, index) => ({
      object: 'embedding',
      index,
      embedding: encodeEmbedding(values, encodingFormat),
    })),
    model,
    usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
  };
}
