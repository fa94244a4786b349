import { GatewayError } from '../../errors/gateway-error.js';
import type { OpenAIChatChunk, OpenAIChunkToolCallDelta, OpenAIFinishReason, SseEvent, StreamTranslator, Usage } from '../types.js';
import { geminiError } from './errors.js';
import {
  asGeminiResponse,
  completionId,
  mapFinishReason,
  groundedWithSearch,
  mapUsage,
  partsText,
  toOpenAIUsage,
  toToolCall,
  type GeminiCandidate,
  type GeminiPart,
  type GeminiResponse,
  type GeminiUsageMetadata,
  withGrounding,
} from './translate-response.js';

type Delta = OpenAIChatChunk['choices'][number]['delta'];

/** Per-candidate progress; Gemini streams candidates side by side when `n` > 1. */
interface CandidateState {
  toolCalls: number;
  finished: boolean;
}

class GeminiStreamTranslator implements StreamTranslator {
  private id: string | undefined;
  private meta: GeminiUsageMetadata | undefined;
  /** Grounding metadata comes with one of the fragments; the search is billed once per answer. */
  private grounded = false;
  private readonly candidates = new Map<number, CandidateState>();
  private done = false;

  constructor(
    private readonly model: string,
    private readonly created: number,
  ) {}

  get finished(): boolean {
    return this.done;
  }

  usage(): Usage {
    return withGrounding(mapUsage(this.meta), this.grounded);
  }

  push(event: SseEvent): OpenAIChatChunk[] {
    const data = event.data.trim();
    if (data === '' || data === '[DONE]') return [];
    const res = this.parse(data);
    if (res.error !== undefined && res.error !== null) {
      const code = typeof res.error === 'object' && 'code' in res.error && typeof res.error.code === 'number' ? res.error.code : 500;
      throw geminiError(code, data, {});
    }
    if (res.usageMetadata !== undefined) this.meta = res.usageMetadata;
    if (this.done) return [];
    this.id ??= completionId(res, this.created);

    const out: OpenAIChatChunk[] = [];
    const candidates = Array.isArray(res.candidates) ? res.candidates : [];
    if (groundedWithSearch(candidates)) this.grounded = true;
    let sawFinish = false;
    candidates.forEach((candidate, position) => {
      const index = typeof candidate.index === 'number' ? candidate.index : position;
      sawFinish = this.pushCandidate(candidate, index, out) || sawFinish;
    });
    if (candidates.length === 0 && typeof res.promptFeedback?.blockReason === 'string') {
      // The prompt was refused before generation: close the single choice as filtered.
      this.start(0, out);
      this.finishCandidate(0, 'content_filter', out);
      sawFinish = true;
    }
    if (sawFinish && [...this.candidates.values()].every((c) => c.finished)) {
      this.done = true;
      out.push(this.chunk([], toOpenAIUsage(this.usage(), this.meta)));
    }
    return out;
  }

  private parse(data: string): GeminiResponse {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch (cause) {
      throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: 'Gemini sent a stream event that is not JSON.', cause });
    }
    return asGeminiResponse(parsed);
  }

  /** Returns true when this candidate finished in this event. */
  private pushCandidate(candidate: GeminiCandidate, index: number, out: OpenAIChatChunk[]): boolean {
    const state = this.start(index, out);
    if (state.finished) return false;
    const parts: GeminiPart[] = Array.isArray(candidate.content?.parts) ? candidate.content.parts : [];
    // Walk parts in order so text written before a function call is sent before it.
    let text: GeminiPart[] = [];
    const flushText = (): void => {
      const content = partsText(text);
      if (content !== '') out.push(this.delta(index, { content }));
      text = [];
    };
    for (const part of parts) {
      if (part.functionCall === undefined) {
        text.push(part);
        continue;
      }
      flushText();
      const call = toToolCall(part, state.toolCalls);
      const delta: OpenAIChunkToolCallDelta & { extra_content?: unknown } = {
        index: state.toolCalls,
        id: call.id,
        type: 'function',
        function: { name: call.function.name, arguments: call.function.arguments },
      };
      if (call.extra_content !== undefined) delta.extra_content = call.extra_content;
      state.toolCalls++;
      out.push(this.delta(index, { tool_calls: [delta] }));
    }
    flushText();
    if (typeof candidate.finishReason !== 'string' || candidate.finishReason === '') return false;
    this.finishCandidate(index, mapFinishReason(candidate.finishReason, state.toolCalls > 0), out);
    return true;
  }

  /** The first chunk of each choice announces the role, as OpenAI streams do. */
  private start(index: number, out: OpenAIChatChunk[]): CandidateState {
    let state = this.candidates.get(index);
    if (state === undefined) {
      state = { toolCalls: 0, finished: false };
      this.candidates.set(index, state);
      out.push(this.delta(index, { role: 'assistant', content: '' }));
    }
    return state;
  }

  private finishCandidate(index: number, reason: OpenAIFinishReason, out: OpenAIChatChunk[]): void {
    const state = this.candidates.get(index);
    if (state) state.finished = true;
    out.push(this.chunk([{ index, delta: {}, finish_reason: reason, logprobs: null }]));
  }

  private delta(index: number, delta: Delta): OpenAIChatChunk {
    return this.chunk([{ index, delta, finish_reason: null, logprobs: null }]);
  }

  private chunk(choices: OpenAIChatChunk['choices'], usage?: OpenAIChatChunk['usage']): OpenAIChatChunk {
    const chunk: OpenAIChatChunk = {
      id: this.id ?? `chatcmpl-gemini-${this.created}`,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices,
    };
    if (usage !== undefined) chunk.usage = usage;
    return chunk;
  }
}

/**
 * Stream translator for `:streamGenerateContent?alt=sse`. Each SSE `data:` is a complete
 * GenerateContentResponse fragment (no `event:` lines, no `[DONE]`), so the end of the answer is
 * the fragment carrying `finishReason`; at that point the translator emits a finish chunk per
 * choice, then `{choices: [], usage}` from the last `usageMetadata`, and reports `finished`.
 * The usage chunk is always emitted; dropping it when the client did not ask for
 * `stream_options.include_usage` is the caller's job. An `error` event throws GatewayError.
 */
export function createGeminiStreamTranslator(model: string, created: number): StreamTranslator {
  return new GeminiStreamTranslator(model, created);
}
