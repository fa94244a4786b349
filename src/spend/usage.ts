import type { GatewayRequest } from '../providers/gateway-request.js';
import type { AnthropicMessagesRequest } from '../schemas/anthropic-requests.js';
import type { OpenAIChatRequest, OpenAIEmbeddingsRequest, OpenAIUsage, Usage } from '../providers/types.js';
import { tokenCount } from '../providers/wire-utils.js';
import { BYTES_PER_TOKEN, chargedInputTokens, estimatedInputTokens } from './estimate.js';

const USAGE_KEY = '"usage":';
const PROMPT_TOKENS = /"prompt_tokens"\s*:\s*(\d+)/;
const COMPLETION_TOKENS = /"completion_tokens"\s*:\s*(\d+)/;
const CACHED_TOKENS = /"cached_tokens"\s*:\s*(\d+)/;

/**
 * The `usage` object of an OpenAI-format JSON answer, read without parsing the whole body:
 * the answer is forwarded as received, so usage is all the gateway needs from it. Falls back
 * to a full parse when the text does not look as expected; undefined when there is no usage.
 */
export function usageFromOpenAIText(text: string): Usage | undefined {
  const at = text.lastIndexOf(USAGE_KEY);
  if (at !== -1) {
    let i = at + USAGE_KEY.length;
    while (text.charCodeAt(i) === 32) i++;
    if (text.charCodeAt(i) === 123 /* { */) {
      const end = matchingBrace(text, i);
      if (end !== -1) {
        // Three numbers out of a ~150-character object: regexes beat JSON.parse here.
        const usage = text.slice(i, end + 1);
        const prompt = PROMPT_TOKENS.exec(usage);
        const completion = COMPLETION_TOKENS.exec(usage);
        if (prompt || completion) {
          return {
            input_tokens: prompt ? Number(prompt[1]) : 0,
            cached_input_tokens: Number(CACHED_TOKENS.exec(usage)?.[1] ?? 0),
            output_tokens: completion ? Number(completion[1]) : 0,
          };
        }
      }
    }
  }
  try {
    const usage = (JSON.parse(text) as { usage?: OpenAIUsage }).usage;
    return usage && typeof usage === 'object' ? usageFromOpenAI(usage) : undefined;
  } catch {
    return undefined;
  }
}

/** Index of the brace closing the object that opens at `start`, skipping braces inside strings; -1 if none. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return i;
  }
  return -1;
}

/** OpenAI usage (chat or embeddings) in the gateway's vocabulary; tolerant of missing fields. */
export function usageFromOpenAI(u: Partial<OpenAIUsage> | null | undefined): Usage {
  if (!u || typeof u !== 'object') return { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 };
  const details = u.prompt_tokens_details;
  return {
    input_tokens: tokenCount(u.prompt_tokens),
    cached_input_tokens: tokenCount(details && typeof details === 'object' ? details.cached_tokens : 0),
    output_tokens: tokenCount(u.completion_tokens),
  };
}

/** A chunk that carries only usage (no choices): the last one of a stream whose client asked for usage. */
export function isUsageOnlyChunk(chunk: { choices?: unknown; usage?: unknown }): boolean {
  return Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage != null;
}

/** The answer's text in an OpenAI chat chunk or completion: content, reasoning, refusals and tool-call arguments (JSON-escaped). */
const ANSWER_FIELD = /"(?:content|reasoning_content|refusal|arguments)"\s*:\s*"((?:[^"\\]|\\.)*)"/g;

/** The answer's text in a Responses API output item list: output text, reasoning summaries and function-call arguments. */
const RESPONSES_ANSWER_FIELD = /"(?:text|arguments)"\s*:\s*"((?:[^"\\]|\\.)*)"/g;

/** The answer's text in Responses stream events: every `*.delta` event carries its new text as `delta` (the `*.done` events repeat it). */
const RESPONSES_DELTA_FIELD = /"delta"\s*:\s*"((?:[^"\\]|\\.)*)"/g;

/** The answer's text in Anthropic Messages content blocks and stream deltas: text, thinking and tool input JSON. */
const ANTHROPIC_ANSWER_FIELD = /"(?:text|thinking|partial_json)"\s*:\s*"((?:[^"\\]|\\.)*)"/g;

/**
 * UTF-8 bytes of the answer text in a piece of OpenAI-format JSON (a stream chunk or a whole
 * completion), read as escaped: an escape counts at least as much as the character it stands for.
 */
export function answerBytes(json: string, field: RegExp = ANSWER_FIELD): number {
  let bytes = 0;
  for (const m of json.matchAll(field)) bytes += Buffer.byteLength(m[1]!, 'utf8');
  return bytes;
}

/**
 * The usage of a Responses API answer whose server reported none: the prompt (instructions,
 * input, tools) and the answer's `outputBytes` by the 2-bytes-a-token rule, marked as estimated.
 */
export function estimatedResponsesUsage(body: Record<string, unknown>, outputBytes: number): Usage {
  const prompt = JSON.stringify([body['instructions'] ?? null, body['input'] ?? null, body['tools'] ?? null]);
  return { input_tokens: Math.ceil(Buffer.byteLength(prompt, 'utf8') / BYTES_PER_TOKEN), cached_input_tokens: 0, output_tokens: Math.ceil(outputBytes / BYTES_PER_TOKEN), estimated: true };
}

/** UTF-8 bytes of the answer in a Responses API `output` item list. */
export function responsesAnswerBytes(output: unknown): number {
  return output === undefined ? 0 : answerBytes(JSON.stringify(output), RESPONSES_ANSWER_FIELD);
}

/**
 * The usage of an answer whose server reported none (older vLLM, Ollama, LM Studio, a stream
 * that ignored include_usage): the gateway's own estimate of the prompt and of the answer's
 * `outputBytes`, by the same upper-bound rule as reservations, and marked as estimated.
 */
export function estimatedChatUsage(body: OpenAIChatRequest, outputBytes: number): Usage {
  return { input_tokens: chargedInputTokens({ operation: 'chat', body }), cached_input_tokens: 0, output_tokens: Math.ceil(outputBytes / BYTES_PER_TOKEN), estimated: true };
}

/** UTF-8 bytes of the answer text in an Anthropic stream event (text, thinking and tool-input deltas). */
export function anthropicAnswerBytes(json: string): number {
  return answerBytes(json, ANTHROPIC_ANSWER_FIELD);
}

/**
 * The usage of an Anthropic Messages answer whose server reported none, or only part of it (a
 * proxy or local server speaking the API): the sides it did not report by the estimate rule of
 * OpenAI-compatible servers, marked as estimated. `reported` is what it did report, if anything.
 */
export function estimatedMessagesUsage(body: Record<string, unknown>, outputBytes: number, reported?: { usage: Usage; input: boolean; output: boolean }): Usage {
  const usage: Usage = reported ? Object.assign({}, reported.usage) : { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 };
  if (!reported?.input) usage.input_tokens = chargedInputTokens({ operation: 'messages', body: body as AnthropicMessagesRequest, query: '' });
  if (!reported?.output) usage.output_tokens = Math.max(usage.output_tokens, Math.ceil(outputBytes / BYTES_PER_TOKEN));
  usage.estimated = true;
  return usage;
}

/** The usage of embeddings whose server reported none: the input estimate, marked as estimated. */
export function estimatedEmbeddingsUsage(body: OpenAIEmbeddingsRequest): Usage {
  return { input_tokens: estimatedInputTokens({ operation: 'embeddings', body }), cached_input_tokens: 0, output_tokens: 0, estimated: true };
}

/** What a stream delivered to the client: its frames, and the bytes of answer text in them, read in the client's wire format. */
export class DeliveredAnswer {
  frames = 0;
  answerBytes = 0;
  private readonly field: RegExp;

  constructor(operation: GatewayRequest['operation']) {
    this.field = operation === 'messages' ? ANTHROPIC_ANSWER_FIELD : operation === 'responses' ? RESPONSES_DELTA_FIELD : ANSWER_FIELD;
  }

  add(frame: string): void {
    this.frames += 1;
    this.answerBytes += answerBytes(frame, this.field);
  }
}

/** Nothing delivered: a provider call that ended before its answer started. */
const NOTHING_DELIVERED: Pick<DeliveredAnswer, 'frames' | 'answerBytes'> = { frames: 0, answerBytes: 0 };

/**
 * What a stream cut off before the provider reported its final usage is charged (the client went
 * away, the upstream broke): it was still billed by the provider. Charging only what was reported
 * so far (nothing for OpenAI, one output token for Anthropic, whose message_start counts just the
 * input) would let a client that always disconnects just before the end spend almost for free,
 * so it is charged at least the input estimate (within `inputLimit`, the deployment's prompt
 * limit) and the answer delivered: its text by the 2-bytes-a-token rule, and at least one
 * token per frame.
 */
export function unfinishedStreamUsage(reported: Usage, request: GatewayRequest, delivered: Pick<DeliveredAnswer, 'frames' | 'answerBytes'>, inputLimit: number | undefined): Usage {
  const output = Math.max(delivered.frames, Math.ceil(delivered.answerBytes / BYTES_PER_TOKEN));
  if (reported.input_tokens > 0 && reported.output_tokens >= output) return reported;
  return {
    ...reported,
    input_tokens: reported.input_tokens > 0 ? reported.input_tokens : chargedInputTokens(request, inputLimit),
    output_tokens: Math.max(reported.output_tokens, output),
    estimated: true,
  };
}

/**
 * What a provider call that ended before any answer came back is charged when the provider may
 * have been working on it (the client went away, the gateway's timeout fired): the prompt was
 * sent and is billed, so it is charged the input estimate, by the same rule as a cut stream.
 */
export function unansweredUsage(request: GatewayRequest, inputLimit: number | undefined): Usage {
  return unfinishedStreamUsage({ input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 }, request, NOTHING_DELIVERED, inputLimit);
}
