import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheConfigSchema } from '../../../src/cache/cache-config.js';
import type { CacheEntry } from '../../../src/cache/cache-entry.js';
import { createMemoryCache } from '../../../src/cache/memory-cache.js';
import type { Store } from '../../../src/storage/types.js';

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function setup(raw: Record<string, unknown> = {}) {
  let clock = 1_000_000;
  const config = cacheConfigSchema.parse({ enabled: true, ...raw });
  // The memory backend never touches the store.
  const cache = createMemoryCache({ config, store: {} as Store, now: () => clock, log: silent });
  return { cache, advance: (ms: number) => (clock += ms), now: () => clock };
}

function entry(key: string, text: string, opts: { namespace?: string; createdAt?: number; ttlMs?: number } = {}): CacheEntry {
  const createdAt = opts.createdAt ?? 1_000_000;
  return { key, namespace: opts.namespace ?? 'default', answer: { kind: 'json', text }, usage: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1 }, costMicros: 3, createdAt, expiresAt: createdAt + (opts.ttlMs ?? 60_000) };
}

describe('memory cache', () => {
  test('evicts the least recently used entries once the bytes exceed max_bytes', async () => {
    const { cache } = setup({ memory: { max_bytes: 30 } });
    assert.ok(await cache.set(entry('a', '0123456789')));
    assert.ok(await cache.set(entry('b', '0123456789')));
    assert.ok(await cache.set(entry('c', '0123456789')));
    assert.ok(await cache.get('default', 'a'), 'a is now the most recently used');
    assert.ok(await cache.set(entry('d', '0123456789')));
    assert.equal(await cache.get('default', 'b'), undefined, 'b was the least recently used');
    for (const key of ['a', 'c', 'd']) assert.ok(await cache.get('default', key), key);
    const stats = await cache.stats();
    assert.equal(stats.entries, 3);
    assert.equal(stats.bytes, 30);
  });

  test('bytes are UTF-8 bytes; an answer above max_entry_bytes is refused', async () => {
    const { cache } = setup({ max_entry_bytes: 10 });
    assert.equal(await cache.set(entry('a', 'ééééé')), true);
    assert.equal(await cache.set(entry('b', 'éééééé')), false);
    assert.equal((await cache.stats()).bytes, 10);
  });

  test('entries expire on the gateway clock; a lookup in another namespace misses', async () => {
    const { cache, advance } = setup();
    await cache.set(entry('a', 'x', { ttlMs: 10_000 }));
    assert.equal(await cache.get('other', 'a'), undefined);
    advance(9_999);
    assert.ok(await cache.get('default', 'a'));
    advance(1);
    assert.equal(await cache.get('default', 'a'), undefined);
    assert.equal((await cache.stats()).entries, 0);
  });

  test('delete by key, delete a namespace with the namespaces narrowed inside it, and per-namespace statistics', async () => {
    const { cache } = setup();
    for (const name of [undefined, 'x']) assert.equal(await cache.claim('master', name), true);
    await cache.set(entry('a', 'aaaa', { namespace: 'master/x' }));
    await cache.set(entry('b', 'bb', { namespace: 'master/x' }));
    await cache.set(entry('c', 'c', { namespace: 'master' }));
    await cache.set(entry('d', 'd', { namespace: 'team/t' }));
    cache.recordLookup('master/x', true);
    cache.recordLookup('master/x', false);
    cache.recordLookup('master', false);
    let stats = await cache.stats();
    assert.deepEqual(stats.namespaces, [
      { namespace: 'master', hits: 0, misses: 1, entries: 1, bytes: 1 },
      { namespace: 'master/x', hits: 1, misses: 1, entries: 2, bytes: 6 },
      { namespace: 'team/t', hits: 0, misses: 0, entries: 1, bytes: 1 },
    ]);
    assert.equal(await cache.delete('d'), true);
    assert.equal(await cache.delete('d'), false);
    assert.equal(await cache.deleteNamespace('master'), 3);
    stats = await cache.stats();
    assert.equal(stats.entries, 0);
    assert.equal(stats.bytes, 0);
    assert.equal(stats.hits, 1, 'the registered namespaces keep their counts');
    assert.equal(stats.misses, 2);
    assert.deepEqual(stats.namespaces.map((n) => n.namespace), ['master', 'master/x'], 'team/t was never registered and holds nothing now');
  });

  test('an owner holds at most max_per_owner client namespaces; each is forgotten, with its statistics, ttl_seconds after its last use', async () => {
    const { cache, advance } = setup({ namespaces: { max_per_owner: 2, ttl_seconds: 100 } });
    assert.equal(await cache.claim('team/t', 'a'), true);
    assert.equal(await cache.claim('team/t', 'b'), true);
    assert.equal(await cache.claim('team/t', 'c'), false, 'a third name is refused');
    assert.equal(await cache.claim('team/t', undefined), true, 'the owner\'s own namespace does not count');
    assert.equal(await cache.claim('team/u', 'c'), true, 'another owner has its own limit');
    cache.recordLookup('team/t/a', false);
    advance(60_000);
    assert.equal(await cache.claim('team/t', 'a'), true, 'used again: remembered longer');
    advance(40_000);
    assert.equal(await cache.claim('team/t', 'c'), true, 'b was forgotten, which frees a place');
    assert.equal(await cache.claim('team/t', 'd'), false);
    advance(100_000);
    assert.deepEqual((await cache.stats()).namespaces, [], 'nothing used for ttl_seconds is left');
  });

  test('nearest: the most similar live vector of the group, never one whose answer is gone', async () => {
    const { cache, advance } = setup({ semantic: { embedding_model: 'e', max_candidates: 2 } });
    const v = (...xs: number[]) => Float32Array.from(xs);
    for (const key of ['a', 'b', 'c']) await cache.set(entry(key, key));
    await cache.addVector('default', 's', { key: 'a', vector: v(1, 0), expiresAt: 2_000_000 });
    await cache.addVector('default', 's', { key: 'b', vector: v(0.8, 0.6), expiresAt: 2_000_000 });
    await cache.addVector('default', 's', { key: 'c', vector: v(0, 1), expiresAt: 1_000_500 });
    // max_candidates 2: a (the oldest) went.
    const near = await cache.nearest('default', 's', v(1, 0));
    assert.equal(near?.key, 'b');
    assert.ok(Math.abs(near.similarity - 0.8) < 1e-6);
    assert.equal(await cache.nearest('default', 'other-scope', v(1, 0)), undefined);
    assert.equal(await cache.nearest('other', 's', v(1, 0)), undefined);
    await cache.delete('b');
    assert.equal((await cache.nearest('default', 's', v(1, 0)))?.key, 'c');
    advance(600);
    assert.equal(await cache.nearest('default', 's', v(1, 0)), undefined);
  });

  test('semantic vectors share the byte budget: many client-made scopes cannot grow memory past max_bytes', async () => {
    // 64-dimension vectors are 256 bytes; a 4 KiB budget holds 16 of them besides the answers.
    const { cache } = setup({ memory: { max_bytes: 4096 }, semantic: { embedding_model: 'e', max_candidates: 4 } });
    const vector = () => new Float32Array(64).fill(0.125);
    await cache.set(entry('answer', 'x'));
    for (let i = 0; i < 100; i++) await cache.addVector('default', `scope-${i}`, { key: 'answer', vector: vector(), expiresAt: 2_000_000 });
    let live = 0;
    for (let i = 0; i < 100; i++) if (await cache.nearest('default', `scope-${i}`, vector())) live += 1;
    assert.ok(live > 0 && live <= 16, `${live} scopes still hold a vector`);
    assert.ok(await cache.nearest('default', 'scope-99', vector()), 'the newest scope is kept');
    assert.equal(await cache.nearest('default', 'scope-0', vector()), undefined, 'the oldest went first');
  });
});
