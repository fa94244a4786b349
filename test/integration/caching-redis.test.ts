import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';


/**
 * Two gateway instances on one Redis share one cache: an answer one of them stored is a hit on
 * the other, a deletion on one is seen by both, statistics count both.
 */
describe('response cache shared by two instances on Redis', () => {
  const prefix = `sf-test-cache-${randomUUID()}:`;
  let fake: FakeUpstream;
  let a: TestGateway;
  let b: TestGateway;
  let t = Date.parse('2026-03-01T12:00:00Z');
  const now = () => t;

  before(async () => {
    fake = await startFakeOpenAI();
    const config = {
      store: { type: 'redis', url: REDIS_URL, prefix },
      providers: fakeProviders({ openai: fake.url }),
      models: [{ name: 'm', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 }],
      cache: { enabled: true },
      logging: { level: 'warn' },
    };
    a = await startTestGateway(config, { now });
    b = await startTestGateway(config, { now });
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    await fake.close();
    await flushRedisPrefix(prefix);
  });

  const chatCalls = (): number => fake.requests.filter((r) => r.url.startsWith('/v1/chat/completions')).length;
  const ask = (gw: TestGateway, prompt: string, extra: Record<string, unknown> = {}): Promise<Res> =>
    call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(), body: { model: 'm', messages: [{ role: 'user', content: prompt }], ...extra } });

  test('one instance\'s answer is the other\'s hit; a deletion on one is seen by both', async () => {
    const stored = await ask(a, 'shared plain');
    assert.equal(stored.headers['x-smartflow-cache'], 'STORED');
    const calls = chatCalls();
    const hit = await ask(b, 'shared plain');
    assert.equal(hit.headers['x-smartflow-cache'], 'HIT');
    assert.equal(hit.headers['x-smartflow-cache-key'], stored.headers['x-smartflow-cache-key']);
    assert.equal(hit.text, stored.text);
    assert.equal(chatCalls(), calls);

    const del = await call(`${b.url}/api/cache/${hit.headers['x-smartflow-cache-key']}`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(del.status, 200, del.text);
    assert.equal((await ask(a, 'shared plain')).headers['x-smartflow-cache'], 'STORED');
  });

  test('a stream stored by one instance replays on the other, through the openai SDK', async () => {
    const prompt = 'shared stream of a few words';
    const first = await ask(a, prompt, { stream: true });
    assert.ok(first.text.endsWith('data: [DONE]\n\n'));
    const calls = chatCalls();
    const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${b.url}/v1`, maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: prompt }] }).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(response.headers.get('x-smartflow-cache'), 'HIT');
    assert.equal(text, `Echo: ${prompt}`);
    assert.equal(chatCalls(), calls);
  });

  test('expiry follows the gateway clock, even while Redis still holds the entry', async () => {
    await ask(a, 'short-lived', { cache: { ttl: 60 } });
    t += 59_000;
    assert.equal((await ask(b, 'short-lived')).headers['x-smartflow-cache'], 'HIT');
    t += 1_000;
    assert.equal((await ask(b, 'short-lived')).headers['x-smartflow-cache'], 'STORED');
  });

  test('namespace deletion and statistics cover both instances', async () => {
    const ns = { cache: { namespace: 'fleet' } };
    const one = await ask(a, 'fleet one', ns);
    await ask(b, 'fleet one', ns);
    await ask(a, 'fleet one', ns);
    const two = await ask(b, 'fleet two', ns);
    for (const gw of [a, b]) {
      const stats = await call(`${gw.url}/api/cache/stats`, { headers: authHeaders() });
      assert.equal(stats.json.backend, 'store');
      const row = stats.json.namespaces.find((n: any) => n.namespace === 'master/fleet');
      assert.deepEqual({ hits: row.hits, misses: row.misses, entries: row.entries }, { hits: 2, misses: 2, entries: 2 });
      // The store holds each answer with its metadata: more than the answer text, not much more.
      const answers = Buffer.byteLength(one.text) + Buffer.byteLength(two.text);
      assert.ok(row.bytes > answers && row.bytes < answers + 1_000, `${row.bytes} bytes for ${answers} bytes of answers`);
    }
    const del = await call(`${b.url}/api/cache?namespace=master/fleet`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(del.json.deleted, 2);
    assert.equal((await ask(a, 'fleet one', ns)).headers['x-smartflow-cache'], 'STORED');
    const after = await call(`${a.url}/api/cache/stats`, { headers: authHeaders() });
    assert.equal(after.json.namespaces.find((n: any) => n.namespace === 'master/fleet').entries, 1);
  });
});
