import type { OpenAIUsage, Usage } from '../providers/types.js';

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

/** OpenAI usage (chat or embeddings) in the gateway's vocabulary; tolerant of missing fields. */
export function usageFromOpenAI(u: Partial<OpenAIUsage> | null | undefined): Usage {
  if (!u || typeof u !== 'object') return { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 };
  const details = u.prompt_tokens_details;
  return {
    input_tokens: count(u.prompt_tokens),
    cached_input_tokens: count(details && typeof details === 'object' ? details.cached_tokens : 0),
    output_tokens: count(u.completion_tokens),
  };
}
