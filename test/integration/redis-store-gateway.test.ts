import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';


/** Two gateway instances on one Redis behave as one gateway for the spend log. */
describe('gateways on the Redis store', () => {
  const prefix = `sf-it:${randomUUID()}:`;
  let fake: FakeUpstream;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    fake = await startFakeOpenAI();
    const config = {
      store: { type: 'redis', url: REDIS_URL, prefix },
      providers: fakeProviders({ openai: fake.url }),
      models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
    };
    [a, b] = await Promise.all([startTestGateway(config), startTestGateway(config)]);
  });

  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await fake.close();
    await flushRedisPrefix(prefix);
  });

  test('readiness reports the Redis store', async () => {
    const res = await fetch(`${a.url}/health/readiness`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { store: { type: string } }).store.type, 'redis');
  });

  test('requests through either instance land in one shared spend log', async () => {
    const ids: string[] = [];
    for (const gw of [a, b, a, b]) {
      const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
      const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'redis' }] }).withResponse();
      ids.push(res.response.headers.get('x-request-id')!);
    }
    await Promise.all([a.gateway.spendLog.flush(), b.gateway.spendLog.flush()]);
    for (const gw of [a, b]) {
      const res = await fetch(`${gw.url}/api/spend/logs?limit=100`, { headers: authHeaders() });
      const body = (await res.json()) as { data: Array<{ id: string; status: number; input_tokens: number }> };
      for (const id of ids) {
        const row = body.data.find((r) => r.id === id);
        assert.ok(row, `row ${id} visible from ${gw === a ? 'a' : 'b'}`);
        assert.equal(row.status, 200);
        assert.ok(row.input_tokens > 0);
      }
    }
  });
});
