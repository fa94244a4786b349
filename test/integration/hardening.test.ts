import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { createStore } from '../../src/storage/index.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';

/** Inputs that once broke the gateway, and the behaviour that replaced the breakage. */
describe('hardening', () => {
  let openaiFake: FakeUpstream;
  let geminiFake: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    [openaiFake, geminiFake] = await Promise.all([startFakeOpenAI(), startFakeGemini()]);
    gw = await startTestGateway({ providers: { ...fakeProviders({ openai: openaiFake.url, gemini: geminiFake.url }), demo: { type: 'demo' } } });
  });
  after(async () => {
    await gw.close();
    await Promise.all([openaiFake.close(), geminiFake.close()]);
  });

  const chat = (body: unknown) => request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: authHeaders(), body: JSON.stringify(body) });

  test('a provider/model name cannot steer the gateway\'s credentials to another upstream path', async () => {
    const before = geminiFake.requests.length;
    for (const model of ['google/../../v1beta/cachedContents#', 'google/x/../../../v1/tunedModels?pageSize=1#', 'openai/../admin', 'google/a%2F..%2Fb']) {
      const res = await chat({ model, messages: [{ role: 'user', content: 'x' }] });
      assert.equal(res.statusCode, 404, model);
      assert.equal(((await res.body.json()) as { error: { code: string } }).error.code, 'model_not_found');
    }
    assert.equal(geminiFake.requests.length, before, 'nothing reached the upstream');
    const ok = await chat({ model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'fine' }] });
    assert.equal(ok.statusCode, 200);
    assert.match(geminiFake.requests.at(-1)!.url, /^\/v1beta\/models\/gemini-2\.5-flash:generateContent/);
  });

  test('bodies are parsed with a clear message for each way they can be wrong', async () => {
    const send = (payload: string) => request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: authHeaders(), body: payload });
    const broken = await send('{"model": "demo-chat", "messages": [}');
    assert.equal(broken.statusCode, 400);
    const b1 = (await broken.body.json()) as { error: { code: string; message: string } };
    assert.equal(b1.error.code, 'invalid_json');
    assert.match(b1.error.message, /^The request body is not valid JSON: /);
    for (const poisoned of ['{"model":"demo-chat","messages":[{"role":"user","content":"x"}],"__proto__":{"admin":true}}', '{"model":"demo-chat","messages":[],"\\u005f_proto__":{"x":1}}', '{"a":{"constructor":{"prototype":{"x":1}}}}']) {
      const res = await send(poisoned);
      assert.equal(res.statusCode, 400, poisoned);
      const body = (await res.body.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'invalid_request', poisoned);
      assert.match(body.error.message, /__proto__/);
    }
    const legit = await send(JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'the constructor of __proto__ chains' }] }));
    assert.equal(legit.statusCode, 200, 'the words themselves inside content are fine');
    await legit.body.dump();
  });

  test('huge embedding dimensions are a 400, not an out-of-memory crash', async () => {
    const res = await request(`${gw.url}/v1/embeddings`, { method: 'POST', headers: authHeaders(), body: JSON.stringify({ model: 'demo-embed', input: 'hi', dimensions: 100_000_000 }) });
    assert.equal(res.statusCode, 400);
    assert.equal(((await res.body.json()) as { error: { param: string } }).error.param, 'dimensions');
  });

  test('odd tool schemas do not break the demo model', async () => {
    const res = await chat({ model: 'demo-chat', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 't', parameters: { type: 'object', required: 5 } } }] });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
  });

  test('a malformed URL gets the OpenAI error shape and a request id', async () => {
    const res = await request(`${gw.url}/v1/models/%E0%A4%A`, { headers: authHeaders() });
    assert.equal(res.statusCode, 400);
    assert.ok(res.headers['x-request-id']);
    const body = (await res.body.json()) as { error: { code: string; type: string } };
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(body.error.type, 'invalid_request_error');
  });

  test('the spend log can be filtered by principal', async () => {
    const anon = await request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-key' }, body: JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(anon.statusCode, 401);
    await anon.body.dump();
    const ok = await chat({ model: 'demo-chat', messages: [{ role: 'user', content: 'y' }] });
    await ok.body.dump();
    for (const principal of ['anonymous', 'master']) {
      const res = await request(`${gw.url}/api/spend/logs?principal=${principal}`, { headers: authHeaders() });
      const rows = ((await res.body.json()) as { data: Array<{ principal: string }> }).data;
      assert.ok(rows.length > 0, principal);
      assert.ok(rows.every((r) => r.principal === principal), principal);
    }
  });

  test('usage and completion are read from servers that put spaces after colons', async () => {
    const { startFakeServer, sendSse } = await import('../helpers/fake-upstream.js');
    const spaced = await startFakeServer((_req, s, res) =>
      sendSse(res, [
        { data: '{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": null}]}' },
        { data: '{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}' },
        { data: '{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}' },
      ], s),
    );
    const g = await startTestGateway({ providers: { spaced: { type: 'openai', base_url: spaced.url } }, models: [{ name: 'm', provider: 'spaced', model: 'm', input_cost_per_mtok: 1, output_cost_per_mtok: 1 }] });
    try {
      const res = await request(`${g.url}/v1/chat/completions`, { method: 'POST', headers: authHeaders(), body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }) });
      const text = await res.body.text();
      assert.match(text, /data: \[DONE\]\n\n$/, 'no [DONE] from upstream, but a finish_reason: the stream completed');
      assert.ok(!text.includes('"usage"'), 'the usage-only chunk was not asked for');
      await g.gateway.spendLog.flush();
      const row = (await g.gateway.store.querySpend({ limit: 1 })).rows[0]!;
      assert.deepEqual([row.input_tokens, row.output_tokens, row.cost_micros, row.status], [7, 3, 10, 200]);
    } finally {
      await g.close();
      await spaced.close();
    }
  });
});

test('a stream cut at the end of the shutdown grace period still lands in the spend log', async () => {
  const fake = await startFakeOpenAI();
  const dir = mkdtempSync(join(tmpdir(), 'sf-grace-'));
  const path = join(dir, 'smartflow.db');
  const g = await startTestGateway({
    server: { shutdown_grace_ms: 300 },
    store: { type: 'sqlite', path },
    spend_log: { flush_interval_ms: 600_000 },
    providers: fakeProviders({ openai: fake.url }),
    models: [{ name: 'm', provider: 'openai', model: 'gpt-4o-mini' }],
  });
  const res = await request(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...authHeaders(), 'x-fake-chunk-delay-ms': '400' },
    body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }] }),
  });
  const reader = res.body[Symbol.asyncIterator]();
  await reader.next();
  const id = res.headers['x-request-id'] as string;
  await g.gateway.close();
  res.body.destroy();
  const store = await createStore({ type: 'sqlite', path });
  try {
    const rows = (await store.querySpend({ limit: 10 })).rows;
    const row = rows.find((r) => r.id === id);
    assert.ok(row, 'the cut stream was recorded');
    assert.ok(row.status >= 400, `recorded as failed (${row.status} ${row.error_code})`);
  } finally {
    await store.close();
    await fake.close();
  }
});

test('the Redis store honours store.prefix', async () => {
  const prefix = `sf-prefix-test:${randomUUID()}:`;
  const fake = await startFakeOpenAI();
  const g = await startTestGateway({ store: { type: 'redis', url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix }, providers: fakeProviders({ openai: fake.url }), models: [{ name: 'm', provider: 'openai', model: 'gpt-4o-mini' }] });
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    const res = await request(`${g.url}/v1/chat/completions`, { method: 'POST', headers: authHeaders(), body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }) });
    await res.body.dump();
    await g.gateway.spendLog.flush();
    const keys = await redis.keys(`${prefix}*`);
    assert.ok(keys.includes(`${prefix}spend`), `keys under the prefix: ${keys.join(', ')}`);
  } finally {
    await g.close();
    await fake.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.unlink(...keys);
    await redis.quit();
  }
});

test('a provider that does not answer within timeout_ms gets 504 upstream_timeout, and a stream that stalls mid-way ends with an error event', async () => {
  const fake = await startFakeOpenAI();
  const g = await startTestGateway({
    providers: { slow: { type: 'openai', base_url: `${fake.url}/v1`, timeout_ms: 300, forward_headers: ['x-fake-*'] } },
    models: [{ name: 'm', provider: 'slow', model: 'gpt-4o-mini' }],
  });
  try {
    const started = Date.now();
    const res = await request(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { ...authHeaders(), 'x-fake-delay-ms': '2000' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(res.statusCode, 504);
    assert.equal(((await res.body.json()) as { error: { code: string } }).error.code, 'upstream_timeout');
    assert.ok(Date.now() - started < 1500, 'answered at the timeout, not when the upstream finally answered');

    const stalled = await request(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { ...authHeaders(), 'x-fake-chunk-delay-ms': '1000' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'several words here' }] }) });
    assert.equal(stalled.statusCode, 200);
    const text = await stalled.body.text();
    assert.match(text, /data: \{"error":\{[^\n]*"code":"stream_interrupted"/);
    assert.ok(!text.includes('[DONE]'));
  } finally {
    await g.close();
    await fake.close();
  }
});
