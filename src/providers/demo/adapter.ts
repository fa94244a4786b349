import { createHash, randomUUID } from 'node:crypto';
import { pause } from '../../core/cancellation.js';
import type { ProviderAdapter, ProviderCall, ProviderResponse } from '../adapter.js';
import type { OpenAIChatChunk, OpenAIChatCompletion, OpenAIChatRequest, OpenAIEmbeddingsRequest, OpenAIMessage, OpenAITool, OpenAIToolCall, Usage } from '../types.js';
import { SSE_DONE, sseFrame } from '../upstream-stream.js';

/** Rough token count for demo usage: four characters a token. */
function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function textOf(content: OpenAIMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : p.type === 'image_url' ? '[image]' : '')).join(' ');
}

/** Arguments for a demo tool call: every required property filled with a plausible value. */
function demoArguments(tool: OpenAITool, userText: string): Record<string, unknown> {
  const params = tool.function.parameters as { properties?: Record<string, { type?: string }>; required?: string[] } | undefined;
  const args: Record<string, unknown> = {};
  for (const name of Array.isArray(params?.required) ? params.required : []) {
    const type = params?.properties?.[name]?.type;
    args[name] = type === 'number' || type === 'integer' ? 1 : type === 'boolean' ? true : type === 'array' ? [] : type === 'object' ? {} : userText;
  }
  return args;
}

interface DemoAnswer {
  content: string | null;
  toolCalls: OpenAIToolCall[];
  usage: Usage;
}

/** The deterministic answer: a tool call when tools are offered to a fresh user turn, else an echo. */
function demoAnswer(body: OpenAIChatRequest): DemoAnswer {
  const last = body.messages[body.messages.length - 1];
  const prompt = body.messages.map((m) => textOf(m.content)).join('\n');
  const input = tokens(prompt);
  const tools = body.tools ?? [];
  if (last?.role === 'tool') {
    const content = `The tool returned: ${textOf(last.content)}`;
    return { content, toolCalls: [], usage: { input_tokens: input, cached_input_tokens: 0, output_tokens: tokens(content) } };
  }
  const userText = textOf(last?.content);
  // Only function tools can be called here; hosted ones (web search) have no demo equivalent.
  const tool = tools.find((t) => t.type === 'function');
  if (tool && body.tool_choice !== 'none') {
    const args = JSON.stringify(demoArguments(tool, userText));
    const id = `call_demo_${createHash('sha256').update(tool.function.name + args).digest('hex').slice(0, 12)}`;
    return { content: null, toolCalls: [{ id, type: 'function', function: { name: tool.function.name, arguments: args } }], usage: { input_tokens: input, cached_input_tokens: 0, output_tokens: tokens(args) } };
  }
  const content = `Demo echo: ${userText}`;
  return { content, toolCalls: [], usage: { input_tokens: input, cached_input_tokens: 0, output_tokens: tokens(content) } };
}

function openaiUsage(u: Usage) {
  return { prompt_tokens: u.input_tokens, completion_tokens: u.output_tokens, total_tokens: u.input_tokens + u.output_tokens };
}

/** Deterministic unit vector for a text, so demo embeddings are stable and comparable. */
function demoVector(text: string, dims: number): number[] {
  const digest = createHash('sha256').update(text).digest();
  const v = Array.from({ length: dims }, (_, i) => (digest[i % digest.length]! - 127.5) / 127.5);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => Number((x / norm).toFixed(6)));
}

/**
 * The built-in `demo` provider: answers locally and deterministically so every feature can
 * be tried without an API key. Streams word by word with a short pause so streaming is visible.
 */
export function createDemoAdapter(options: { chunkDelayMs?: number } = {}): ProviderAdapter {
  const chunkDelayMs = options.chunkDelayMs ?? 15;

  async function chat(body: OpenAIChatRequest, call: ProviderCall): Promise<ProviderResponse> {
    const answer = demoAnswer(body);
    const id = `chatcmpl-demo-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const finish = answer.toolCalls.length > 0 ? 'tool_calls' : 'stop';
    if (body.stream !== true) {
      const completion: OpenAIChatCompletion = {
        id,
        object: 'chat.completion',
        created,
        model: call.requestedModel,
        choices: [{ index: 0, message: { role: 'assistant', content: answer.content, ...(answer.toolCalls.length ? { tool_calls: answer.toolCalls } : {}) }, finish_reason: finish }],
        usage: openaiUsage(answer.usage),
      };
      return { kind: 'json', status: 200, body: completion, usage: answer.usage };
    }
    const wantsUsage = body.stream_options?.include_usage === true;
    const chunk = (delta: OpenAIChatChunk['choices'][number]['delta'], finish_reason: OpenAIChatChunk['choices'][number]['finish_reason'] = null): OpenAIChatChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: call.requestedModel,
      choices: [{ index: 0, delta, finish_reason }],
    });
    async function* frames(): AsyncGenerator<string> {
      yield sseFrame(chunk({ role: 'assistant', content: '' }));
      if (answer.content !== null) {
        for (const piece of answer.content.match(/\S+\s*/g) ?? []) {
          if (chunkDelayMs > 0) await pause(chunkDelayMs, call.signal);
          yield sseFrame(chunk({ content: piece }));
        }
      }
      for (const [index, tc] of answer.toolCalls.entries()) {
        yield sseFrame(chunk({ tool_calls: [{ index, id: tc.id, type: 'function', function: { name: tc.function.name, arguments: '' } }] }));
        yield sseFrame(chunk({ tool_calls: [{ index, function: { arguments: tc.function.arguments } }] }));
      }
      yield sseFrame(chunk({}, finish));
      if (wantsUsage) yield sseFrame({ id, object: 'chat.completion.chunk', created, model: call.requestedModel, choices: [], usage: openaiUsage(answer.usage) });
      yield SSE_DONE;
    }
    return { kind: 'stream', status: 200, frames: frames(), usage: () => answer.usage };
  }

  async function embeddings(body: OpenAIEmbeddingsRequest, call: ProviderCall): Promise<ProviderResponse & { kind: 'json' }> {
    const inputs = typeof body.input === 'string' ? [body.input] : (body.input as unknown[]).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
    const dims = Math.min(body.dimensions ?? 16, 4096);
    const input_tokens = inputs.reduce((s, t) => s + tokens(t), 0);
    const response = {
      object: 'list' as const,
      data: inputs.map((text, index) => ({ object: 'embedding' as const, index, embedding: demoVector(text, dims) })),
      model: call.requestedModel,
      usage: { prompt_tokens: input_tokens, total_tokens: input_tokens },
    };
    return { kind: 'json', status: 200, body: response, usage: { input_tokens, cached_input_tokens: 0, output_tokens: 0 } };
  }

  return { type: 'demo', chat, embeddings, close: async () => undefined };
}
