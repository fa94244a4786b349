import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';

/**
 * The openai SDK, pointed at the gateway, gets chat completions (plain, streamed, with tools)
 * from OpenAI-, Anthropic- and Gemini-shaped upstreams.
 */
describe('chat completions through the openai SDK', () => {
  let openaiFake: FakeUpstream;
  let anthropicFake: FakeUpstream;
  let geminiFake: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  before(async () => {
    [openaiFake, anthropicFake, geminiFake] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini()]);
    gw = await startTestGateway({
      providers: fakeProviders({ openai: openaiFake.url, anthropic: anthropicFake.url, gemini: geminiFake.url }),
      models: [
        { name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' },
        { name: 'claude-sonnet-4-5', provider: 'anthropic', model: 'claude-sonnet-4-5' },
        { name: 'gemini-2.5-flash', provider: 'google', model: 'gemini-2.5-flash' },
      ],
    });
    client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });

  after(async () => {
    await gw.close();
    await Promise.all([openaiFake.close(), anthropicFake.close(), geminiFake.close()]);
  });

  const weatherTool = {
    type: 'function' as const,
    function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
  };

  for (const model of ['gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash']) {
    test(`${model}: plain completion`, async () => {
      const res = await client.chat.completions.create({ model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }] });
      assert.equal(res.choices[0]?.message.content, 'Echo: hello there');
      assert.equal(res.choices[0]?.finish_reason, 'stop');
      assert.ok((res.usage?.prompt_tokens ?? 0) > 0);
      assert.ok((res.usage?.completion_tokens ?? 0) > 0);
    });

    test(`${model}: streamed completion with usage`, async () => {
      const stream = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream me please' }] });
      let text = '';
      let finish: string | null | undefined = null;
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text, 'Echo: stream me please');
      assert.equal(finish, 'stop');
      assert.ok(usage && usage.completion_tokens > 0, 'usage chunk delivered when asked for');
    });

    test(`${model}: tool call, then tool result`, async () => {
      const first = await client.chat.completions.create({ model, tools: [weatherTool], messages: [{ role: 'user', content: 'Paris' }] });
      const call = first.choices[0]?.message.tool_calls?.[0];
      assert.equal(first.choices[0]?.finish_reason, 'tool_calls');
      assert.ok(call && call.type === 'function');
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { query: 'Paris' });
      const second = await client.chat.completions.create({
        model,
        tools: [weatherTool],
        messages: [
          { role: 'user', content: 'Paris' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: call.id, content: 'sunny' },
        ],
      });
      assert.match(second.choices[0]?.message.content ?? '', /sunny/);
    });

    test(`${model}: streamed tool call deltas assemble into one call`, async () => {
      const stream = await client.chat.completions.create({ model, stream: true, tools: [weatherTool], messages: [{ role: 'user', content: 'Rome' }] });
      const calls = new Map<number, { id?: string; name?: string; args: string }>();
      let finish: string | null | undefined = null;
      for await (const chunk of stream) {
        for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
          const c = calls.get(d.index) ?? { args: '' };
          if (d.id) c.id = d.id;
          if (d.function?.name) c.name = d.function.name;
          c.args += d.function?.arguments ?? '';
          calls.set(d.index, c);
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(calls.size, 1);
      const c = calls.get(0)!;
      assert.equal(c.name, 'get_weather');
      assert.ok(c.id);
      assert.deepEqual(JSON.parse(c.args), { query: 'Rome' });
      assert.equal(finish, 'tool_calls');
    });
  }

  test('streams without include_usage do not leak the usage-only chunk', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const chunk of stream) {
      assert.ok(chunk.choices.length > 0, 'every chunk has a choice');
      assert.equal(chunk.usage ?? null, null);
    }
    const upstream = openaiFake.requests.at(-1)!;
    assert.equal(upstream.body.stream_options.include_usage, true, 'the gateway asked the upstream for usage');
  });

  test('unknown request fields reach an OpenAI-compatible upstream untouched', async () => {
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], // @ts-expect-error: a field the SDK does not know
      custom_vendor_field: { nested: [1, 2, 3] }, logit_bias: { '50256': -100 } });
    const upstream = openaiFake.requests.at(-1)!;
    assert.deepEqual(upstream.body.custom_vendor_field, { nested: [1, 2, 3] });
    assert.deepEqual(upstream.body.logit_bias, { '50256': -100 });
    assert.equal(upstream.headers.authorization, 'Bearer sk-upstream-openai-secret');
  });

  test('embeddings through OpenAI and Gemini upstreams', async () => {
    const oa = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    assert.equal(oa.data.length, 2);
    assert.ok(oa.usage.prompt_tokens > 0);
    const gm = await client.embeddings.create({ model: 'gemini-embedding-001', input: 'hello' });
    assert.equal(gm.data.length, 1);
    assert.ok(Array.isArray(gm.data[0]?.embedding));
  });

  test('non-streamed answers say which provider served them and what they cost', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'price me' }] }),
    });
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    assert.equal(res.headers.get('x-smartflow-provider'), 'anthropic');
    // claude-sonnet-4-5 from the built-in table: $3 in / $15 out per million tokens = 3 / 15 micro-USD per token.
    assert.equal(Number(res.headers.get('x-smartflow-cost-micros')), body.usage.prompt_tokens * 3 + body.usage.completion_tokens * 15);
  });

  test('/v1/models lists configured and catalogue models', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    assert.ok(ids.includes('gpt-4o-mini'));
    assert.ok(ids.includes('claude-sonnet-4-5'));
    assert.ok(ids.includes('gemini-2.5-flash'));
  });
});
