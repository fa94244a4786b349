import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { SpendRecord, SpendSummaryQuery, SpendSummaryRow } from '../../src/spend/spend-record.js';
import { DAY_MS, dayStart, rollUp, type SpendRollupRow } from '../../src/spend/spend-rollup.js';
import type { ScanPage, Store } from '../../src/storage/types.js';
import { spendRecord } from './spend-fixture.js';

/** A seeded generator (mulberry32), so a failing range reproduces. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The definition every summary must meet, whatever it reads: every raw row in range, summed per group. */
function expectedSummary(records: SpendRecord[], { group_by, from, to }: SpendSummaryQuery): SpendSummaryRow[] {
  const groups = new Map<string | null, SpendSummaryRow>();
  for (const r of records) {
    if ((from !== undefined && r.time < from) || (to !== undefined && r.time >= to)) continue;
    const id = group_by === 'key' ? r.key_id : r.team_id;
    const row = groups.get(id) ?? { id, requests: 0, errors: 0, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, cost_micros: 0, last_used: r.time };
    groups.set(id, row);
    row.requests += 1;
    row.errors += r.status >= 400 ? 1 : 0;
    row.input_tokens += r.input_tokens;
    row.cached_input_tokens += r.cached_input_tokens;
    row.output_tokens += r.output_tokens;
    row.cost_micros += r.cost_micros;
    row.last_used = Math.max(row.last_used, r.time);
  }
  return [...groups.values()].sort(
    (a, b) => b.cost_micros - a.cost_micros || (a.id === null ? 1 : 0) - (b.id === null ? 1 : 0) || (a.id !== null && b.id !== null ? byteOrder(a.id, b.id) : 0),
  );
}

/** Null first, then byte order: the order scanSpendRollups returns a day's rows in. */
function rollupOrder(a: SpendRollupRow, b: SpendRollupRow): number {
  const text = (x: string | null, y: string | null): number => (x === null || y === null ? (x === null ? 0 : 1) - (y === null ? 0 : 1) : byteOrder(x, y));
  return a.day - b.day || text(a.key_id, b.key_id) || text(a.team_id, b.team_id) || text(a.model, b.model);
}

const KEYS = [null, '', 'k-a', 'k-b', 'k-ü'];
const TEAMS = [null, 't-1', 't-2'];

/**
 * Spend rows over `days` UTC days from `firstDay`, in time order: random times and groups (a null
 * key, an empty one, a null team), rows at midnight and at the day's last millisecond, several
 * rows sharing a time, and two keys whose rows are always alike, so their totals tie in any range.
 */
function multiDayRows(firstDay: number, days: number, perDay: number, seed: number): SpendRecord[] {
  const rand = seeded(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)]!;
  const rows: SpendRecord[] = [];
  for (let d = 0; d < days; d++) {
    const day = firstDay + d * DAY_MS;
    const times = [day, day, day + DAY_MS - 1, day + DAY_MS / 2, ...Array.from({ length: perDay }, () => day + Math.floor(rand() * DAY_MS))];
    for (const time of times) {
      rows.push(
        spendRecord({
          id: `r-${rows.length}`, time, key_id: pick(KEYS), team_id: pick(TEAMS), model: pick(['m-1', 'm-2']),
          status: pick([200, 200, 200, 400, 429, 500]), input_tokens: Math.floor(rand() * 1_000), cached_input_tokens: Math.floor(rand() * 100),
          output_tokens: Math.floor(rand() * 500), cost_micros: Math.floor(rand() * 5_000),
        }),
      );
    }
    for (const key_id of ['tie-x', 'tie-y']) rows.push(spendRecord({ id: `r-${rows.length}`, time: day + 3_600_000, key_id, team_id: 't-1', cost_micros: 777 }));
  }
  return rows.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1));
}

/** Imports rows in pages, in time order: Redis gives imported rows stream ids from their times, which its time ranges read. */
async function load(store: Store, rows: SpendRecord[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) await store.importSpend(rows.slice(i, i + 500));
}

/** Bounds to try: none, midnights, a millisecond either side, row times (ties), random times, beyond the data on both sides. */
function boundCandidates(rows: SpendRecord[], firstDay: number, days: number, rand: () => number): Array<number | undefined> {
  const out: Array<number | undefined> = [undefined, firstDay - 2 * DAY_MS, firstDay + (days + 2) * DAY_MS];
  for (let d = 0; d <= days; d++) out.push(firstDay + d * DAY_MS, firstDay + d * DAY_MS - 1, firstDay + d * DAY_MS + 1);
  for (let i = 0; i < 12; i++) out.push(rows[Math.floor(rand() * rows.length)]!.time, firstDay + Math.floor(rand() * days * DAY_MS));
  return out;
}

function randomRanges(rows: SpendRecord[], firstDay: number, days: number, count: number, seed: number): SpendSummaryQuery[] {
  const rand = seeded(seed);
  const bounds = boundCandidates(rows, firstDay, days, rand);
  const pick = (): number | undefined => bounds[Math.floor(rand() * bounds.length)];
  const ranges: SpendSummaryQuery[] = [{ group_by: 'key' }, { group_by: 'team' }];
  // Within one day, across one midnight, and inside one day: the cases with no whole day.
  ranges.push({ group_by: 'key', from: firstDay + 1_000, to: firstDay + 5_000_000 }, { group_by: 'team', from: firstDay + DAY_MS - 10, to: firstDay + DAY_MS + 10 });
  while (ranges.length < count) {
    const [from, to] = [pick(), pick()];
    ranges.push({ group_by: rand() < 0.5 ? 'key' : 'team', ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
  }
  return ranges;
}

/** The distinct days of rollup rows, in order of appearance. */
function daysOf(rows: SpendRollupRow[]): number[] {
  return [...new Set(rows.map((r) => r.day))];
}

/** Retention's raw side, to the end: every row before `time` goes. */
async function deleteRawBefore(store: Store, time: number): Promise<void> {
  while ((await store.deleteSpendBefore(time, 1_000)) > 0);
}

async function scanAllRollups(store: Store, limit: number): Promise<Array<ScanPage<SpendRollupRow>>> {
  const pages: Array<ScanPage<SpendRollupRow>> = [];
  let cursor: string | undefined;
  do {
    const page = await store.scanSpendRollups({ limit, ...(cursor ? { cursor } : {}) });
    pages.push(page);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && pages.length < 1_000);
  return pages;
}

/**
 * The daily rollups behind Store.summarizeSpend: summaries equal a sum over the raw rows while
 * they exist, and still count days whose raw rows retention deleted. Part of the storage contract.
 */
export function spendRollupContract(open: (scope?: string) => Promise<Store>): void {
  // Five UTC days ending two days ago, so no row is in the future and today takes no part.
  const firstDay = dayStart(Date.now()) - 7 * DAY_MS;
  const DAYS = 5;

  describe('spend rollups', () => {
    test('summaries equal the sum over raw rows for random ranges: whole days, partial days, open ends, ties', async (t) => {
      const store = await open('rollups-random');
      t.after(() => store.close());
      const rows = multiDayRows(firstDay, DAYS, 60, 1);
      await load(store, rows);
      for (const query of randomRanges(rows, firstDay, DAYS, 90, 2)) {
        const summary = await store.summarizeSpend(query);
        assert.deepEqual(summary.rows, expectedSummary(rows, query), JSON.stringify(query));
        assert.deepEqual([summary.from, summary.to], [query.from, query.to], `not widened: ${JSON.stringify(query)}`);
      }
    });

    test('after retention deleted raw rows, summaries count those days from the rollups; an edge day that lost rows counts whole, and the bounds say so', async (t) => {
      const store = await open('rollups-retention');
      t.after(() => store.close());
      const rows = multiDayRows(firstDay, DAYS, 60, 3);
      await load(store, rows);
      // Into the third day: the first two lose every raw row, the third those before noon.
      const cutoff = firstDay + 2 * DAY_MS + DAY_MS / 2;
      await deleteRawBefore(store, cutoff);
      assert.equal((await store.querySpend({ limit: 1_000, to: cutoff })).rows.length, 0, 'the raw rows are gone');
      const lostRows = (day: number): boolean => day < dayStart(cutoff) || (day === dayStart(cutoff) && rows.some((r) => dayStart(r.time) === day && r.time < cutoff));

      for (const query of randomRanges(rows, firstDay, DAYS, 90, 4)) {
        const summary = await store.summarizeSpend(query);
        const label = JSON.stringify({ query, from: summary.from, to: summary.to });
        // Exact for the range it reports, which is the query's but where an edge day lost raw rows.
        assert.deepEqual(summary.rows, expectedSummary(rows, { group_by: query.group_by, ...summary }), label);
        for (const [asked, got, edgeDay] of [
          [query.from, summary.from, query.from === undefined ? 0 : dayStart(query.from)],
          [query.to, summary.to, query.to === undefined ? 0 : dayStart(query.to - 1)],
        ] as const) {
          if (got === asked) continue;
          assert.ok(asked !== undefined && lostRows(edgeDay), `widened only over a day that lost raw rows: ${label}`);
          assert.equal(got, asked === query.from ? edgeDay : edgeDay + DAY_MS, `to that day's midnight: ${label}`);
        }
      }
      const widened = await store.summarizeSpend({ group_by: 'key', from: firstDay + 6 * 3_600_000, to: firstDay + 4 * DAY_MS - 1 });
      assert.deepEqual([widened.from, widened.to], [firstDay, firstDay + 4 * DAY_MS - 1], 'the day that lost its rows widens, the intact one does not');
    });

    test('appendSpend adds each batch to the rollups of its rows\' days, from any number of writers at once', async (t) => {
      const [a, b] = [await open('rollups-append'), await open('rollups-append')];
      t.after(() => Promise.all([a.close(), b.close()]));
      const rows = multiDayRows(firstDay, DAYS, 40, 5);
      // Batches that span days and repeat groups, written by two instances at once in opposite
      // group orders (a lock-order deadlock would fail a write).
      const batches = Array.from({ length: 20 }, (_, i) => rows.filter((_, j) => j % 20 === i));
      await Promise.all([
        (async () => {
          for (const batch of batches.slice(0, 10)) await a.appendSpend(batch);
        })(),
        (async () => {
          for (const batch of batches.slice(10)) await b.appendSpend([...batch].reverse());
        })(),
      ]);
      // Whole days only: Redis finds appended rows by their append time, not their own.
      for (const query of [
        { group_by: 'key' as const },
        { group_by: 'team' as const },
        { group_by: 'key' as const, from: firstDay + DAY_MS, to: firstDay + 3 * DAY_MS },
        { group_by: 'team' as const, to: firstDay + 2 * DAY_MS },
      ]) {
        assert.deepEqual((await b.summarizeSpend(query)).rows, expectedSummary(rows, query), JSON.stringify(query));
      }
    });

    test('deleteSpendRollupsBefore deletes the days that ended by the time, oldest first, at most `limit` per call', async (t) => {
      const store = await open('rollups-delete');
      t.after(() => store.close());
      const rows = multiDayRows(firstDay, DAYS, 10, 6);
      await load(store, rows);
      await deleteRawBefore(store, firstDay + DAYS * DAY_MS);
      const midDay3 = firstDay + 2 * DAY_MS + 5;
      assert.equal(await store.deleteSpendRollupsBefore(firstDay, 10), 0, 'no day ended before the first');
      assert.equal(await store.deleteSpendRollupsBefore(midDay3, 1), 1);
      assert.equal(await store.deleteSpendRollupsBefore(midDay3, 1), 1);
      assert.equal(await store.deleteSpendRollupsBefore(midDay3, 1), 0, 'the third day has not ended');
      const kept = rows.filter((r) => r.time >= firstDay + 2 * DAY_MS);
      for (const group_by of ['key', 'team'] as const) assert.deepEqual((await store.summarizeSpend({ group_by })).rows, expectedSummary(kept, { group_by }));
      const days = new Set((await scanAllRollups(store, 1_000)).flatMap((p) => p.items.map((r) => r.day)));
      assert.deepEqual([...days], [2, 3, 4].map((d) => firstDay + d * DAY_MS));
      assert.equal(await store.deleteSpendRollupsBefore(firstDay + 10 * DAY_MS, 2), 2);
      assert.equal(await store.deleteSpendRollupsBefore(firstDay + 10 * DAY_MS, 2), 1);
      assert.deepEqual((await store.summarizeSpend({ group_by: 'key' })).rows, []);
    });

    test('scanSpendRollups pages whole days in order; importSpendRollups replaces; a copy answers as the source, deleted raw rows included', async (t) => {
      const [source, target] = [await open('rollups-scan-source'), await open('rollups-scan-target')];
      t.after(() => Promise.all([source.close(), target.close()]));
      const rows = multiDayRows(firstDay, DAYS, 30, 7);
      await load(source, rows);
      const cutoff = firstDay + DAY_MS + DAY_MS / 3;
      await deleteRawBefore(source, cutoff);
      const kept = rows.filter((r) => r.time >= cutoff);
      assert.equal(await source.countSpend(), kept.length, 'countSpend counts raw rows only');
      assert.deepEqual(await scanAllRollups(target, 5), [{ items: [], next_cursor: null }]);

      const expected = rollUp(rows).sort(rollupOrder);
      const perDay = Math.max(...daysOf(expected).map((day) => expected.filter((r) => r.day === day).length));
      for (const limit of [1, 7, perDay + 3, 1_000]) {
        const pages = await scanAllRollups(source, limit);
        assert.deepEqual(pages.flatMap((p) => p.items), expected, `limit ${limit}`);
        const pageDays = pages.map((p) => daysOf(p.items));
        assert.equal(new Set(pageDays.flat()).size, pageDays.flat().length, `limit ${limit}: no day split over two pages`);
        for (const p of pages) assert.ok(p.items.length <= limit || daysOf(p.items).length === 1, `limit ${limit}: only a single day may exceed it`);
      }

      // What smartflow migrate does: raw rows (importSpend adds them to the rollups), then the rollups over them.
      let cursor: string | undefined;
      do {
        const page = await source.scanSpend({ limit: 100, ...(cursor ? { cursor } : {}) });
        await target.importSpend(page.rows);
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      for (const page of await scanAllRollups(source, 7)) await target.importSpendRollups(page.items);
      await target.importSpendRollups(expected.slice(0, 3));
      assert.deepEqual((await scanAllRollups(target, 1_000)).flatMap((p) => p.items), expected, 'importing twice changes nothing');
      assert.equal(await target.countSpend(), kept.length);
      for (const query of randomRanges(rows, firstDay, DAYS, 30, 8)) assert.deepEqual(await target.summarizeSpend(query), await source.summarizeSpend(query), JSON.stringify(query));

      const valid = expected[0]!;
      for (const bad of [{ ...valid, day: valid.day + 1 }, { ...valid, cost_micros: -1 }, { ...valid, requests: 1.5 }, { ...valid, last_used: 2 ** 53 }]) {
        await assert.rejects(target.importSpendRollups([bad]), RangeError, JSON.stringify(bad));
      }
      await assert.rejects(source.scanSpendRollups({ cursor: 'not a day' }), (err: unknown) => err instanceof GatewayError && err.codeName === 'SF_ERR_INVALID_REQUEST');
    });
  });
}

