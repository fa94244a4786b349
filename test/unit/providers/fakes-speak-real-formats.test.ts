import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startFakeAnthropic } from '../../helpers/fake-anthropic.js';
import { startFakeOpenAI } from '../../helpers/fake-openai.js';
import type { FakeUpstream } from '../../helpers/fake-upstream.js';

/**
 * The fakes stand in for providers we cannot reach, so they are only worth something if the
 * providers' own SDKs accept what they send. This drives each fake with its official SDK.
 */
describe('the fake upstreams satisfy the official SDKs', () => {
  let anthropicFake: FakeUpstream;
  let openaiFake: FakeUpstream;
  before(async () => {
    [anthropicFake, openaiFake] = await Promise.all([startFakeAnthropic(), startFakeOpenAI()]);
  });
  after(async () => {
    await Promise.all([anthropicFake.close(), openaiFake.close()]);
  });

  test('@anthropic-ai/sdk: plain message', async () => {
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: anthropicFake.url, maxRetries: 0 });
    const msg = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hello fake' }] });
    assert.equal(msg.type, 'message');
    assert.equal(msg.stop_reason, 'end_turn');
    assert.deepEqual(msg.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Echo: hello fake']);
    assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
  });

  test('@anthropic-ai/sdk: streamed message assembles through the SDK stream helper', async () => {
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: anthropicFake.url, maxRetries: 0 });
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'stream please' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const final = await stream.finalMessage();
    assert.equal(text, 'Echo: stream please');
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 0);
  });

  test('@anthropic-ai/sdk: streamed tool use with input_json_delta', async () => {
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: anthropicFake.url, maxRetries: 0 });
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      tools: [{ name: 'lookup', description: 'look up', input_schema: { type: 'object', properties: { query: { type: 'string' } } } }],
      messages: [{ role: 'user', content: 'Lima' }],
    });
    const final = await stream.finalMessage();
    const use = final.content.find((b) => b.type === 'tool_use');
    assert.ok(use && use.type === 'tool_use');
    assert.equal(use.name, 'lookup');
    assert.deepEqual(use.input, { query: 'Lima' });
    assert.equal(final.stop_reason, 'tool_use');
  });

  test('@anthropic-ai/sdk: a steered 429 surfaces as RateLimitError with retry-after', async () => {
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: anthropicFake.url, maxRetries: 0 });
    anthropicFake.queue.push({ status: 429, retryAfter: '3' });
    await assert.rejects(client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
      assert.ok(e instanceof Anthropic.RateLimitError);
      assert.equal(e.headers?.get('retry-after'), '3');
      return true;
    });
  });

  test('openai SDK: plain, streamed and error answers from the fake OpenAI', async () => {
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${openaiFake.url}/v1`, maxRetries: 0 });
    const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hey' }] });
    assert.equal(plain.choices[0]?.message.content, 'Echo: hey');
    let text = '';
    for await (const c of await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'streamy' }] })) text += c.choices[0]?.delta.content ?? '';
    assert.equal(text, 'Echo: streamy');
    openaiFake.queue.push({ status: 503 });
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => e instanceof OpenAI.InternalServerError);
  });
});
