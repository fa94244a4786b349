import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cancellation } from '../../../src/core/cancellation.js';
import type { ProviderAdapter, ProviderResponse } from '../../../src/providers/adapter.js';
import type { ModelDeployment } from '../../../src/providers/registry.js';
import { invokeResponses } from '../../../src/providers/responses/invoke.js';
import { prepareResponses } from '../../../src/providers/responses/prepare.js';
import type { OpenAIChatRequest } from '../../../src/providers/types.js';

const USAGE = { input_tokens: 4, cached_input_tokens: 0, output_tokens: 2 };
const COMPLETION = { id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } };

const deployment = { name: 'claude-x', provider: { name: 'anthropic', type: 'anthropic' } } as unknown as ModelDeployment;
const call = { requestedModel: 'claude-x', upstreamModel: 'claude-x-1', signal: new Cancellation(), forwardedHeaders: {} };

/** An adapter that records what it was asked and answers with `answer`. */
function stub(answer: ProviderResponse, native?: ProviderResponse) {
  const asked: { chat: OpenAIChatRequest[]; native: Array<Record<string, unknown>> } = { chat: [], native: [] };
  const adapter: ProviderAdapter = {
    type: 'stub',
    chat: async (body) => {
      asked.chat.push(body);
      return answer;
    },
    close: async () => undefined,
  };
  if (native) {
    adapter.responses = async (body) => {
      asked.native.push(body);
      return native;
    };
  }
  return { adapter, asked };
}

test('a provider with a native Responses API gets the client body (store false, cache controls out) and its answer as is', async () => {
  const { chat, state } = prepareResponses({ model: 'gpt', input: 'hi', reasoning: { effort: 'low' }, cache: { ttl: 5 }, tools: [{ type: 'custom', name: 'apply_patch' }] });
  const nativeAnswer: ProviderResponse = { kind: 'json', status: 200, body: undefined, text: '{"id":"resp_up"}', usage: USAGE };
  const { adapter, asked } = stub({ kind: 'json', status: 200, body: COMPLETION, usage: USAGE }, nativeAnswer);
  assert.equal(await invokeResponses(adapter, deployment, state, chat, call), nativeAnswer);
  assert.deepEqual(asked.native, [{ model: 'gpt', input: 'hi', reasoning: { effort: 'low' }, tools: [{ type: 'custom', name: 'apply_patch' }], store: false }]);
  assert.equal(asked.chat.length, 0);
});

test('a translated provider is asked the chat request; its JSON answer (parsed body or text) becomes a Response', async () => {
  const { chat, state } = prepareResponses({ model: 'claude-x', input: 'hi' });
  for (const answer of [{ kind: 'json', status: 200, body: COMPLETION, usage: USAGE }, { kind: 'json', status: 200, body: undefined, text: JSON.stringify(COMPLETION), usage: USAGE }] as ProviderResponse[]) {
    const { adapter, asked } = stub(answer);
    const res = await invokeResponses(adapter, deployment, state, chat, call);
    assert.equal(asked.chat[0], chat);
    assert.ok(res.kind === 'json');
    const body = res.body as { id: string; model: string; output: Array<{ content: Array<{ text: string }> }> };
    assert.match(body.id, /^resp_[0-9a-f]{48}$/);
    assert.equal(body.model, 'claude-x');
    assert.equal(body.output[0]?.content[0]?.text, 'hi');
    assert.equal(res.usage, USAGE);
  }
});

test('a translated stream becomes Responses event frames ending with the clean-end marker', async () => {
  const { chat, state } = prepareResponses({ model: 'claude-x', input: 'hi', stream: true });
  const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  async function* frames() {
    yield chunk({ content: 'hi' });
    yield chunk({}, 'stop');
    yield 'data: [DONE]\n\n';
  }
  const { adapter } = stub({ kind: 'stream', status: 200, frames: frames(), usage: () => USAGE });
  const res = await invokeResponses(adapter, deployment, state, chat, call);
  assert.ok(res.kind === 'stream');
  const out: string[] = [];
  for await (const f of res.frames) out.push(f);
  assert.deepEqual(out.map((f) => f.split('\n')[0]), [
    'event: response.created', 'event: response.in_progress', 'event: response.output_item.added', 'event: response.content_part.added', 'event: response.output_text.delta',
    'event: response.output_text.done', 'event: response.content_part.done', 'event: response.output_item.done', 'event: response.completed', 'data: [DONE]',
  ]);
  assert.equal(res.usage(), USAGE);
});

test('a tool chat has no equivalent for is dropped for a translated provider and named, with what the provider dropped, at the client\'s paths', async () => {
  const { chat, state } = prepareResponses({ model: 'claude-x', input: 'hi', tools: [{ type: 'shell' }, { type: 'namespace', name: 'ns', description: 'd', tools: [{ type: 'function', name: 'f' }] }] });
  const { adapter, asked } = stub({ kind: 'json', status: 200, body: COMPLETION, usage: USAGE, dropped: ['tools[0].type=x', 'frequency_penalty'] });
  const res = await invokeResponses(adapter, deployment, state, chat, call);
  assert.equal(asked.chat.length, 1);
  assert.deepEqual(res.dropped, ['tools[0].type=shell', 'tools[1].tools[0].type=x', 'frequency_penalty']);
});

test('content only OpenAI can reach (an image by file_id) is refused for a translated provider: 400 operation_not_supported naming the field and the provider', async () => {
  const { chat, state } = prepareResponses({ model: 'claude-x', input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1' }] }] });
  const { adapter, asked } = stub({ kind: 'json', status: 200, body: COMPLETION, usage: USAGE });
  await assert.rejects(invokeResponses(adapter, deployment, state, chat, call), (e: { status: number; wireCode: string; param: string; message: string }) => {
    assert.equal(e.status, 400);
    assert.equal(e.wireCode, 'operation_not_supported');
    assert.equal(e.param, 'input[0].content[0].file_id');
    assert.match(e.message, /cannot be translated for the anthropic provider "anthropic" that serves "claude-x"/);
    return true;
  });
  assert.equal(asked.chat.length, 0, 'the provider is not called');
});

test('a malformed function tool is refused only where it is translated: native providers get the body as sent', async () => {
  const { chat, state } = prepareResponses({ model: 'm', input: 'hi', tools: [{ type: 'function', name: 'bad name!' }] });
  const translated = stub({ kind: 'json', status: 200, body: COMPLETION, usage: USAGE });
  await assert.rejects(invokeResponses(translated.adapter, deployment, state, chat, call), (e: { status: number; param: string }) => e.status === 400 && e.param === 'tools[0].name');
  const nativeAnswer: ProviderResponse = { kind: 'json', status: 200, body: undefined, text: '{}', usage: USAGE };
  const native = stub({ kind: 'json', status: 200, body: COMPLETION, usage: USAGE }, nativeAnswer);
  assert.equal(await invokeResponses(native.adapter, deployment, state, chat, call), nativeAnswer);
  assert.deepEqual(native.asked.native[0]?.['tools'], [{ type: 'function', name: 'bad name!' }]);
});
