import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { prefixUpperBound } from '../../src/storage/prefix-range.js';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { createStore } from '../../src/storage/index.js';
import { storageContract } from './storage.contract.js';

const dir = await mkdtemp(join(tmpdir(), 'smartflow-sqlite-'));
after(() => rm(dir, { recursive: true, force: true }));

// A controllable clock: expiry tests move it instead of sleeping.
let clock = Date.now();
const file = join(dir, 'store.db');
storageContract('sqlite', (scope) => createSqliteStore(scope === undefined ? file : join(dir, `${scope}.db`), { now: () => clock }), {
  advanceClock: async (ms) => {
    clock += ms;
  },
});

describe('sqlite store specifics', () => {
  test('creates the parent directory and is chosen by createStore', async (t) => {
    const path = join(dir, 'nested', 'deeper', 'gateway.db');
    const store = await createStore({ type: 'sqlite', path });
    t.after(() => store.close());
    assert.equal(store.kind, 'sqlite');
    await store.putDoc('c', 'x', { ok: true });
    assert.ok((await stat(path)).isFile());
  });

  test('in-memory stores are private, including their pub/sub', async (t) => {
    const [a, b] = [await createSqliteStore(':memory:'), await createSqliteStore(':memory:')];
    t.after(() => Promise.all([a.close(), b.close()]));
    await a.putDoc('c', 'x', 1);
    assert.equal(await b.getDoc('c', 'x'), undefined);
    const heard: string[] = [];
    await b.subscribe('ch', (m) => heard.push(m));
    await a.publish('ch', 'm');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(heard, []);
  });

  test('prefix upper bound covers exactly the keys with the prefix', () => {
    assert.equal(prefixUpperBound('ab'), 'ac');
    assert.equal(prefixUpperBound('a\u{10FFFF}'), 'b');
    assert.equal(prefixUpperBound('\u{D7FF}'), '\u{E000}');
    assert.equal(prefixUpperBound(''), undefined);
    assert.equal(prefixUpperBound('\u{10FFFF}'), undefined);
  });
});
