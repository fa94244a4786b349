import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';

const TOOL = { type: 'function' as const, function: { name: 'lookup', description: 'Look something up', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } } };

describe('/cursor with the official openai SDK', () => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gemini: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    [openai, anthropic, gemini] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini()]);
    gw = await startTestGateway({ providers: fakeProviders({ openai: openai.url, anthropic: anthropic.url, gemini: gemini.url }), logging: { level: 'warn' } });
  });
  after(async () => {
    await gw.close();
    await Promise.all([openai.close(), anthropic.close(), gemini.close()]);
  });

  for (const baseSuffix of ['/cursor', '/cursor/v1']) {
    for (const [model, family, fake] of [
      ['gpt-4o-mini', 'openai', () => openai],
      ['claude-haiku-4-5', 'anthropic', () => anthropic],
      ['gemini-2.5-flash', 'google', () => gemini],
    ] as const) {
      test(`${baseSuffix}: ${model} plain, streamed and with tools, X-Smartflow-Passthrough: ${family}`, async () => {
        const client = new OpenAI({ baseURL: `${gw.url}${baseSuffix}`, apiKey: MASTER_KEY, maxRetries: 0 });
        const before = fake().requests.length;
        const { data, response } = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello cursor' }] }).withResponse();
        assert.ok(data.choices[0]?.message.content);
        assert.equal(response.headers.get('x-smartflow-passthrough'), family);

        const stream = await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'stream it' }] });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
        assert.ok(text.length > 0);

        const withTool = await client.chat.completions.create({ model, tools: [TOOL], messages: [{ role: 'user', content: 'find cats' }] });
        assert.equal(withTool.choices[0]?.finish_reason, 'tool_calls');
        assert.equal(withTool.choices[0]?.message.tool_calls?.[0]?.type, 'function');
        assert.equal(fake().requests.length - before, 3, 'every call reached the detected provider');
      });
    }
  }

  test('model names the gateway does not know go to the default OpenAI-compatible provider; [1m] is stripped', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/cursor`, apiKey: MASTER_KEY, maxRetries: 0 });
    openai.reset();
    const { response } = await client.chat.completions.create({ model: 'cursor-fast-2', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(response.headers.get('x-smartflow-passthrough'), 'openai');
    assert.equal(openai.requests[0]!.body.model, 'cursor-fast-2');
    anthropic.reset();
    await client.chat.completions.create({ model: 'claude-sonnet-4-5[1m]', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(anthropic.requests[0]!.body.model, 'claude-sonnet-4-5');
    assert.equal(anthropic.requests[0]!.headers['anthropic-beta'], 'context-1m-2025-08-07');
    // The /v1 surface keeps answering 404 for unknown names.
    const v1 = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    await assert.rejects(v1.chat.completions.create({ model: 'cursor-fast-2', messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => err instanceof OpenAI.NotFoundError);
  });

  test('models list answers on /cursor/models and /cursor/v1/models', async () => {
    for (const path of ['/cursor', '/cursor/v1']) {
      const client = new OpenAI({ baseURL: `${gw.url}${path}`, apiKey: MASTER_KEY, maxRetries: 0 });
      const page = await client.models.list();
      assert.ok(page.data.some((m) => m.id === 'claude-haiku-4-5'));
    }
  });
});
