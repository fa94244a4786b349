import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';

/** Review reproductions: each test asserts the CORRECT behaviour and fails today. */
describe('limits cannot be bypassed', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    fake = await startFakeAnthropic();
    gw = await startTestGateway({
      providers: { anthropic: { type: 'anthropic', base_url: fake.url, api_key: 'sk-ant-upstream-secret', forward_headers: ['x-fake-*'] } },
      models: [{ name: 'cheap', provider: 'anthropic', model: 'claude-haiku-4-5' }],
      logging: { level: 'warn' },
    });
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

  test('/anthropic/* raw forward: a key limited to another model must not reach Anthropic messages (batches, trailing slash, double slash)', async () => {
    const { key } = await createKey(gw.url, { models: ['demo-only'], max_budget: 0.000001 });
    const body = { model: 'claude-opus-4-1', max_tokens: 4096, messages: [{ role: 'user', content: 'hi' }] };
    // The pipeline route refuses it ...
    const refused = await call(`${gw.url}/anthropic/v1/messages`, { headers: { 'x-api-key': key, 'content-type': 'application/json' }, body });
    assert.equal(refused.status, 403, refused.text);
    fake.reset();
    // ... but these paths go to the raw forward, which only authenticates, then spends the provider key.
    for (const path of ['/anthropic/v1/messages/batches', '/anthropic/v1/messages/', '/anthropic//v1/messages', '/anthropic/v1/complete']) {
      await call(`${gw.url}${path}`, { headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: path.endsWith('batches') ? { requests: [{ custom_id: 'a', params: body }] } : body });
    }
    const leaked = fake.requests.map((r) => `${r.method} ${r.url} key=${String(r.headers['x-api-key'])}`);
    assert.deepEqual(leaked, [], `the provider key was used for a key with models ["demo-only"]: ${leaked.join(' | ')}`);
  });

  test('native Anthropic stream: a client that leaves before message_delta is charged for the output it received', async () => {
    const { id, key } = await createKey(gw.url, {});
    const words = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const res = await request(`${gw.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json', 'x-fake-chunk-delay-ms': '5' },
      body: JSON.stringify({ model: 'cheap', max_tokens: 4000, stream: true, messages: [{ role: 'user', content: words }] }),
    });
    assert.equal(res.statusCode, 200);
    let deltas = 0;
    let text = '';
    for await (const chunk of res.body) {
      text += chunk.toString();
      deltas = (text.match(/content_block_delta/g) ?? []).length;
      if (deltas >= 250) break; // close the connection just before message_delta
    }
    res.body.destroy();
    await sleep(300);
    const logs = await call(`${gw.url}/api/spend/logs?key=${id}`, { headers: authHeaders() });
    const row = logs.json.data[0];
    assert.ok(row, logs.text);
    assert.ok(row.output_tokens >= deltas / 2, `received ${deltas} content deltas but was charged ${row.output_tokens} output token(s) (cost ${row.cost_micros} µUSD)`);
  });

  test('spend API on Redis: an out-of-range epoch is a 400, not a 500', async () => {
    const prefix = `sf-test-limits-${Date.now()}:`;
    const redis = await startTestGateway({ providers: { demo: { type: 'demo' } }, store: { type: 'redis', url: REDIS_URL, prefix }, logging: { level: 'fatal' } });
    try {
      for (const path of ['/api/spend/keys?from=99999999999999999999', '/api/spend/logs?from=99999999999999999999']) {
        const res = await call(`${redis.url}${path}`, { headers: authHeaders() });
        assert.equal(res.status, 400, `${path}: ${res.status} ${res.text}`);
        assert.equal(res.json.error.param, 'from');
      }
    } finally {
      await redis.close();
      await flushRedisPrefix(prefix);
    }
  });

  test('translated Claude stream on /v1/chat/completions: a client that leaves before the end is charged for the output it received', async () => {
    const { id, key } = await createKey(gw.url, {});
    const words = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-fake-chunk-delay-ms': '5' },
      body: JSON.stringify({ model: 'cheap', max_tokens: 4000, stream: true, messages: [{ role: 'user', content: words }] }),
    });
    assert.equal(res.statusCode, 200);
    let chunks = 0;
    let text = '';
    for await (const chunk of res.body) {
      text += chunk.toString();
      chunks = (text.match(/"content":"/g) ?? []).length;
      if (chunks >= 250) break;
    }
    res.body.destroy();
    await sleep(300);
    const logs = await call(`${gw.url}/api/spend/logs?key=${id}`, { headers: authHeaders() });
    const row = logs.json.data[0];
    assert.ok(row, logs.text);
    assert.ok(row.output_tokens >= chunks / 2, `received ${chunks} content chunks but was charged ${row.output_tokens} output token(s)`);
  });
});
