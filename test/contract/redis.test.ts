import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { after, describe, test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { createRedisStore } from '../../src/storage/redis/redis-store.js';
import { createStore } from '../../src/storage/index.js';
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
