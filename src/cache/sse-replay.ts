import type { OpenAIChatChunk, OpenAIChatCompletion, OpenAIChunkToolCallDelta, OpenAIToolCall, OpenAIUsage, Usage } from '../providers/types.js';
import { SSE_DONE, sseFrame } from '../providers/upstream-stream.js';
import type { CachedAnswer } from './cache-entry.js';

/**
 * Cached answers as the client asked for them. A streamed answer replays its own frames; a JSON
 * answer asked for as a stream is cut into the chunks a provider would have sent (one content
 * chunk per choice); a streamed answer asked for as JSON is assembled into the completion.
 */

const USAGE_MARK = /"usage"\s*:\s*\{/;
const NO_CHOICES = /"choices"\s*:\s*\[\s*\]/;

/** The usage-only chunk at the end of a stream, which only clients that ask for it get. */
export function isUsageOnlyFrame(frame: string): boolean {
  return frame.includes('"usage"') && USAGE_MARK.test(frame) && NO_CHOICES.test(frame);
}

/** The payload of an SSE frame: its `data:` lines joined, as the SSE specification reads them. */
function frameData(frame: string): string {
  const lines: string[] = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith('data:')) lines.push(line.slice(line.charCodeAt(5) === 32 ? 6 : 5));
  }
  return lines.join('\n');
}

/** The gateway's usage back in OpenAI's vocabulary. */
function openAIUsage(u: Usage): OpenAIUsage {
  return {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.input_tokens + u.output_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_input_tokens },
  };
}

type Chunk = Partial<OpenAIChatChunk> & { choices?: OpenAIChatChunk['choices'] };

/** The chunks of a stream; frames without data (SSE comments, such as a resumed stream's marker) carry none. */
function chunksOf(frames: readonly string[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (const f of frames) {
    const data = frameData(f);
    if (data !== '') chunks.push(JSON.parse(data) as Chunk);
  }
  return chunks;
}

function firstChunk(frames: readonly string[]): Chunk | undefined {
  for (const f of frames) {
    const data = frameData(f);
    if (data !== '') return JSON.parse(data) as Chunk;
  }
  return undefined;
}

/** A JSON chat completion as the chunks of a stream, without the usage chunk and [DONE]. */
function framesFromCompletion(text: string): string[] {
  const c = JSON.parse(text) as OpenAIChatCompletion;
  if (c.object !== 'chat.completion' || !Array.isArray(c.choices)) throw new Error('not a chat completion');
  const head = { id: c.id, object: 'chat.completion.chunk' as const, created: c.created, model: c.model, ...(c.system_fingerprint ? { system_fingerprint: c.system_fingerprint } : {}) };
  const frames: string[] = [];
  for (const choice of c.choices) {
    const m = choice.message;
    const chunk = (delta: OpenAIChatChunk['choices'][number]['delta'], finish: OpenAIChatChunk['choices'][number]['finish_reason'] = null): string =>
      sseFrame(Object.assign({}, head, { choices: [{ index: choice.index, delta, finish_reason: finish }] }));
    frames.push(chunk({ role: 'assistant', content: '' }));
    if (typeof m.content === 'string' && m.content !== '') frames.push(chunk({ content: m.content }));
    if (typeof m.refusal === 'string' && m.refusal !== '') frames.push(chunk({ refusal: m.refusal }));
    (m.tool_calls ?? []).forEach((tc, index) => frames.push(chunk({ tool_calls: [{ index, id: tc.id, type: 'function', function: { name: tc.function.name, arguments: tc.function.arguments } }] })));
    frames.push(chunk({}, choice.finish_reason));
  }
  return frames;
}

interface Assembly {
  content: string | null;
  refusal: string | null;
  toolCalls: Map<number, OpenAIToolCall>;
  finish: OpenAIChatCompletion['choices'][number]['finish_reason'];
}

function addToolCallDelta(calls: Map<number, OpenAIToolCall>, d: OpenAIChunkToolCallDelta): void {
  let call = calls.get(d.index);
  if (!call) {
    call = { id: '', type: 'function', function: { name: '', arguments: '' } };
    calls.set(d.index, call);
  }
  if (d.id) call.id = d.id;
  if (d.function?.name) call.function.name += d.function.name;
  if (d.function?.arguments) call.function.arguments += d.function.arguments;
}

/** Streamed chunks assembled into the chat completion a non-streaming request would have got. */
function completionFromFrames(frames: readonly string[], usage: Usage): string {
  const chunks = chunksOf(frames);
  const first = chunks[0];
  if (!first || first.object !== 'chat.completion.chunk') throw new Error('not a chat completion stream');
  const choices = new Map<number, Assembly>();
  for (const chunk of chunks) {
    for (const choice of chunk.choices ?? []) {
      let a = choices.get(choice.index);
      if (!a) {
        a = { content: null, refusal: null, toolCalls: new Map(), finish: null };
        choices.set(choice.index, a);
      }
      const d = choice.delta ?? {};
      if (typeof d.content === 'string') a.content = (a.content ?? '') + d.content;
      if (typeof d.refusal === 'string') a.refusal = (a.refusal ?? '') + d.refusal;
      for (const tc of d.tool_calls ?? []) addToolCallDelta(a.toolCalls, tc);
      if (choice.finish_reason) a.finish = choice.finish_reason;
    }
  }
  const completion: OpenAIChatCompletion = {
    id: String(first.id),
    object: 'chat.completion',
    created: Number(first.created),
    model: String(first.model),
    ...(first.system_fingerprint ? { system_fingerprint: first.system_fingerprint } : {}),
    choices: [...choices.entries()]
      .sort(([x], [y]) => x - y)
      .map(([index, a]) => {
        const toolCalls = [...a.toolCalls.entries()].sort(([x], [y]) => x - y).map(([, tc]) => tc);
        // A message that only calls tools has null content, as OpenAI sends it.
        const content = a.content === '' && toolCalls.length > 0 ? null : a.content;
        return {
          index,
          message: { role: 'assistant' as const, content, refusal: a.refusal, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
          logprobs: null,
          finish_reason: a.finish,
        };
      }),
    usage: openAIUsage(usage),
  };
  return JSON.stringify(completion);
}

/** Frames as a stream: each frame, the usage chunk when asked for, then `data: [DONE]`. */
async function* replay(frames: readonly string[], usage: Usage, includeUsage: boolean): AsyncGenerator<string> {
  for (const f of frames) yield f;
  if (includeUsage) {
    const head = firstChunk(frames);
    yield sseFrame({ id: head?.id, object: 'chat.completion.chunk', created: head?.created, model: head?.model, choices: [], usage: openAIUsage(usage) });
  }
  yield SSE_DONE;
}

/** What a hit sends: JSON text, or stream frames. Throws when a cached answer cannot be converted. */
export type Replay = { kind: 'json'; text: string } | { kind: 'stream'; frames: AsyncGenerator<string> };

/**
 * A cached chat answer in the form the request wants. Conversions are done eagerly (before the
 * first byte goes out), so an answer that cannot be converted fails here, as a miss.
 */
export function replayAnswer(answer: CachedAnswer, usage: Usage, want: { stream: boolean; includeUsage: boolean }): Replay {
  if (!want.stream) return { kind: 'json', text: answer.kind === 'json' ? answer.text : completionFromFrames(answer.frames, usage) };
  const frames = answer.kind === 'sse' ? answer.frames : framesFromCompletion(answer.text);
  return { kind: 'stream', frames: replay(frames, usage, want.includeUsage) };
}
