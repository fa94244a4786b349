import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { after, describe, test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { authHeaders, startTestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';
import { spendRecord } from '../contract/spend-fixture.js';

/**
 * The Redis store caps its spend stream at store.spend_log_max_rows. Rows it removes are never
 * lost silently: each one is counted in smartflow_spend_log_evicted_total, and a warning line
 * (at most one a minute) says how many went since the last one and what the cap is.
 */

const prefix = `sf-test-cap-${randomUUID()}:`;
after(() => flushRedisPrefix(prefix));

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ')[1]);
}

describe('the Redis spend-log cap', () => {
  test('store.spend_log_max_rows defaults to 1,000,000 and must be a positive integer', () => {
    const store = configSchema.parse({ store: { type: 'redis', url: REDIS_URL } }).store;
    assert.equal(store.type === 'redis' && store.spend_log_max_rows, 1_000_000);
    for (const bad of [0, -1, 1.5, '100']) {
      assert.throws(() => configSchema.parse({ store: { type: 'redis', url: REDIS_URL, spend_log_max_rows: bad } }), String(bad));
    }
  });

  test('rows past the cap go oldest first; every one is counted, and the warning lines add up to the counter', async (t) => {
    let clock = Date.now();
    const storePrefix = `${prefix}a:`;
    const gw = await startTestGateway({ store: { type: 'redis', url: REDIS_URL, prefix: storePrefix, spend_log_max_rows: 100 } }, { now: () => clock });
    const redis = new Redis(REDIS_URL);
    t.after(async () => {
      redis.disconnect();
      await gw.close();
    });
    const base = Date.now() - 30_000;
    let appended = 0;
    const append = async (n: number) => {
      await gw.gateway.store.appendSpend(Array.from({ length: n }, (_, i) => spendRecord({ id: `row-${String(appended + i).padStart(4, '0')}`, time: base + appended + i })));
      appended += n;
    };
    const scrape = async () => {
      const res = await call(`${gw.url}/metrics`, { headers: authHeaders() });
      assert.equal(res.status, 200);
      return metric(res.text, 'smartflow_spend_log_evicted_total');
    };
    const warnings = () =>
      gw.logs.text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .filter((l) => l.msg?.startsWith('spend log at its cap'));

    assert.equal(await scrape(), 0, 'nothing removed below the cap');
    await append(100);
    assert.equal(await scrape(), 0);
    assert.equal(warnings().length, 0);

    // Ten more batches within one minute: one warning line, every row counted.
    for (let i = 0; i < 10; i++) await append(50);
    const kept = await redis.xlen(`${storePrefix}spend`);
    assert.ok(kept >= 100 && kept < 200, `the stream keeps the cap, give or take one node: ${kept}`);
    assert.equal(await scrape(), appended - kept, 'exactly the rows that went');
    assert.equal(warnings().length, 1);
    assert.equal(warnings()[0].level, 40);
    assert.equal(warnings()[0].max_rows, 100);

    // A minute later the next removal logs again, with every row removed since the first line.
    clock += 61_000;
    await append(200);
    const keptAfter = await redis.xlen(`${storePrefix}spend`);
    const evicted = await scrape();
    assert.equal(evicted, appended - keptAfter);
    assert.equal(warnings().length, 2);
    assert.equal(warnings().reduce((sum, w) => sum + w.evicted, 0), evicted, 'the lines add up to the counter');

    // What is left is the newest rows, as the spend log API shows them.
    const res = await call(`${gw.url}/api/spend/logs?limit=1000`, { headers: authHeaders() });
    assert.equal(res.status, 200);
    const ids: string[] = res.json.data.map((r: { id: string }) => r.id);
    assert.equal(ids.length, keptAfter);
    assert.deepEqual(ids, Array.from({ length: keptAfter }, (_, i) => `row-${String(appended - 1 - i).padStart(4, '0')}`));
  });

  test('requests through the gateway are capped and counted the same way', async (t) => {
    const storePrefix = `${prefix}b:`;
    const gw = await startTestGateway({ store: { type: 'redis', url: REDIS_URL, prefix: storePrefix, spend_log_max_rows: 5 }, spend_log: { batch_size: 10 } });
    const redis = new Redis(REDIS_URL);
    t.after(async () => {
      redis.disconnect();
      await gw.close();
    });
    // Requests for a model that does not exist: each is a spend row, no upstream needed.
    for (let i = 0; i < 120; i++) {
      const res = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(), body: { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] } });
      assert.equal(res.status, 404);
    }
    await gw.gateway.spendLog.flush();
    const kept = await redis.xlen(`${storePrefix}spend`);
    const res = await call(`${gw.url}/metrics`, { headers: authHeaders() });
    const evicted = metric(res.text, 'smartflow_spend_log_evicted_total');
    assert.ok(evicted > 0, 'rows were removed');
    assert.equal(evicted + kept, 120, 'every row is either kept or counted');
    assert.match(gw.logs.text, /spend log at its cap/);
  });
});
