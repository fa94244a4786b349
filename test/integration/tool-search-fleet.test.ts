import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createStore } from '../../src/storage/index.js';
import type { Store } from '../../src/storage/types.js';
import type { Embedder } from '../../src/toolsearch/embedder.js';
import { HashedEmbedder } from '../../src/toolsearch/hashed-embedder.js';
import { VectorCache } from '../../src/toolsearch/vector-cache.js';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';

const PROBE = resolve('test/helpers/mcp-probe-server.ts');

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const names = async (gw: TestGateway, q: string) => ((await call(`${gw.url}/api/mcp/tools/search?q=${encodeURIComponent(q)}&k=20`, { headers: authHeaders() })).json.data as Array<{ name: string }>).map((h) => h.name);

describe('tool search on two instances sharing one Redis', () => {
  const prefix = `sf-it-toolsearch:${randomUUID()}:`;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    const config = { logging: { level: 'warn' }, store: { type: 'redis', url: REDIS_URL, prefix } };
    [a, b] = await Promise.all([startTestGateway(config), startTestGateway(config)]);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await flushRedisPrefix(prefix);
  });

  test('a server registered on A is searchable on B; a tool the server adds at run time (tools/list_changed) is found without a reindex', async () => {
    assert.deepEqual(await names(b, 'anything'), [], 'nothing registered yet');
    const res = await call(`${a.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'probe', command: process.execPath, args: ['--import', 'tsx', PROBE] } });
    assert.equal(res.status, 201, res.text);
    await until('the probe server on B', async () => ((await names(b, 'register a tool named by the argument')).includes('probe_add-tool') ? true : undefined));
    assert.ok(!(await names(b, 'calibrate telescope')).includes('probe_calibrate-telescope'));

    // The probe registers a tool and announces notifications/tools/list_changed to B's connection.
    const added = await call(`${b.url}/api/mcp/tools/call`, { headers: authHeaders(), body: { server: 'probe', tool: 'add-tool', arguments: { name: 'calibrate-telescope' } } });
    assert.equal(added.status, 200, added.text);
    await until('the added tool in B\'s search', async () => ((await names(b, 'calibrate telescope'))[0] === 'probe_calibrate-telescope' ? true : undefined));
  });
});

/** An embedder that counts the texts it was asked to embed. */
class CountingEmbedder implements Embedder {
  readonly id: string = 'counting-test-v1';
  readonly dimensions = 512;
  embedded = 0;
  private readonly inner = new HashedEmbedder();
  async embed(texts: string[]): Promise<Float32Array[]> {
    this.embedded += texts.length;
    return this.inner.embed(texts);
  }
}

describe('stored tool vectors (Redis): another instance or a restart embeds only what changed', () => {
  const prefix = `sf-it-toolsearch-vectors:${randomUUID()}:`;
  let first: Store;
  let second: Store;

  before(async () => {
    first = await createStore({ type: 'redis', url: REDIS_URL }, { prefix });
    second = await createStore({ type: 'redis', url: REDIS_URL }, { prefix });
  });
  after(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await flushRedisPrefix(prefix);
  });

  test('vectors written by one instance are read back by another; a changed text is embedded alone; another embedder id embeds again', async () => {
    const texts = ['read_file. Read a file', 'write_file. Write a file', 'echo. Echo a message'];
    const one = new CountingEmbedder();
    const made = await new VectorCache(first, one).vectorsFor('mcp_x', texts);
    assert.equal(one.embedded, 3);

    const two = new CountingEmbedder();
    const reused = await new VectorCache(second, two).vectorsFor('mcp_x', texts);
    assert.equal(two.embedded, 0, 'nothing embedded again');
    assert.deepEqual(reused.vectors.map((v) => [...v]), made.vectors.map((v) => [...v]));

    const changed = await new VectorCache(second, two).vectorsFor('mcp_x', [texts[0]!, 'write_file. Write or overwrite a file', texts[2]!]);
    assert.equal(two.embedded, 1, 'only the changed tool');
    assert.equal(changed.embedded, 1);

    const other = new (class extends CountingEmbedder {
      override readonly id = 'counting-test-v2';
    })();
    await new VectorCache(second, other).vectorsFor('mcp_x', texts);
    assert.equal(other.embedded, 3, 'vectors of another embedder are never mixed in');
  });
});
