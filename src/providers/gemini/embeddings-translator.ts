import type { EmbeddingsTranslator } from '../translated-adapter.js';
import { estimateEmbeddingTokens, fromGeminiEmbeddingsResponse, toGeminiEmbeddingsRequest } from './translate-embeddings.js';

/** Gemini reports no token usage for embeddings, so input tokens are estimated from the text. */
export const geminiEmbeddingsTranslator: EmbeddingsTranslator = {
  toUpstreamRequest: toGeminiEmbeddingsRequest,
  fromUpstreamResponse(body, model, inputTokens, encodingFormat) {
    const response = fromGeminiEmbeddingsResponse(body, model, inputTokens, encodingFormat);
    return { body: response, usage: { input_tokens: response.usage.prompt_tokens, cached_input_tokens: 0, output_tokens: 0, estimated: true } };
  },
  estimateInputTokens: (req) => estimateEmbeddingTokens(req.input),
};
