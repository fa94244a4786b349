import type { Usage } from '../providers/types.js';

/** Token prices in USD per million tokens. USD per million tokens equals micro-USD per token. */
export interface TokenPrice {
  input: number;
  output: number;
  /** Price of input tokens served from the provider's prompt cache. */
  cached_input?: number;
  /** Price of Anthropic prompt-cache writes. */
  cache_write?: number;
}

/**
 * A model's prices: tokens in USD per million, a long-context tier, and per-call prices of the
 * provider's billable server tools (web search ...) in USD per call.
 */
export interface ModelPrice extends TokenPrice {
  /**
   * Prompts above `threshold_tokens` input tokens are billed at these prices for every token of
   * the request (input and output), as Anthropic (1M-context beta) and Gemini 2.5 Pro do.
   */
  long_context?: TokenPrice & { threshold_tokens: number };
  /** USD per call of a server tool, by kind (`web_search`, `web_fetch`, `code_execution`, `file_search` ...). */
  per_call?: Readonly<Record<string, number>>;
}

export interface CatalogueModel {
  provider_type: 'openai' | 'anthropic' | 'gemini';
  mode: 'chat' | 'embedding';
  price: ModelPrice;
  max_output_tokens?: number;
  context_window?: number;
}

/** Claude Sonnet 4 and 4.5 with the 1M-token context beta: prompts above 200k tokens cost more, in and out. */
const SONNET_1M_TIER = { threshold_tokens: 200_000, input: 6, output: 22.5, cached_input: 0.6, cache_write: 7.5 };

/**
 * Per-call prices (USD) of the server tools each provider type bills on top of tokens, as the
 * providers publish them: Anthropic web search $10 per 1,000 searches (web fetch costs only its
 * tokens); OpenAI web search $10, file search $2.50 per 1,000 calls and a code interpreter
 * container $0.03; Gemini grounding with Google Search $35 per 1,000 grounded prompts.
 * Config entries (`server_tool_cost_per_call`) override them per model.
 */
export const SERVER_TOOL_PRICES: Readonly<Record<CatalogueModel['provider_type'], Readonly<Record<string, number>>>> = {
  anthropic: { web_search: 0.01 },
  openai: { web_search: 0.01, file_search: 0.0025, code_interpreter: 0.03 },
  gemini: { google_search: 0.035 },
};

/**
 * Built-in prices for current mainstream models, as the providers publish them (standard tier,
 * prompts under any long-context surcharge threshold). Config entries override these.
 */
export const MODEL_CATALOGUE: Readonly<Record<string, CatalogueModel>> = {
  'gpt-5': { provider_type: 'openai', mode: 'chat', price: { input: 1.25, output: 10, cached_input: 0.125 }, max_output_tokens: 128_000, context_window: 400_000 },
  'gpt-5-codex': { provider_type: 'openai', mode: 'chat', price: { input: 1.25, output: 10, cached_input: 0.125 }, max_output_tokens: 128_000, context_window: 400_000 },
  'gpt-5-mini': { provider_type: 'openai', mode: 'chat', price: { input: 0.25, output: 2, cached_input: 0.025 }, max_output_tokens: 128_000, context_window: 400_000 },
  'gpt-5-nano': { provider_type: 'openai', mode: 'chat', price: { input: 0.05, output: 0.4, cached_input: 0.005 }, max_output_tokens: 128_000, context_window: 400_000 },
  'gpt-4.1': { provider_type: 'openai', mode: 'chat', price: { input: 2, output: 8, cached_input: 0.5 }, max_output_tokens: 32_768, context_window: 1_047_576 },
  'gpt-4.1-mini': { provider_type: 'openai', mode: 'chat', price: { input: 0.4, output: 1.6, cached_input: 0.1 }, max_output_tokens: 32_768, context_window: 1_047_576 },
  'gpt-4.1-nano': { provider_type: 'openai', mode: 'chat', price: { input: 0.1, output: 0.4, cached_input: 0.025 }, max_output_tokens: 32_768, context_window: 1_047_576 },
  'gpt-4o': { provider_type: 'openai', mode: 'chat', price: { input: 2.5, output: 10, cached_input: 1.25 }, max_output_tokens: 16_384, context_window: 128_000 },
  'gpt-4o-mini': { provider_type: 'openai', mode: 'chat', price: { input: 0.15, output: 0.6, cached_input: 0.075 }, max_output_tokens: 16_384, context_window: 128_000 },
  o3: { provider_type: 'openai', mode: 'chat', price: { input: 2, output: 8, cached_input: 0.5 }, max_output_tokens: 100_000, context_window: 200_000 },
  'o4-mini': { provider_type: 'openai', mode: 'chat', price: { input: 1.1, output: 4.4, cached_input: 0.275 }, max_output_tokens: 100_000, context_window: 200_000 },
  'text-embedding-3-small': { provider_type: 'openai', mode: 'embedding', price: { input: 0.02, output: 0 }, context_window: 8_191 },
  'text-embedding-3-large': { provider_type: 'openai', mode: 'embedding', price: { input: 0.13, output: 0 }, context_window: 8_191 },
  'claude-opus-4-5': { provider_type: 'anthropic', mode: 'chat', price: { input: 5, output: 25, cached_input: 0.5, cache_write: 6.25 }, max_output_tokens: 64_000, context_window: 200_000 },
  'claude-opus-4-1': { provider_type: 'anthropic', mode: 'chat', price: { input: 15, output: 75, cached_input: 1.5, cache_write: 18.75 }, max_output_tokens: 32_000, context_window: 200_000 },
  'claude-sonnet-4-5': { provider_type: 'anthropic', mode: 'chat', price: { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75, long_context: SONNET_1M_TIER }, max_output_tokens: 64_000, context_window: 200_000 },
  'claude-sonnet-4': { provider_type: 'anthropic', mode: 'chat', price: { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75, long_context: SONNET_1M_TIER }, max_output_tokens: 64_000, context_window: 200_000 },
  'claude-haiku-4-5': { provider_type: 'anthropic', mode: 'chat', price: { input: 1, output: 5, cached_input: 0.1, cache_write: 1.25 }, max_output_tokens: 64_000, context_window: 200_000 },
  'gemini-2.5-pro': { provider_type: 'gemini', mode: 'chat', price: { input: 1.25, output: 10, cached_input: 0.125, long_context: { threshold_tokens: 200_000, input: 2.5, output: 15, cached_input: 0.25 } }, max_output_tokens: 65_536, context_window: 1_048_576 },
  'gemini-2.5-flash': { provider_type: 'gemini', mode: 'chat', price: { input: 0.3, output: 2.5, cached_input: 0.03 }, max_output_tokens: 65_536, context_window: 1_048_576 },
  'gemini-2.5-flash-lite': { provider_type: 'gemini', mode: 'chat', price: { input: 0.1, output: 0.4, cached_input: 0.01 }, max_output_tokens: 65_536, context_window: 1_048_576 },
  'gemini-embedding-001': { provider_type: 'gemini', mode: 'embedding', price: { input: 0.15, output: 0 }, context_window: 2_048 },
};

/** The token prices that apply to a request with this many input tokens: the long-context tier above its threshold. */
export function tokenPriceFor(price: ModelPrice, inputTokens: number): TokenPrice {
  const tier = price.long_context;
  return tier && inputTokens > tier.threshold_tokens ? tier : price;
}

/** Micro-USD of the server tool calls a request made, at the price table's per-call prices. */
function serverToolMicros(calls: Usage['server_tool_calls'], perCall: ModelPrice['per_call']): number {
  if (!calls || !perCall) return 0;
  let total = 0;
  for (const [kind, count] of Object.entries(calls)) total += count * (perCall[kind] ?? 0) * 1_000_000;
  return total;
}

/**
 * Cost of a request in integer micro-USD, rounded up so that many small requests never
 * add up to less than they cost.
 */
export function costMicros(usage: Usage, price: ModelPrice | undefined): number {
  if (!price) return 0;
  const tokens = tokenPriceFor(price, usage.input_tokens);
  const cached = Math.min(usage.cached_input_tokens, usage.input_tokens);
  const writes = usage.cache_creation_input_tokens ?? 0;
  const plainInput = Math.max(0, usage.input_tokens - cached - writes);
  const total =
    plainInput * tokens.input +
    cached * (tokens.cached_input ?? tokens.input) +
    writes * (tokens.cache_write ?? tokens.input) +
    usage.output_tokens * tokens.output +
    serverToolMicros(usage.server_tool_calls, price.per_call);
  return Math.ceil(total - 1e-9);
}
