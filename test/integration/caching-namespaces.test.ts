import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';
import { createKey } from '../helpers/vkeys.js';
import { createStore } from '../../src/storage/index.js';

/**
 * Clients name namespaces freely; they must not grow the store, the statistics or the memory
 * backend without bound. Each owner holds at most `cache.namespaces.max_per_owner`, and each is
 * forgotten `cache.namespaces.ttl_seconds` after its last use, counters included, no-store too.
 */

const MODEL = { name: 'm', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 };
const LIMITS = { max_per_owner: 10, ttl_seconds: 600 };
const JUNK = 200;

function testClock() {
  let t = Date.parse('2026-03-01T12:00:00Z');
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function junk(gw: TestGateway, i: number, key?: string): Promise<Res> {
  return call(`${gw.url}/v1/chat/completions`, {
    headers: { ...authHeaders(key), 'x-smartflow-cache-namespace': `junk-${i}`, 'cache-control': 'no-store' },
    body: { model: 'm', messages: [{ role: 'user', content: `junk ${i}` }] },
  });
}

/** The answers' cache statuses, in order. */
async function sendJunk(gw: TestGateway, key?: string): Promise<string[]> {
  const statuses: string[] = [];
  for (let i = 0; i < JUNK; i++) {
    const res = await junk(gw, i, key);
    assert.equal(res.status, 200, res.text);
    statuses.push(res.headers['x-smartflow-cache'] as string);
  }
  return statuses;
}

async function namespaces(gw: TestGateway): Promise<string[]> {
  const stats = await call(`${gw.url}/api/cache/stats`, { headers: authHeaders() });
  assert.equal(stats.status, 200, stats.text);
  return stats.json.namespaces.map((n: { namespace: string }) => n.namespace);
}

describe('cache namespaces are bounded', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeOpenAI();
  });
  after(async () => {
    await fake.close();
  });

  for (const backend of ['memory', 'store'] as const) {
    test(`${backend} backend: ${JUNK} junk namespaces with no-store leave at most max_per_owner, and nothing after ttl_seconds`, async (t) => {
      const clock = testClock();
      const gw = await startTestGateway({ providers: fakeProviders({ openai: fake.url }), models: [MODEL], cache: { enabled: true, backend, namespaces: LIMITS }, logging: { level: 'warn' } }, { now: clock.now });
      t.after(() => gw.close());
      const { key } = await createKey(gw.url);

      const statuses = await sendJunk(gw, key);
      assert.deepEqual(statuses.slice(0, LIMITS.max_per_owner), Array(LIMITS.max_per_owner).fill('MISS'));
      assert.deepEqual(new Set(statuses.slice(LIMITS.max_per_owner)), new Set(['BYPASS']), 'past the limit: not looked up, counted or stored');
      const listed = await namespaces(gw);
      assert.equal(listed.length, LIMITS.max_per_owner, listed.join(' '));
      assert.ok(listed.every((n) => n.startsWith('key/')));
      assert.equal((await junk(gw, 0, key)).headers['x-smartflow-cache'], 'MISS', 'a namespace the owner holds is still served');
      assert.equal((await junk(gw, 0)).headers['x-smartflow-cache'], 'MISS', 'another owner has its own limit');

      clock.advance(LIMITS.ttl_seconds * 1000);
      assert.deepEqual(await namespaces(gw), [], 'forgotten after ttl_seconds');
      assert.equal((await junk(gw, JUNK - 1, key)).headers['x-smartflow-cache'], 'MISS', 'which frees places');
    });
  }

  test('Redis: nothing the junk leaves is permanent, and it is bounded; the permanent documents of earlier versions are removed at start', async (t) => {
    const prefix = `sf-test-cache-ns-${randomUUID()}:`;
    const earlier = await createStore({ type: 'redis', url: REDIS_URL, prefix });
    for (let i = 0; i < 3; i++) await earlier.createDoc('cache_namespaces', `old-${i}`, { namespace: `old-${i}` });
    const gw = await startTestGateway({ store: { type: 'redis', url: REDIS_URL, prefix }, providers: fakeProviders({ openai: fake.url }), models: [MODEL], cache: { enabled: true, namespaces: LIMITS }, logging: { level: 'warn' } });
    const redis = new Redis(REDIS_URL);
    t.after(async () => {
      await earlier.close();
      await gw.close();
      await flushRedisPrefix(prefix);
      await redis.quit();
    });

    await sendJunk(gw);
    assert.equal((await namespaces(gw)).length, LIMITS.max_per_owner);
    assert.deepEqual((await earlier.listDocs('cache_namespaces')).items, []);
    // The prefix itself says "cache": look for it only in the part the store chose.
    const cacheKeys = (await redis.keys(`${prefix}*`)).filter((k) => k.slice(prefix.length).includes('cache'));
    const ttls = await Promise.all(cacheKeys.map((k) => redis.pttl(k)));
    const permanent = cacheKeys.filter((_, i) => ttls[i]! < 0);
    assert.deepEqual(permanent, [], 'every cache key expires');
    // A registration per owner and a miss counter per namespace it holds.
    assert.ok(cacheKeys.length <= LIMITS.max_per_owner + 1, `${cacheKeys.length} cache keys: ${cacheKeys.join(' ')}`);
    for (const ttl of ttls) assert.ok(ttl <= LIMITS.ttl_seconds * 1000);
  });
});
