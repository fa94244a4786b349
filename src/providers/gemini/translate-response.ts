import { GatewayError } from '../../errors/gateway-error.js';
import type { OpenAIChatCompletion, OpenAIFinishReason, OpenAIToolCall, OpenAIUsage, Usage } from '../types.js';
import { tokenCount } from '../wire-utils.js';

/** The members of a Gemini response `Part` the gateway reads. */
export interface GeminiPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  functionCall?: { id?: string; name?: string; args?: Record<string, unknown> };
}

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  index?: number;
  /** Present when the answer was grounded with Google Search (the `google_search` tool). */
  groundingMetadata?: { webSearchQueries?: unknown[] };
}

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  toolUsePromptTokenCount?: number;
  totalTokenCount?: number;
}

/** A `GenerateContentResponse`, or one streamed fragment of it. */
export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsageMetadata;
  responseId?: string;
  modelVersion?: string;
  error?: unknown;
}

/** A tool call carrying Gemini's thought signature the way Google's OpenAI-compatible API does. */
export type GeminiToolCall = OpenAIToolCall & { extra_content?: { google: { thought_signature: string } } };

const FILTER_REASONS = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

/**
 * Gemini finish reason -> OpenAI. Gemini says STOP even when it called functions, while
 * OpenAI clients loop on `tool_calls`, so the caller says whether the candidate called any.
 * Unknown reasons (OTHER, MALFORMED_FUNCTION_CALL, ...) become `stop`: the answer ended.
 */
export function mapFinishReason(reason: string, hasToolCalls: boolean): OpenAIFinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTER_REASONS.has(reason)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/**
 * Whether the answer was grounded with Google Search: Google bills grounding per prompt that
 * ran a search (`webSearchQueries`), which the price table charges per call as `google_search`.
 */
export function groundedWithSearch(candidates: readonly GeminiCandidate[] | undefined): boolean {
  return (candidates ?? []).some((c) => Array.isArray(c.groundingMetadata?.webSearchQueries) && c.groundingMetadata.webSearchQueries.length > 0);
}

/** `usage` with one `google_search` call when the answer was grounded. */
export function withGrounding(usage: Usage, grounded: boolean): Usage {
  return grounded ? { ...usage, server_tool_calls: { google_search: 1 } } : usage;
}

/**
 * Gemini usage -> gateway usage. Thinking tokens are billed as output, and tool-use prompt
 * tokens (code execution, search) as input, so both are folded in. `promptTokenCount`
 * already includes cached tokens, matching our "cached is a subset of input" rule.
 */
export function mapUsage(meta: GeminiUsageMetadata | undefined): Usage {
  return {
    input_tokens: tokenCount(meta?.promptTokenCount) + tokenCount(meta?.toolUsePromptTokenCount),
    cached_input_tokens: tokenCount(meta?.cachedContentTokenCount),
    output_tokens: tokenCount(meta?.candidatesTokenCount) + tokenCount(meta?.thoughtsTokenCount),
  };
}

/** Gateway usage -> the OpenAI `usage` object; reasoning tokens are shown only when Gemini thought. */
export function toOpenAIUsage(usage: Usage, meta: GeminiUsageMetadata | undefined): OpenAIUsage {
  const out: OpenAIUsage = {
    prompt_tokens: usage.input_tokens,
    completion_tokens: usage.output_tokens,
    total_tokens: usage.input_tokens + usage.output_tokens,
    prompt_tokens_details: { cached_tokens: usage.cached_input_tokens },
  };
  const thoughts = tokenCount(meta?.thoughtsTokenCount);
  if (thoughts > 0) out['completion_tokens_details'] = { reasoning_tokens: thoughts };
  return out;
}

/** Completion id: Gemini's responseId when sent, else derived from `created` so tests stay stable. */
export function completionId(body: GeminiResponse, created: number): string {
  return typeof body.responseId === 'string' && body.responseId !== '' ? `chatcmpl-${body.responseId}` : `chatcmpl-gemini-${created}`;
}

/**
 * Gemini function call -> OpenAI tool call. Gemini usually sends no id, so one is derived from the
 * position and name (`call_<index>_<name>`); embedding the name lets a later tool result be
 * matched even if the client drops the assistant message. The thought signature rides along in
 * `extra_content.google` so a client that echoes the message lets us replay it.
 */
export function toToolCall(part: GeminiPart, index: number): GeminiToolCall {
  const fc = part.functionCall ?? {};
  const name = fc.name ?? '';
  const call: GeminiToolCall = {
    id: typeof fc.id === 'string' && fc.id !== '' ? fc.id : `call_${index}_${name}`,
    type: 'function',
    function: { name, arguments: JSON.stringify(fc.args ?? {}) },
  };
  if (typeof part.thoughtSignature === 'string') call.extra_content = { google: { thought_signature: part.thoughtSignature } };
  return call;
}

/** Visible text of a part list: thought summaries are the model's scratchpad, not its answer. */
export function partsText(parts: GeminiPart[]): string {
  return parts.map((p) => (p.thought !== true && typeof p.text === 'string' ? p.text : '')).join('');
}

/** Reads an upstream body as a Gemini response object or fails with a clear gateway error. */
export function asGeminiResponse(body: unknown): GeminiResponse {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: 'Gemini returned a response that is not a JSON object.' });
  }
  return body as GeminiResponse;
}

function partsOf(candidate: GeminiCandidate): GeminiPart[] {
  const parts = candidate.content?.parts;
  return Array.isArray(parts) ? parts : [];
}

type Choice = OpenAIChatCompletion['choices'][number];

function toChoice(candidate: GeminiCandidate, position: number): Choice {
  const parts = partsOf(candidate);
  const calls = parts.filter((p) => p.functionCall !== undefined).map((p, i) => toToolCall(p, i));
  const text = partsText(parts);
  const message: Choice['message'] = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text };
  if (calls.length > 0) message.tool_calls = calls;
  const reason = candidate.finishReason;
  return {
    index: typeof candidate.index === 'number' ? candidate.index : position,
    message,
    finish_reason: typeof reason === 'string' ? mapFinishReason(reason, calls.length > 0) : null,
    logprobs: null,
  };
}

/**
 * Gemini `generateContent` response -> OpenAI chat completion plus gateway usage. `model` is the
 * name the client asked for; `created` is passed in so the function stays pure.
 * A prompt blocked before generation (promptFeedback.blockReason, no candidates) becomes one
 * empty choice with `content_filter`, which is how OpenAI clients expect a filtered answer.
 */
export function translateGeminiToOpenAI(body: unknown, model: string, created: number): { completion: OpenAIChatCompletion; usage: Usage } {
  const res = asGeminiResponse(body);
  const candidates = Array.isArray(res.candidates) ? res.candidates : [];
  let choices: Choice[] = candidates.map(toChoice);
  if (choices.length === 0) {
    const blocked = typeof res.promptFeedback?.blockReason === 'string';
    if (!blocked) throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: 'Gemini returned no candidates.' });
    choices = [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'content_filter', logprobs: null }];
  }
  const usage = withGrounding(mapUsage(res.usageMetadata), groundedWithSearch(candidates));
  const completion: OpenAIChatCompletion = {
    id: completionId(res, created),
    object: 'chat.completion',
    created,
    model,
    choices,
    usage: toOpenAIUsage(usage, res.usageMetadata),
  };
  return { completion, usage };
}
