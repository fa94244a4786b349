import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { after, describe, test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { createRedisStore } from '../../src/storage/redis/redis-store.js';
import { DAY_MS, dayStart } from '../../src/spend/spend-rollup.js';
import type { SpendRecord } from '../../src/spend/spend-record.js';
import { createStore } from '../../src/storage/index.js';
import { spendRecord } from './spend-fixture.js';
import { storageContract } from './storage.contract.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// One prefix per run: runs can share a server, and cleanup knows exactly what to delete.
const prefix = `sf-test:${randomUUID()}:`;

after(async () => {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
});

storageContract('redis', (scope) => createRedisStore(url, { prefix: scope === undefined ? prefix : `${prefix}${scope}:` }));

describe('redis store specifics', () => {
  test('an unreachable server fails fast without revealing the password', async () => {
    const started = Date.now();
    const err: unknown = await createRedisStore('redis://:s3cret@127.0.0.1:1').then(
      () => assert.fail('connected to port 1'),
      (e: unknown) => e,
    );
    assert.ok(Date.now() - started < 5_000, 'rejects quickly');
    assert.ok(err instanceof GatewayError);
    assert.equal(err.codeName, 'SF_ERR_STORE_UNAVAILABLE');
    assert.ok(!err.message.includes('s3cret'));
    assert.ok(!inspect(err, { depth: 10 }).includes('s3cret'), 'not even in the cause chain');
  });

  test('prefixes isolate stores on one server; createStore picks redis', async (t) => {
    const a = await createStore({ type: 'redis', url }, { prefix });
    const b = await createStore({ type: 'redis', url }, { prefix: `${prefix}other:` });
    t.after(() => Promise.all([a.close(), b.close()]));
    assert.equal(a.kind, 'redis');
    await a.incrCounter('shared-name', 5);
    assert.equal(await b.getCounter('shared-name'), 0);
    await b.setEntry('x', 'b', 60_000);
    assert.equal(await a.getEntry('x'), undefined);
  });
});

describe('redis spend rollups of streams written without them', () => {
  /** Appends as a gateway of an earlier version did: the record alone, no rollups, no marker. */
  async function appendAsBefore(redis: Redis, key: string, records: SpendRecord[]): Promise<void> {
    for (const r of records) await redis.xadd(key, '*', 'r', JSON.stringify(r));
  }
  const first = dayStart(Date.now()) - 3 * DAY_MS;
  const batch = (from: number, n: number, key_id: string | null) =>
    Array.from({ length: n }, (_, i) => spendRecord({ id: `b-${from + i}`, time: first + ((from + i) % 3) * DAY_MS + i, key_id, cost_micros: 10 }));
  const wholeDays = async (store: Awaited<ReturnType<typeof createRedisStore>>) =>
    (await store.summarizeSpend({ group_by: 'key', from: first, to: first + 3 * DAY_MS })).rows.map((r) => [r.id, r.requests]);

  test('a stream from before rollups is added to them when stores open, once, however many open at once; later unmarked entries at the next open', async (t) => {
    const own = `${prefix}upgrade:`;
    const redis = new Redis(url);
    t.after(() => redis.disconnect());
    // More than one catch-up batch (1,000 entries).
    await appendAsBefore(redis, `${own}spend`, batch(0, 2_500, 'old'));
    const stores = await Promise.all([0, 1, 2].map(() => createRedisStore(url, { prefix: own })));
    t.after(() => Promise.all(stores.map((s) => s.close())));
    assert.deepEqual(await wholeDays(stores[0]!), [['old', 2_500]]);

    // A rolling upgrade: a new gateway appends (with rollups) while an old one still appends without.
    await stores[1]!.appendSpend(batch(10_000, 30, 'new'));
    await appendAsBefore(redis, `${own}spend`, batch(20_000, 40, 'late'));
    await stores[1]!.appendSpend(batch(30_000, 20, 'new'));
    assert.deepEqual(await wholeDays(stores[2]!), [['old', 2_500], ['new', 50]], 'the late entries wait for the next open');
    const next = await createRedisStore(url, { prefix: own });
    t.after(() => next.close());
    assert.deepEqual(await wholeDays(next), [['old', 2_500], ['new', 50], ['late', 40]]);
    await next.appendSpend(batch(40_000, 10, 'new'));
    const again = await createRedisStore(url, { prefix: own });
    t.after(() => again.close());
    assert.deepEqual(await wholeDays(again), [['old', 2_500], ['new', 60], ['late', 40]], 'nothing counted twice');
  });
});

describe('redis store when the connection drops', () => {
  test('calls fail fast with SF_ERR_STORE_UNAVAILABLE', async (t) => {
    // A loopback proxy we can cut, so the shared Redis server is never disturbed.
    const target = new URL(url);
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    const store = await createRedisStore(`redis://127.0.0.1:${port}`, { prefix });
    t.after(() => store.close());
    await store.ping();

    proxy.close();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    for (const call of [store.getCounter('x'), store.guardedIncrement([{ key: 'x', delta: 1, limit: 5 }]), store.ping()]) {
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.codeName, 'SF_ERR_STORE_UNAVAILABLE');
        assert.ok(!inspect(err, { depth: 10 }).includes('s3cret'));
        return true;
      });
    }
    assert.ok(Date.now() - started < 1_000, 'no waiting behind a dead connection');
  });
});
