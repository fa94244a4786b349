import { randomUUID } from 'node:crypto';
import { pause } from '../../core/cancellation.js';
import { encodeEmbedding } from '../embedding-encoding.js';
import type { ProviderAdapter, ProviderCall, ProviderResponse } from '../adapter.js';
import type { OpenAIChatChunk, OpenAIChatCompletion, OpenAIChatRequest, OpenAIEmbeddingsRequest, OpenAIMessage, OpenAIToolCall, Usage } from '../types.js';
import { SSE_DONE, sseFrame } from '../upstream-stream.js';
import { demoAnswer, demoPieces, demoTokens, demoVector, type DemoAnswer, type DemoTurn } from './brain.js';

function textOf(content: OpenAIMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : p.type === 'image_url' ? '[image]' : '')).join(' ');
}

/** An OpenAI chat request as the demo brain sees it. */
function demoTurnOfOpenAI(body: OpenAIChatRequest): DemoTurn {
  const last = body.messages[body.messages.length - 1];
  return {
    promptText: body.messages.map((m) => textOf(m.content)).join('\n'),
    last: { kind: last?.role === 'tool' ? 'tool_result' : 'user', text: textOf(last?.content) },
    // Only function tools can be called back; other tool types pass by.
    tools: (body.tools ?? []).filter((t) => t.function).map((t) => ({ name: t.function.name, parameters: t.function.parameters })),
    toolsForbidden: body.tool_choice === 'none',
  };
}

function toolCallsOf(answer: DemoAnswer): OpenAIToolCall[] {
  return answer.toolCalls.map((c) => ({ id: `call_demo_${c.id}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
}

function openaiUsage(u: Usage) {
  return { prompt_tokens: u.input_tokens, completion_tokens: u.output_tokens, total_tokens: u.input_tokens + u.output_tokens };
}

/**
 * The built-in `demo` provider: answers locally and deterministically so every feature can
 * be tried without an API key. Streams word by word with a short pause so streaming is visible.
 */
export function createDemoAdapter(options: { chunkDelayMs?: number } = {}): ProviderAdapter {
  const chunkDelayMs = options.chunkDelayMs ?? 15;

  async function chat(body: OpenAIChatRequest, call: ProviderCall): Promise<ProviderResponse> {
    const answer = demoAnswer(demoTurnOfOpenAI(body));
    const toolCalls = toolCallsOf(answer);
    const id = `chatcmpl-demo-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const finish = toolCalls.length > 0 ? 'tool_calls' : 'stop';
    if (body.stream !== true) {
      const completion: OpenAIChatCompletion = {
        id,
        object: 'chat.completion',
        created,
        model: call.requestedModel,
        choices: [{ index: 0, message: { role: 'assistant', content: answer.text, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) }, finish_reason: finish }],
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
      if (answer.text !== null) {
        for (const piece of demoPieces(answer.text)) {
          if (chunkDelayMs > 0) await pause(chunkDelayMs, call.signal);
          yield sseFrame(chunk({ content: piece }));
        }
      }
      for (const [index, tc] of toolCalls.entries()) {
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
    const input_tokens = inputs.reduce((s, t) => s + demoTokens(t), 0);
    const response = {
      object: 'list' as const,
      data: inputs.map((text, index) => ({ object: 'embedding' as const, index, embedding: encodeEmbedding(demoVector(text, dims), body.encoding_format) })),
      model: call.requestedModel,
      usage: { prompt_tokens: input_tokens, total_tokens: input_tokens },
    };
    return { kind: 'json', status: 200, body: response, usage: { input_tokens, cached_input_tokens: 0, output_tokens: 0 } };
  }

  return { type: 'demo', chat, embeddings, close: async () => undefined };
}
