import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('/anthropic passthrough with the official Anthropic SDK', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  let client: Anthropic;
  before(async () => {
    fake = await startFakeAnthropic();
    gw = await startTestGateway({
      providers: { anthropic: { type: 'anthropic', base_url: fake.url, api_key: 'sk-ant-upstream-secret', forward_headers: ['x-fake-*'] } },
      logging: { level: 'warn' },
    });
    client = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: MASTER_KEY, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

  test('HEAD and GET on the base URL answer 200 (Claude Code probes it)', async () => {
    for (const method of ['HEAD', 'GET'] as const) {
      const res = await call(`${gw.url}/anthropic`, { method });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-smartflow-passthrough'], 'anthropic');
    }
  });

  test('a plain message passes through natively; the caller key is replaced by the provider key', async () => {
    fake.reset();
    const { data: message, response } = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hello there' }] }).withResponse();
    assert.equal(message.type, 'message');
    assert.equal(message.content[0]?.type, 'text');
    assert.equal(response.headers.get('x-smartflow-passthrough'), 'anthropic');
    const upstream = fake.requests[0]!;
    assert.equal(upstream.headers['x-api-key'], 'sk-ant-upstream-secret');
    assert.equal(upstream.headers['authorization'], undefined);
    assert.equal(upstream.body.model, 'claude-sonnet-4-5');
  });

  test('streamed messages arrive as Anthropic events', async () => {
    const stream = client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Stream please' }] });
    const final = await stream.finalMessage();
    assert.equal(final.role, 'assistant');
    assert.ok(final.content.some((b) => b.type === 'text' && b.text.length > 0));
    assert.ok(final.usage.output_tokens > 0);
  });

  test('tool use round trip', async () => {
    const first = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 200, tools: [WEATHER_TOOL], messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.ok(use && use.type === 'tool_use');
    const second = await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 200,
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Sunny, 21 C' }] },
      ],
    });
    assert.equal(second.stop_reason, 'end_turn');
  });

  test('count_tokens and models are forwarded as is', async () => {
    const counted = await client.messages.countTokens({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'How many tokens is this?' }] });
    assert.ok(counted.input_tokens > 0);
    const models = await client.models.list();
    assert.ok(models.data.length > 0);
  });

  test('anthropic-* headers reach the upstream byte for byte; ?beta=true is kept', async () => {
    fake.reset();
    const beta = 'interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14';
    const res = await call(`${gw.url}/anthropic/v1/messages?beta=true`, {
      headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'anthropic-beta': beta, 'anthropic-dangerous-direct-browser-access': 'true' },
      body: { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200, res.text);
    const upstream = fake.requests[0]!;
    assert.equal(upstream.headers['anthropic-beta'], beta);
    assert.equal(upstream.headers['anthropic-dangerous-direct-browser-access'], 'true');
    assert.equal(upstream.url, '/v1/messages?beta=true');
  });

  test('[1m] is stripped from the model and becomes the 1M-context beta flag', async () => {
    fake.reset();
    const res = await call(`${gw.url}/anthropic/v1/messages`, {
      headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'foo-beta' },
      body: { model: 'claude-sonnet-4-5[1m]', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(fake.requests[0]!.body.model, 'claude-sonnet-4-5');
    assert.equal(fake.requests[0]!.headers['anthropic-beta'], 'foo-beta,context-1m-2025-08-07');
  });

  test('errors come back as Anthropic error JSON', async () => {
    const noKey = await call(`${gw.url}/anthropic/v1/messages`, { headers: { 'content-type': 'application/json' }, body: { model: 'claude-haiku-4-5', max_tokens: 10, messages: [] } });
    assert.equal(noKey.status, 401);
    assert.equal(noKey.json.type, 'error');
    assert.equal(noKey.json.error.type, 'authentication_error');
    const malformed = await call(`${gw.url}/anthropic/v1/messages`, { headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json' }, body: '{"model": ' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.type, 'error');
    assert.equal(malformed.headers['x-smartflow-passthrough'], 'anthropic');
    const invalid = await call(`${gw.url}/anthropic/v1/messages`, { headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json' }, body: { model: 'claude-haiku-4-5', max_tokens: 10, messages: [] } });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.json.error.type, 'invalid_request_error');
    assert.match(invalid.json.error.message, /messages/);
    fake.queue.push({ status: 529 });
    await assert.rejects(client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.APIError);
      assert.equal(err.status, 529);
      return true;
    });
  });

  test('BYOK: the caller\'s own Anthropic key goes upstream only for keys allowed to', async () => {
    const body = { model: 'claude-haiku-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] };
    const send = (gatewayKey: string) =>
      call(`${gw.url}/anthropic/v1/messages`, { headers: { authorization: `Bearer ${gatewayKey}`, 'x-api-key': 'sk-ant-callers-own-key', 'content-type': 'application/json' }, body });
    const plain = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: {} });
    const byok = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { allow_byok: true } });
    assert.equal(byok.json.allow_byok, true);
    fake.reset();
    assert.equal((await send(plain.json.key)).status, 200);
    assert.equal(fake.requests[0]!.headers['x-api-key'], 'sk-ant-upstream-secret', 'not allowed: the provider key is used');
    assert.equal((await send(byok.json.key)).status, 200);
    assert.equal(fake.requests[1]!.headers['x-api-key'], 'sk-ant-callers-own-key');
    const counted = await call(`${gw.url}/anthropic/v1/messages/count_tokens`, { headers: { authorization: `Bearer ${byok.json.key}`, 'x-api-key': 'sk-ant-callers-own-key', 'content-type': 'application/json' }, body: { model: 'claude-haiku-4-5', messages: body.messages } });
    assert.equal(counted.status, 200);
    assert.equal(fake.requests[2]!.headers['x-api-key'], 'sk-ant-callers-own-key');
  });

  test('a virtual key is charged per Anthropic usage, cache reads and writes included', async () => {
    const created = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { max_budget: 10 } });
    const keyClient = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: created.json.key, maxRetries: 0, defaultHeaders: { 'x-fake-cache-read-tokens': '1000', 'x-fake-cache-write-tokens': '2000' } });
    const { response } = await keyClient.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Cached prompt' }] }).withResponse();
    assert.ok(response.headers.get('x-smartflow-budget-remaining'));
    await gw.gateway.spendLog.flush();
    const logs = await call(`${gw.url}/api/spend/logs?key=${created.json.id}`, { headers: authHeaders() });
    const row = logs.json.data[0];
    assert.equal(row.operation, 'messages');
    assert.equal(row.cached_input_tokens, 1000);
    assert.ok(row.input_tokens >= 3000, 'input counts plain, cache-read and cache-write tokens');
    // claude-sonnet-4-5: $3 input, $0.30 cache read, $3.75 cache write, $15 output per million tokens.
    const plain = row.input_tokens - 3000;
    const expected = Math.ceil(plain * 3 + 1000 * 0.3 + 2000 * 3.75 + row.output_tokens * 15);
    assert.equal(row.cost_micros, expected);
    const budget = await call(`${gw.url}/api/enterprise/vkeys/${created.json.id}/budget`, { headers: authHeaders() });
    assert.equal(budget.json.spent, expected / 1e6);
    assert.equal(budget.json.reserved, 0);
  });
});

test('/anthropic answers are cached and replayed verbatim, each form under its own key', async () => {
  const fake = await startFakeAnthropic();
  const gw = await startTestGateway({
    providers: { anthropic: { type: 'anthropic', base_url: fake.url, api_key: 'sk-ant-upstream-secret' } },
    cache: { models: { 'claude-haiku-4-5': { enabled: true } } },
    logging: { level: 'warn' },
  });
  try {
    const client = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: MASTER_KEY, maxRetries: 0 });
    const params = { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user' as const, content: 'Cache me' }] };
    const first = await client.messages.create(params).withResponse();
    const second = await client.messages.create(params).withResponse();
    assert.equal(first.response.headers.get('x-smartflow-cache'), 'STORED');
    assert.equal(second.response.headers.get('x-smartflow-cache'), 'HIT');
    assert.deepEqual(second.data, first.data, 'the JSON answer is replayed as it was');
    assert.equal(fake.requests.length, 1);

    const streamed = await client.messages.stream(params).finalMessage();
    assert.equal(fake.requests.length, 2, 'a stream request does not take the JSON entry');
    // The SDK's anthropic-version is part of the key: the same header finds its entry.
    const raw = await call(`${gw.url}/anthropic/v1/messages`, { headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json', 'anthropic-version': String(fake.requests[1]!.headers['anthropic-version']) }, body: { ...params, stream: true } });
    assert.equal(raw.headers['x-smartflow-cache'], 'HIT');
    assert.match(raw.text, /^event: message_start$/m);
    assert.match(raw.text, /^event: message_stop$/m);
    assert.doesNotMatch(raw.text, /\[DONE\]/);
    const replayed = await client.messages.stream(params).finalMessage();
    assert.deepEqual(replayed.content, streamed.content);
    assert.equal(fake.requests.length, 2);
  } finally {
    await gw.close();
    await fake.close();
  }
});
