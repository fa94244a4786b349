import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { SpendQuery, SpendRecord, SpendSummaryRow } from '../../src/spend/spend-record.js';
import { DAY_MS, dayStart } from '../../src/spend/spend-rollup.js';
import type { ListOptions, ScanPage, Store } from '../../src/storage/types.js';
import { newestFirst, shuffle, spendFixture, spendRecord } from './spend-fixture.js';
import { spendRollupContract } from './spend-rollups.contract.js';

/** How a backend lets the suite move time forward for expiry tests. */
export interface ContractOptions {
  /**
   * Makes `ms` pass for the backend's expiry decisions: a fake clock passed through
   * StoreOptions.now, or a real wait for servers that keep their own time. Default: real wait.
   */
  advanceClock?: (ms: number) => Promise<void>;
}

/** Short enough to keep the suite fast against a real clock, long enough to outlive a round trip. */
const TTL_MS = 150;
const PAST_TTL_MS = 250;

const uid = (): string => randomUUID().slice(0, 8);

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

function isStoreError(code: string): (err: unknown) => boolean {
  return (err) => err instanceof GatewayError && err.codeName === code;
}

/**
 * The behaviour every Store backend must show. `open` returns a new store instance on the
 * same backing data each time (same file, same Redis prefix), so cross-instance behaviour
 * (atomic counters, pub/sub) is tested by opening two. Tests use unique names, so data left
 * by one test never affects another. The spend log has no names to keep tests apart, so each
 * block that writes one opens its own `scope`: separate backing data (another file, another prefix).
 */
export function storageContract(name: string, open: (scope?: string) => Promise<Store>, options: ContractOptions = {}): void {
  const advance = options.advanceClock ?? ((ms: number) => sleep(ms));
  const openFor = async (t: TestContext): Promise<Store> => {
    const store = await open();
    t.after(() => store.close());
    return store;
  };

  describe(`${name} store contract`, () => {
    describe('documents', () => {
      test('put, get, overwrite and delete', async (t) => {
        const store = await openFor(t);
        const col = `docs-${uid()}`;
        assert.equal(await store.getDoc(col, 'x'), undefined);
        const doc = { name: 'Ünïcode ✓', n: 42, nested: { list: [1, null, 'a'] }, flag: false };
        await store.putDoc(col, 'x', doc);
        assert.deepEqual(await store.getDoc(col, 'x'), doc);
        await store.putDoc(col, 'x', { name: 'second' });
        assert.deepEqual(await store.getDoc(col, 'x'), { name: 'second' });
        assert.equal(await store.getDoc(`${col}-other`, 'x'), undefined, 'collections are separate');
        assert.equal(await store.deleteDoc(col, 'x'), true);
        assert.equal(await store.deleteDoc(col, 'x'), false);
        assert.equal(await store.getDoc(col, 'x'), undefined);
      });

      test('createDoc refuses an existing id and keeps the original', async (t) => {
        const store = await openFor(t);
        const col = `docs-${uid()}`;
        assert.equal(await store.createDoc(col, 'k', { v: 1 }), true);
        assert.equal(await store.createDoc(col, 'k', { v: 2 }), false);
        assert.deepEqual(await store.getDoc(col, 'k'), { v: 1 });
        const page = await store.listDocs(col);
        assert.deepEqual(page.items, [{ id: 'k', doc: { v: 1 }, version: 1 }]);
        await store.deleteDoc(col, 'k');
        assert.equal(await store.createDoc(col, 'k', { v: 3 }), true);
      });

      test('versions: 1 at creation, +1 on every write, reported by get and list', async (t) => {
        const store = await openFor(t);
        const col = `docs-${uid()}`;
        assert.equal(await store.getVersionedDoc(col, 'v'), undefined);
        assert.equal(await store.createDoc(col, 'v', { n: 1 }), true);
        assert.deepEqual(await store.getVersionedDoc(col, 'v'), { doc: { n: 1 }, version: 1 });
        await store.putDoc(col, 'v', { n: 2 });
        assert.deepEqual(await store.getVersionedDoc(col, 'v'), { doc: { n: 2 }, version: 2 });
        await store.putDoc(col, 'fresh', { n: 0 });
        assert.deepEqual((await store.listDocs(col)).items.map((i) => [i.id, i.version]), [['fresh', 1], ['v', 2]]);
        await store.deleteDoc(col, 'v');
        await store.putDoc(col, 'v', { n: 3 });
        assert.equal((await store.getVersionedDoc(col, 'v'))?.version, 1, 'a deleted document starts over');
      });

      test('compareAndSetDoc writes only over the expected version', async (t) => {
        const store = await openFor(t);
        const col = `docs-${uid()}`;
        assert.equal(await store.compareAndSetDoc(col, 'c', { n: 1 }, 1), null, 'no document: only version 0 matches');
        assert.equal(await store.compareAndSetDoc(col, 'c', { n: 1 }, 0), 1, 'version 0 creates');
        assert.equal(await store.compareAndSetDoc(col, 'c', { n: 9 }, 0), null, 'version 0 does not overwrite');
        assert.equal(await store.compareAndSetDoc(col, 'c', { n: 2 }, 1), 2);
        assert.equal(await store.compareAndSetDoc(col, 'c', { n: 3 }, 1), null, 'a stale version is refused');
        assert.deepEqual(await store.getVersionedDoc(col, 'c'), { doc: { n: 2 }, version: 2 });
        await store.putDoc(col, 'c', { n: 4 });
        assert.equal(await store.compareAndSetDoc(col, 'c', { n: 5 }, 2), null, 'an unconditional write moves the version too');
        assert.equal((await store.listDocs(col)).items.length, 1);
      });

      test('50 concurrent compare-and-sets on one version from two instances: exactly one wins', async (t) => {
        const [a, b] = [await openFor(t), await openFor(t)];
        const col = `docs-${uid()}`;
        await a.createDoc(col, 'race', { winner: null });
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).compareAndSetDoc(col, 'race', { winner: i }, 1)));
        const winners = results.flatMap((v, i) => (v === null ? [] : [i]));
        assert.equal(winners.length, 1);
        assert.equal(results[winners[0]!], 2);
        assert.deepEqual(await b.getVersionedDoc(col, 'race'), { doc: { winner: winners[0] }, version: 2 });
      });

      test('listDocs orders by id and pages with a cursor', async (t) => {
        const store = await openFor(t);
        const col = `docs-${uid()}`;
        const ids = ['b', 'a', 'B', 'a-1', 'a_1', '10', '9', 'é', 'z', 'aa', ' space', 'a:b', 'ß', 'ZZ', '0'];
        for (let i = 0; i < 10; i++) ids.push(`key-${String(i * 7).padStart(3, '0')}`);
        for (const id of [...ids].reverse()) await store.putDoc(col, id, { id });
        await store.putDoc(`${col}-other`, 'a', { other: true });
        await store.putDoc(col, 'gone', { id: 'gone' });
        await store.deleteDoc(col, 'gone');

        // Byte order; for these (BMP) ids it equals JavaScript's default string order.
        const expected = [...ids].sort();
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listDocs<{ id: string }>(col, { limit: 7, ...(cursor ? { cursor } : {}) });
          assert.ok(page.items.length <= 7);
          for (const item of page.items) {
            assert.equal(item.doc.id, item.id);
            seen.push(item.id);
          }
          cursor = page.next_cursor ?? undefined;
          if (cursor) assert.equal(page.items.length, 7, 'only the last page may be short');
          pages += 1;
        } while (cursor && pages < 20);
        assert.deepEqual(seen, expected);
        assert.equal(pages, Math.ceil(expected.length / 7));

        const all = await store.listDocs(col);
        assert.equal(all.items.length, expected.length);
        assert.equal(all.next_cursor, null);
        const exact = await store.listDocs(col, { limit: expected.length });
        assert.equal(exact.next_cursor, null, 'a page that ends exactly at the end has no cursor');
        assert.deepEqual(await store.listDocs(`docs-${uid()}`), { items: [], next_cursor: null });
      });
    });

    describe('counters', () => {
      test('increment, decrement and read across instances', async (t) => {
        const [a, b] = [await openFor(t), await openFor(t)];
        const key = `ctr-${uid()}`;
        assert.equal(await a.getCounter(key), 0);
        assert.equal(await a.incrCounter(key, 5), 5);
        assert.equal(await b.incrCounter(key, -2), 3);
        assert.equal(await a.getCounter(key), 3);
        assert.equal(await b.getCounter(key), 3);
        assert.equal(await a.incrCounter(key, 1_000_000_000_000), 1_000_000_000_003, 'micro-USD sized values');
      });

      test('a counter with a TTL expires, reads 0 and starts over', async (t) => {
        const store = await openFor(t);
        const key = `ctr-${uid()}`;
        const plain = `ctr-${uid()}`;
        const late = `ctr-${uid()}`;
        assert.equal(await store.incrCounter(key, 5, TTL_MS), 5);
        assert.equal(await store.incrCounter(key, 1, TTL_MS), 6);
        await store.incrCounter(plain, 7);
        // The TTL applies only when the counter is created.
        await store.incrCounter(late, 1);
        await store.incrCounter(late, 1, TTL_MS);
        await advance(PAST_TTL_MS);
        assert.equal(await store.getCounter(key), 0);
        assert.equal(await store.incrCounter(key, 2, TTL_MS), 2);
        assert.equal(await store.getCounter(plain), 7);
        assert.equal(await store.getCounter(late), 2);
      });

      test('200 concurrent increments from two instances all count', async (t) => {
        const [a, b] = [await openFor(t), await openFor(t)];
        const key = `ctr-${uid()}`;
        await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).incrCounter(key, 1)));
        assert.equal(await a.getCounter(key), 200);
      });
    });

    describe('guardedIncrement', () => {
      test('applies all increments or none', async (t) => {
        const store = await openFor(t);
        const [x, y] = [`g-${uid()}`, `g-${uid()}`];
        const refused = await store.guardedIncrement([
          { key: x, delta: 3, limit: 10 },
          { key: y, delta: 5, limit: 4 },
        ]);
        assert.deepEqual(refused, { ok: false, index: 1, values: [0, 0] });
        assert.equal(await store.getCounter(x), 0, 'nothing applied when one entry does not fit');
        const applied = await store.guardedIncrement([
          { key: x, delta: 3, limit: 10 },
          { key: y, delta: 4, limit: 4 },
          { key: `g-${uid()}`, delta: 1_000 },
        ]);
        assert.deepEqual(applied, { ok: true, values: [3, 4, 1_000] });
        assert.equal(await store.getCounter(y), 4);
        assert.deepEqual(await store.guardedIncrement([]), { ok: true, values: [] });
      });

      test('a batch applies each set in order, each all-or-nothing on its own', async (t) => {
        const store = await openFor(t);
        const [x, y] = [`g-${uid()}`, `g-${uid()}`];
        const results = await store.guardedIncrementBatch([
          [{ key: x, delta: 6, limit: 10 }],
          [{ key: x, delta: 6, limit: 10 }, { key: y, delta: 1 }],
          [{ key: x, delta: 4, limit: 10 }, { key: y, delta: 2, limit: 5 }],
          [],
        ]);
        assert.deepEqual(results, [
          { ok: true, values: [6] },
          { ok: false, index: 0, values: [6, 0] },
          { ok: true, values: [10, 2] },
          { ok: true, values: [] },
        ]);
        assert.equal(await store.getCounter(x), 10);
        assert.equal(await store.getCounter(y), 2);
        assert.deepEqual(await store.guardedIncrementBatch([]), []);
      });

      test('a set with a number that is not a safe integer fails alone; the rest of the batch applies', async (t) => {
        const store = await openFor(t);
        const [x, y] = [`g-${uid()}`, `g-${uid()}`];
        const results = await store.guardedIncrementBatch([
          [{ key: x, delta: 2, limit: 10 }],
          [{ key: y, delta: 1 }, { key: x, delta: 9007199254740993, limit: 10 }],
          [{ key: x, delta: 3 }, { key: y, delta: 1, limit: 1e300 }],
          [{ key: y, delta: 5 }],
        ]);
        assert.deepEqual(results[0], { ok: true, values: [2] });
        assert.ok('error' in results[1]! && results[1].error instanceof RangeError, 'an unsafe delta fails its own set');
        assert.ok('error' in results[2]! && results[2].error instanceof RangeError, 'an unsafe limit fails its own set');
        assert.deepEqual(results[3], { ok: true, values: [5] });
        assert.equal(await store.getCounter(x), 2, 'nothing of the failed sets was applied');
        assert.equal(await store.getCounter(y), 5);
      });

      test('reaching the limit exactly is allowed, going over is refused with the index', async (t) => {
        const store = await openFor(t);
        const [x, y] = [`g-${uid()}`, `g-${uid()}`];
        assert.deepEqual(await store.guardedIncrement([{ key: x, delta: 7, limit: 10 }]), { ok: true, values: [7] });
        assert.deepEqual(await store.guardedIncrement([{ key: x, delta: 3, limit: 10 }]), { ok: true, values: [10] });
        assert.deepEqual(
          await store.guardedIncrement([
            { key: y, delta: 1, limit: 5 },
            { key: x, delta: 1, limit: 10 },
          ]),
          { ok: false, index: 1, values: [0, 10] },
        );
        assert.equal(await store.getCounter(x), 10);
        assert.equal(await store.getCounter(y), 0);
        // Giving back never fails, even while the counter is above a (since lowered) limit.
        assert.deepEqual(await store.guardedIncrement([{ key: x, delta: -4, limit: 5 }]), { ok: true, values: [6] });
      });

      test('a key listed twice is checked against its running total', async (t) => {
        const store = await openFor(t);
        const key = `g-${uid()}`;
        assert.deepEqual(
          await store.guardedIncrement([
            { key, delta: 3, limit: 5 },
            { key, delta: 3, limit: 5 },
          ]),
          { ok: false, index: 1, values: [0, 0] },
        );
        assert.deepEqual(
          await store.guardedIncrement([
            { key, delta: 2, limit: 5 },
            { key, delta: 3, limit: 5 },
          ]),
          { ok: true, values: [2, 5] },
        );
      });

      test('ttl_ms expires counters it creates', async (t) => {
        const store = await openFor(t);
        const key = `g-${uid()}`;
        assert.deepEqual(await store.guardedIncrement([{ key, delta: 4, limit: 5, ttl_ms: TTL_MS }]), { ok: true, values: [4] });
        assert.equal((await store.guardedIncrement([{ key, delta: 4, limit: 5, ttl_ms: TTL_MS }])).ok, false);
        await advance(PAST_TTL_MS);
        assert.equal(await store.getCounter(key), 0);
        assert.deepEqual(await store.guardedIncrement([{ key, delta: 4, limit: 5, ttl_ms: TTL_MS }]), { ok: true, values: [4] });
      });

      test('a batch touching an expired counter several times restarts it once, with the first write\'s expiry', async (t) => {
        const store = await openFor(t);
        const [key, other] = [`g-${uid()}`, `g-${uid()}`];
        assert.deepEqual(await store.guardedIncrement([{ key, delta: 5, limit: 9, ttl_ms: TTL_MS }]), { ok: true, values: [5] });
        await advance(PAST_TTL_MS);
        const results = await store.guardedIncrementBatch([
          [{ key, delta: 4, limit: 9, ttl_ms: TTL_MS }],
          [{ key, delta: 6, limit: 9, ttl_ms: TTL_MS }, { key: other, delta: 1 }],
          [{ key, delta: -1, ttl_ms: TTL_MS }, { key: other, delta: 2 }],
          [{ key, delta: 3, limit: 9, ttl_ms: TTL_MS }],
        ]);
        assert.deepEqual(results, [
          { ok: true, values: [4] },
          { ok: false, index: 0, values: [4, 0] },
          { ok: true, values: [3, 2] },
          { ok: true, values: [6] },
        ]);
        assert.equal(await store.getCounter(key), 6, 'the expired 5 is gone; the batch\'s net +6 counts');
        assert.equal(await store.getCounter(other), 2);
        await advance(PAST_TTL_MS);
        assert.equal(await store.getCounter(key), 0, 'the restarted counter expires on the TTL of its first write');
      });

      test('200 concurrent calls from two instances: exactly the limit succeeds', async (t) => {
        const [a, b] = [await openFor(t), await openFor(t)];
        const key = `g-${uid()}`;
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).guardedIncrement([{ key, delta: 1, limit: 10 }])),
        );
        assert.equal(results.filter((r) => r.ok).length, 10);
        const refused = results.find((r) => !r.ok);
        assert.deepEqual(refused, { ok: false, index: 0, values: [10] });
        assert.equal(await a.getCounter(key), 10);
        assert.equal(await b.getCounter(key), 10);
      });
    });

    describe('entries', () => {
      test('set, get, overwrite and delete', async (t) => {
        const store = await openFor(t);
        const key = `e-${uid()}`;
        assert.equal(await store.getEntry(key), undefined);
        await store.setEntry(key, 'one', 60_000);
        assert.equal(await store.getEntry(key), 'one');
        await store.setEntry(key, '{"two":2}', 60_000);
        assert.equal(await store.getEntry(key), '{"two":2}');
        assert.equal(await store.deleteEntry(key), true);
        assert.equal(await store.deleteEntry(key), false);
        assert.equal(await store.getEntry(key), undefined);
      });

      test('entries expire', async (t) => {
        const store = await openFor(t);
        const [short, long] = [`e-${uid()}`, `e-${uid()}`];
        await store.setEntry(short, 'v', TTL_MS);
        await store.setEntry(long, 'v', 60_000);
        assert.equal(await store.getEntry(short), 'v');
        await advance(PAST_TTL_MS);
        assert.equal(await store.getEntry(short), undefined);
        assert.equal(await store.deleteEntry(short), false, 'an expired entry is already gone');
        assert.equal(await store.getEntry(long), 'v');
      });

      test('deleteEntriesByPrefix matches the prefix literally', async (t) => {
        const store = await openFor(t);
        const u = uid();
        const doomed = [`${u}:a*b`, `${u}:a*b:1`, `${u}:a*b:2`, `${u}:a*b[x]?`];
        const kept = [`${u}:aXb:1`, `${u}:a*c`, `${u}:a`, `${u}:a\\*b`, `other:${u}:a*b`];
        for (const key of [...doomed, ...kept]) await store.setEntry(key, key, 60_000);
        await store.setEntry(`${u}:a*b:expired`, 'x', TTL_MS);
        await advance(PAST_TTL_MS);

        assert.equal(await store.deleteEntriesByPrefix(`${u}:a*b`), doomed.length);
        for (const key of doomed) assert.equal(await store.getEntry(key), undefined, key);
        for (const key of kept) assert.equal(await store.getEntry(key), key, key);

        await store.setEntry(`${u}:q?[z]-1`, 'v', 60_000);
        await store.setEntry(`${u}:qq[z]-1`, 'v', 60_000);
        assert.equal(await store.deleteEntriesByPrefix(`${u}:q?[z]`), 1);
        assert.equal(await store.getEntry(`${u}:qq[z]-1`), 'v');
        assert.equal(await store.deleteEntriesByPrefix(`${u}:nothing`), 0);
      });

      test('measureEntries counts live entries and value bytes per group, the prefix taken literally', async (t) => {
        const store = await openFor(t);
        const u = uid();
        await store.setEntry(`${u}:m*:one:1`, 'abc', 60_000);
        await store.setEntry(`${u}:m*:one:2`, 'é€', 60_000);
        await store.setEntry(`${u}:m*:two`, '', 60_000);
        await store.setEntry(`${u}:m*:gone:1`, 'xyz', TTL_MS);
        await store.setEntry(`${u}:mX:one:1`, 'not matched', 60_000);
        await advance(PAST_TTL_MS);
        const groups = await store.measureEntries(`${u}:m*:`);
        assert.deepEqual(Object.fromEntries(groups), { one: { entries: 2, bytes: 3 + 5 }, two: { entries: 1, bytes: 0 } });
        assert.equal((await store.measureEntries(`${u}:nothing:`)).size, 0);
      });
    });

    describe('publish/subscribe', () => {
      test('a message reaches subscribers on another instance; unsubscribe stops delivery', async (t) => {
        const [a, b] = [await openFor(t), await openFor(t)];
        const channel = `ch-${uid()}`;
        const onB: string[] = [];
        const onA: string[] = [];
        const other: string[] = [];
        const offB = await b.subscribe(channel, (m) => onB.push(m));
        const offA = await a.subscribe(channel, (m) => onA.push(m));
        const offOther = await b.subscribe(`${channel}-other`, (m) => other.push(m));

        await a.publish(channel, 'hello');
        await waitFor(() => onB.length === 1 && onA.length === 1);
        assert.deepEqual(onB, ['hello']);
        assert.deepEqual(onA, ['hello'], 'the publishing instance hears itself too');

        await offB();
        await offB();
        await a.publish(channel, 'again');
        await waitFor(() => onA.length === 2);
        // Delivery is in publish order on one connection, so b would have had it by now.
        await sleep(50);
        assert.deepEqual(onB, ['hello']);
        assert.deepEqual(other, []);
        await offA();
        await offOther();
      });

      test('handlers on one channel are independent', async (t) => {
        const store = await openFor(t);
        const channel = `ch-${uid()}`;
        const first: string[] = [];
        const second: string[] = [];
        const offFirst = await store.subscribe(channel, (m) => {
          first.push(m);
          throw new Error('a failing handler must not affect the others');
        });
        const offSecond = await store.subscribe(channel, (m) => second.push(m));
        await store.publish(channel, '1');
        await waitFor(() => second.length === 1);
        await offFirst();
        await store.publish(channel, '2');
        await waitFor(() => second.length === 2);
        assert.deepEqual(first, ['1']);
        assert.deepEqual(second, ['1', '2']);
        await offSecond();
      });
    });

    describe('spend log', () => {
      let store: Store;
      const records = spendFixture();

      async function collect(query: Omit<SpendQuery, 'cursor'>): Promise<SpendRecord[]> {
        const rows: SpendRecord[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 100; pages++) {
          const page = await store.querySpend({ ...query, ...(cursor ? { cursor } : {}) });
          assert.ok(page.rows.length <= query.limit);
          rows.push(...page.rows);
          if (page.next_cursor === null) return rows;
          assert.equal(page.rows.length, query.limit, 'only the last page may be short');
          cursor = page.next_cursor;
        }
        throw new Error('pagination did not end');
      }

      before(async () => {
        store = await open('spend-log');
        // Two batches in time order, each shuffled, as a spend-log writer may flush them.
        await store.appendSpend(shuffle(records.slice(0, 30)));
        await store.appendSpend(shuffle(records.slice(30)));
        await store.appendSpend([]);
      });
      after(() => store.close());

      test('pages cover every row exactly once, newest first', async () => {
        const rows = await collect({ limit: 7 });
        assert.deepEqual(rows, newestFirst(records));
        const one = await store.querySpend({ limit: 1_000 });
        assert.equal(one.rows.length, records.length);
        assert.equal(one.next_cursor, null);
      });

      test('each filter, alone and combined, across pages', async () => {
        const base = Math.min(...records.map((r) => r.time));
        const cut = base + 2_000;
        const cases: Array<[Omit<SpendQuery, 'limit' | 'cursor'>, (r: SpendRecord) => boolean]> = [
          [{ model: 'claude-y' }, (r) => r.model === 'claude-y'],
          [{ key_id: 'key-1' }, (r) => r.key_id === 'key-1'],
          [{ status: 429 }, (r) => r.status === 429],
          [{ status: 'success' }, (r) => r.status < 400],
          [{ status: 'error' }, (r) => r.status >= 400],
          [{ from: cut }, (r) => r.time >= cut],
          [{ to: cut }, (r) => r.time < cut],
          [{ from: base + 1_000, to: cut }, (r) => r.time >= base + 1_000 && r.time < cut],
          [{ model: 'gpt-x', status: 'success', from: base + 500 }, (r) => r.model === 'gpt-x' && r.status < 400 && r.time >= base + 500],
          [{ key_id: 'key-2', status: 'error' }, (r) => r.key_id === 'key-2' && r.status >= 400],
          [{ principal: 'master' }, (r) => r.principal === 'master'],
        ];
        for (const [filter, keep] of cases) {
          const expected = newestFirst(records.filter(keep));
          assert.ok(expected.length > 0, `fixture covers ${JSON.stringify(filter)}`);
          assert.deepEqual(await collect({ ...filter, limit: 4 }), expected, JSON.stringify(filter));
        }
        assert.deepEqual(await store.querySpend({ model: 'no-such-model', limit: 10 }), { rows: [], next_cursor: null });
      });

      test('a malformed cursor is a client error', async () => {
        await assert.rejects(store.querySpend({ limit: 5, cursor: 'not a cursor' }), isStoreError('SF_ERR_INVALID_REQUEST'));
      });
    });

    describe('spend summary', () => {
      let store: Store;
      // Recent: the Redis backend bounds its scan by the stream's append time.
      const t0 = Date.now() - 20_000;
      // [ms after t0, key_id, team_id, status, input, cached, output, cost_micros]
      const table: Array<[number, string | null, string | null, number, number, number, number, number]> = [
        [0, 'k-a', 't-1', 200, 10, 1, 5, 100],
        [10, 'k-a', 't-1', 500, 20, 2, 6, 200],
        [20, 'k-b', 't-1', 200, 30, 3, 7, 300],
        [30, null, null, 429, 40, 4, 8, 300],
        [40, 'k-c', null, 400, 50, 5, 9, 300],
        [50, 'k-d', 't-2', 399, 60, 6, 10, 1_000],
        [60, null, 't-2', 200, 70, 7, 11, 50],
      ];
      const records = table.map(([at, key_id, team_id, status, input, cached, output, cost], i) =>
        spendRecord({
          id: `sum-${i}`, time: t0 + at, key_id, team_id, status,
          input_tokens: input, cached_input_tokens: cached, output_tokens: output, cost_micros: cost,
        }),
      );
      /** [requests, errors], [input, cached, output], cost_micros, last_used as ms after t0. */
      const row = (
        id: string | null,
        [requests, errors]: [number, number],
        [input_tokens, cached_input_tokens, output_tokens]: [number, number, number],
        cost_micros: number,
        last: number,
      ): SpendSummaryRow => ({ id, requests, errors, input_tokens, cached_input_tokens, output_tokens, cost_micros, last_used: t0 + last });

      before(async () => {
        store = await open('spend-summary');
        await store.appendSpend(shuffle(records));
      });
      after(() => store.close());

      test('groups by key, nulls together; errors are statuses >= 400', async () => {
        assert.deepEqual((await store.summarizeSpend({ group_by: 'key' })).rows, [
          row('k-d', [1, 0], [60, 6, 10], 1_000, 50),
          row(null, [2, 1], [110, 11, 19], 350, 60),
          // Equal cost: by id.
          row('k-a', [2, 1], [30, 3, 11], 300, 10),
          row('k-b', [1, 0], [30, 3, 7], 300, 20),
          row('k-c', [1, 1], [50, 5, 9], 300, 40),
        ]);
      });

      test('groups by team; the null group goes last among equal costs', async () => {
        assert.deepEqual((await store.summarizeSpend({ group_by: 'team' })).rows, [
          row('t-2', [2, 0], [130, 13, 21], 1_050, 60),
          row('t-1', [3, 1], [60, 6, 18], 600, 20),
          row(null, [2, 2], [90, 9, 17], 600, 40),
        ]);
      });

      test('from is inclusive, to exclusive; last_used is the newest time in range', async () => {
        assert.deepEqual((await store.summarizeSpend({ group_by: 'key', from: t0 + 10, to: t0 + 40 })).rows, [
          row('k-b', [1, 0], [30, 3, 7], 300, 20),
          row(null, [1, 1], [40, 4, 8], 300, 30),
          row('k-a', [1, 1], [20, 2, 6], 200, 10),
        ]);
        assert.deepEqual((await store.summarizeSpend({ group_by: 'team', from: t0 + 10, to: t0 + 40 })).rows, [
          row('t-1', [2, 1], [50, 5, 13], 500, 20),
          row(null, [1, 1], [40, 4, 8], 300, 30),
        ]);
        assert.deepEqual((await store.summarizeSpend({ group_by: 'team', from: t0 + 40 })).rows, [
          row('t-2', [2, 0], [130, 13, 21], 1_050, 60),
          row(null, [1, 1], [50, 5, 9], 300, 40),
        ]);
        assert.deepEqual((await store.summarizeSpend({ group_by: 'key', to: t0 + 10 })).rows, [row('k-a', [1, 0], [10, 1, 5], 100, 0)]);
      });

      test('an empty range or an empty log gives no rows', async (t) => {
        assert.deepEqual((await store.summarizeSpend({ group_by: 'key', from: t0 + 10, to: t0 + 10 })).rows, []);
        assert.deepEqual((await store.summarizeSpend({ group_by: 'key', from: t0 + 40, to: t0 + 10 })).rows, []);
        assert.deepEqual((await store.summarizeSpend({ group_by: 'team', from: t0 + 61 })).rows, []);
        assert.deepEqual((await store.summarizeSpend({ group_by: 'team', to: t0 })).rows, []);
        const empty = await open('spend-summary-empty');
        t.after(() => empty.close());
        assert.deepEqual((await empty.summarizeSpend({ group_by: 'key' })).rows, []);
        assert.deepEqual((await empty.summarizeSpend({ group_by: 'team' })).rows, []);
      });

      test('ids of equal cost order by code point, as SQLite compares text', async (t) => {
        const ties = await open('spend-summary-ties');
        t.after(() => ties.close());
        // UTF-16 code units would put U+1F600 (a surrogate pair, 0xD83D...) before U+E000.
        const ids = [null, '\u{1F600}', 'z', '\u{E000}'];
        await ties.appendSpend(ids.map((key_id, i) => spendRecord({ id: `tie-${i}`, time: t0 + i, key_id, cost_micros: 7 })));
        const rows = (await ties.summarizeSpend({ group_by: 'key' })).rows;
        assert.deepEqual(rows.map((r) => r.id), ['z', '\u{E000}', '\u{1F600}', null]);
      });

      test('a range larger than one read batch counts every record once', async (t) => {
        const bulk = await open('spend-summary-bulk');
        t.after(() => bulk.close());
        // More than two of the Redis backend's 5,000-entry XRANGE batches, and not a multiple.
        const n = 10_007;
        await bulk.appendSpend(
          Array.from({ length: n }, (_, i) =>
            spendRecord({
              id: `bulk-${i}`, time: t0 + i, key_id: i % 2 === 0 ? 'even' : null, status: i % 3 === 0 ? 500 : 200,
              input_tokens: 1, output_tokens: 2, cost_micros: 3,
            }),
          ),
        );
        // i = 1 .. 10,005: evens 2 .. 10,004 (5,002; errors where i % 6 = 0: 1,667), odds 1 .. 10,005 (5,003; i % 6 = 3: 1,668).
        assert.deepEqual((await bulk.summarizeSpend({ group_by: 'key', from: t0 + 1, to: t0 + n - 1 })).rows, [
          row(null, [5_003, 1_668], [5_003, 0, 10_006], 15_009, 10_005),
          row('even', [5_002, 1_667], [5_002, 0, 10_004], 15_006, 10_004),
        ]);
        const all = (await bulk.summarizeSpend({ group_by: 'team' })).rows;
        assert.deepEqual(all.map((r) => [r.id, r.requests, r.cost_micros]), [[null, n, 3 * n]]);
      });
    });

    describe('spend retention', () => {
      test('deletes the oldest rows before a time, at most `limit` per call, never a newer one', async (t) => {
        const store = await open('spend-retention');
        t.after(() => store.close());
        // Noon, so the rows stay inside one UTC day.
        const t0 = dayStart(Date.now() - 100 * DAY_MS) + DAY_MS / 2;
        const rows = Array.from({ length: 100 }, (_, i) => spendRecord({ id: `ret-${String(i).padStart(3, '0')}`, time: t0 + i * 1_000, cost_micros: i }));
        await store.appendSpend(rows.slice(0, 50));
        await store.appendSpend(rows.slice(50));
        assert.equal(await store.deleteSpendBefore(t0 - 1, 1_000), 0, 'nothing is older than the first row');
        assert.equal(await store.deleteSpendBefore(t0 + 40_000, 1_000), 40, 'rows 0-39, not row 40 at the cutoff itself');
        assert.equal(await store.deleteSpendBefore(t0 + 80_000, 15), 15);
        assert.equal(await store.deleteSpendBefore(t0 + 80_000, 15), 15);
        assert.equal(await store.deleteSpendBefore(t0 + 80_000, 15), 10);
        assert.equal(await store.deleteSpendBefore(t0 + 80_000, 15), 0);
        const left = await store.querySpend({ limit: 1_000 });
        assert.deepEqual(
          left.rows.map((r) => r.id),
          newestFirst(rows.slice(80)).map((r) => r.id),
        );
        // The day's rollups still count every row.
        const all = [[100, rows.reduce((sum, r) => sum + r.cost_micros, 0)]];
        assert.deepEqual((await store.summarizeSpend({ group_by: 'key' })).rows.map((r) => [r.requests, r.cost_micros]), all);
        // Its raw rows cannot answer for a part of the day any more: the whole day is counted, and the bounds say so.
        const part = await store.summarizeSpend({ group_by: 'key', from: t0 + 85_000, to: t0 + 90_000 });
        assert.deepEqual(part.rows.map((r) => [r.requests, r.cost_micros]), all);
        assert.deepEqual([part.from, part.to], [dayStart(t0), dayStart(t0) + DAY_MS]);
      });
    });

    spendRollupContract(open);

    describe('export and import (smartflow migrate)', () => {
      /** Every item of a scan, page by page; a key SCAN repeats (Redis) must carry the same value. */
      async function scanAll<T extends { key: string }>(scan: (options: ListOptions) => Promise<ScanPage<T>>, limit: number): Promise<Map<string, T>> {
        const items = new Map<string, T>();
        let cursor: string | undefined;
        for (let pages = 0; pages < 10_000; pages++) {
          const page = await scan({ limit, ...(cursor ? { cursor } : {}) });
          for (const item of page.items) {
            const seen = items.get(item.key);
            if (seen) assert.equal(JSON.stringify({ ...seen, ttl_ms: 0 }), JSON.stringify({ ...item, ttl_ms: 0 }), `${item.key} read twice alike`);
            items.set(item.key, item);
          }
          if (page.next_cursor === null) return items;
          cursor = page.next_cursor;
        }
        throw new Error('the scan did not end');
      }

      test('listCollections names the collections that hold documents; importDoc writes a version compare-and-set continues from', async (t) => {
        const store = await open('transfer-docs');
        t.after(() => store.close());
        assert.deepEqual(await store.listCollections(), []);
        await store.putDoc('keys', 'k1', { n: 1 });
        await store.putDoc('a:b c', 'x', { n: 2 });
        await store.createDoc('Audit', 'x', { n: 3 });
        await store.putDoc('gone', 'x', { n: 4 });
        await store.deleteDoc('gone', 'x');
        assert.deepEqual(await store.listCollections(), ['Audit', 'a:b c', 'keys'], 'byte order; an emptied collection is not listed');

        await store.importDoc('teams', 't1', { name: 'Ünïcode ✓', nested: [1, null] }, 7);
        assert.deepEqual(await store.getVersionedDoc('teams', 't1'), { doc: { name: 'Ünïcode ✓', nested: [1, null] }, version: 7 });
        assert.deepEqual((await store.listDocs('teams')).items, [{ id: 't1', doc: { name: 'Ünïcode ✓', nested: [1, null] }, version: 7 }]);
        assert.equal(await store.compareAndSetDoc('teams', 't1', { name: 'next' }, 6), null, 'the imported version is the one to match');
        assert.equal(await store.compareAndSetDoc('teams', 't1', { name: 'next' }, 7), 8);
        await store.importDoc('teams', 't1', { name: 'again' }, 3);
        assert.deepEqual(await store.getVersionedDoc('teams', 't1'), { doc: { name: 'again' }, version: 3 }, 'an import replaces, version included');
        await store.putDoc('teams', 't1', { name: 'put' });
        assert.equal((await store.getVersionedDoc('teams', 't1'))?.version, 4);
        assert.deepEqual(await store.listCollections(), ['Audit', 'a:b c', 'keys', 'teams']);
        for (const version of [0, -1, 1.5, 2 ** 53]) await assert.rejects(store.importDoc('teams', 'bad', {}, version), RangeError, String(version));
        assert.equal(await store.getDoc('teams', 'bad'), undefined);
      });

      test('scanCounters pages every live counter with its time left; importCounter sets value and expiry', async (t) => {
        const store = await open('transfer-counters');
        t.after(() => store.close());
        assert.deepEqual(await scanAll((o) => store.scanCounters(o), 5), new Map());
        const plain = Array.from({ length: 12 }, (_, i) => `plain:${i}`);
        for (const [i, key] of plain.entries()) await store.incrCounter(key, i * 1_000_000_000);
        await store.incrCounter('ttl:long', 5, 60_000);
        await store.guardedIncrement([{ key: 'ttl:short', delta: -3, ttl_ms: TTL_MS }]);
        await store.incrCounter('ttl:gone', 1, TTL_MS);
        await advance(PAST_TTL_MS);
        await store.incrCounter('ttl:short', 2, TTL_MS);

        const found = await scanAll((o) => store.scanCounters(o), 5);
        assert.deepEqual([...found.keys()].sort(), [...plain, 'ttl:long', 'ttl:short'].sort(), 'an expired counter is not listed');
        for (const [i, key] of plain.entries()) assert.deepEqual(found.get(key), { key, value: i * 1_000_000_000, ttl_ms: null });
        const long = found.get('ttl:long')!;
        assert.equal(long.value, 5);
        assert.ok(long.ttl_ms !== null && long.ttl_ms > 60_000 - PAST_TTL_MS - 1_000 && long.ttl_ms <= 60_000 - 200, String(long.ttl_ms));
        const short = found.get('ttl:short')!;
        assert.equal(short.value, 2, 'the expired -3 is gone');
        assert.ok(short.ttl_ms !== null && short.ttl_ms > 0 && short.ttl_ms <= TTL_MS, String(short.ttl_ms));

        await store.importCounter({ key: 'new:budget', value: 1_234_567, ttl_ms: null });
        await store.importCounter({ key: 'new:window', value: 9, ttl_ms: TTL_MS });
        await store.importCounter({ key: 'plain:1', value: -4, ttl_ms: null });
        await store.importCounter({ key: 'ttl:long', value: 6, ttl_ms: null });
        await store.importCounter({ key: 'plain:2', value: 1, ttl_ms: 0 });
        assert.equal(await store.getCounter('new:budget'), 1_234_567);
        assert.equal(await store.getCounter('new:window'), 9);
        assert.equal(await store.getCounter('plain:1'), -4, 'an import replaces the value');
        assert.equal(await store.getCounter('plain:2'), 0, 'a TTL of 0 deletes');
        assert.equal(await store.incrCounter('new:budget', 3), 1_234_570, 'an imported counter counts on');
        await advance(PAST_TTL_MS);
        assert.equal(await store.getCounter('new:window'), 0, 'the imported TTL expires it');
        assert.equal(await store.getCounter('ttl:long'), 6);
        assert.equal((await scanAll((o) => store.scanCounters(o), 1_000)).get('ttl:long')?.ttl_ms, null, 'an import without TTL clears the old one');
        await assert.rejects(store.importCounter({ key: 'bad', value: 2 ** 53, ttl_ms: null }), RangeError);
      });

      test('scanEntries pages every live entry with its time left', async (t) => {
        const store = await open('transfer-entries');
        t.after(() => store.close());
        assert.deepEqual(await scanAll((o) => store.scanEntries(o), 5), new Map());
        const keys = Array.from({ length: 11 }, (_, i) => `oauth:state:${i}`);
        for (const key of keys) await store.setEntry(key, `{"v":"${key} é"}`, 60_000);
        await store.setEntry('cache:kept', 'x', 60_000);
        await store.setEntry('lock:gone', 'x', TTL_MS);
        await advance(PAST_TTL_MS);
        const found = await scanAll((o) => store.scanEntries(o), 4);
        assert.deepEqual([...found.keys()].sort(), [...keys, 'cache:kept'].sort());
        for (const key of keys) {
          const item = found.get(key)!;
          assert.equal(item.value, `{"v":"${key} é"}`);
          assert.ok(item.ttl_ms > 60_000 - PAST_TTL_MS - 1_000 && item.ttl_ms <= 60_000 - 200, String(item.ttl_ms));
        }
      });

      test('scanSpend pages the log oldest first; importSpend of those pages gives the same answers', async (t) => {
        const [source, target] = [await open('transfer-spend-source'), await open('transfer-spend-target')];
        t.after(() => Promise.all([source.close(), target.close()]));
        const records = spendFixture();
        await source.appendSpend(shuffle(records.slice(0, 30)));
        await source.appendSpend(shuffle(records.slice(30)));
        assert.deepEqual(await target.scanSpend(), { rows: [], next_cursor: null });

        const scanned: SpendRecord[] = [];
        let cursor: string | undefined;
        do {
          const page = await source.scanSpend({ limit: 7, ...(cursor ? { cursor } : {}) });
          assert.ok(page.rows.length <= 7);
          scanned.push(...page.rows);
          await target.importSpend(page.rows);
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
        assert.deepEqual(scanned, newestFirst(records).reverse());

        const base = Math.min(...records.map((r) => r.time));
        for (const query of [{ limit: 1_000 }, { limit: 1_000, from: base + 1_000, to: base + 2_000 }, { limit: 1_000, to: base + 500 }]) {
          assert.deepEqual((await target.querySpend(query)).rows, (await source.querySpend(query)).rows, JSON.stringify(query));
        }
        assert.deepEqual((await target.summarizeSpend({ group_by: 'key', from: base + 1_000 })).rows, (await source.summarizeSpend({ group_by: 'key', from: base + 1_000 })).rows);
        await assert.rejects(source.scanSpend({ cursor: 'not a cursor' }), isStoreError('SF_ERR_INVALID_REQUEST'));
      });

      test('importSpend keeps the given order where appendSpend would sort a batch by time and id', async (t) => {
        const store = await open('transfer-spend-order');
        t.after(() => store.close());
        const at = Date.now() - 10_000;
        const given = ['m', 'z', 'a'].map((id) => spendRecord({ id, time: at }));
        await store.importSpend(given);
        await store.importSpend([]);
        assert.deepEqual((await store.querySpend({ limit: 10 })).rows.map((r) => r.id), ['a', 'z', 'm'], 'newest first is the reverse of the import order');
        assert.deepEqual((await store.scanSpend()).rows.map((r) => r.id), ['m', 'z', 'a']);
      });
    });

    describe('lifecycle', () => {
      test('ping answers; close is idempotent and later calls fail as unavailable', async () => {
        const store = await open();
        await store.ping();
        await store.close();
        await store.close();
        await assert.rejects(store.getDoc('c', 'x'), isStoreError('SF_ERR_STORE_UNAVAILABLE'));
        await assert.rejects(store.ping(), isStoreError('SF_ERR_STORE_UNAVAILABLE'));
      });
    });
  });
}
