import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../../src/log/logger.js';
import { SpendLog } from '../../../src/spend/spend-log.js';
import type { SpendRecord } from '../../../src/spend/spend-record.js';
import type { Store } from '../../../src/storage/types.js';
import { LogCollector } from '../../helpers/build-app.js';

function rec(id: string): SpendRecord {
  return { id, time: 1, principal: 'master', key_id: null, team_id: null, model: 'm', provider: 'p', upstream_model: 'm', operation: 'chat', stream: false, input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, cost_micros: 1, usage_estimated: false, latency_ms: 1, ttft_ms: null, status: 200, error_code: null, cache_status: null, saved_cost_micros: 0, fallback_chain: null, attempts: null, loop_id: null, loop_step: null, trace_id: null };
}

/** A store whose appendSpend waits until released, to overlap writes with new records. */
function slowStore() {
  const written: string[] = [];
  const releases: Array<() => void> = [];
  let fail = false;
  const store = {
    async appendSpend(records: SpendRecord[]) {
      await new Promise<void>((resolve) => releases.push(resolve));
      if (fail) throw new Error('store down');
      written.push(...records.map((r) => r.id));
    },
  } as unknown as Store;
  return { store, written, release: () => releases.shift()?.(), setFail: (v: boolean) => (fail = v), pendingWrites: () => releases.length };
}

test('records arriving during a write are neither lost nor written twice when the buffer overflows', async () => {
  const s = slowStore();
  let dropped = 0;
  const log = new SpendLog(s.store, createLogger({ level: 'silent', destination: new LogCollector() }), { flushIntervalMs: 60_000, batchSize: 3, maxBuffer: 4, onDrop: (n) => (dropped += n) });
  for (const id of ['a', 'b', 'c']) log.record(rec(id)); // a full batch starts a write of a, b, c
  for (const id of ['d', 'e', 'f', 'g', 'h']) log.record(rec(id)); // 5 waiting, the limit is 4: d is dropped
  while (s.pendingWrites() === 0) await new Promise((r) => setImmediate(r));
  s.release();
  const closing = log.close();
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setImmediate(r));
    s.release();
  }
  await closing;
  assert.equal(dropped, 1);
  assert.deepEqual(s.written, ['a', 'b', 'c', 'e', 'f', 'g', 'h']);
});

test('a failed write keeps its records for the next try', async () => {
  const s = slowStore();
  const log = new SpendLog(s.store, createLogger({ level: 'silent', destination: new LogCollector() }), { flushIntervalMs: 60_000, batchSize: 10, maxBuffer: 100 });
  log.record(rec('a'));
  log.record(rec('b'));
  s.setFail(true);
  const first = log.flush();
  s.release();
  await first;
  assert.equal(log.pending, 2);
  s.setFail(false);
  const second = log.flush();
  s.release();
  await second;
  assert.deepEqual(s.written, ['a', 'b']);
  assert.equal(log.pending, 0);
  await log.close();
});

test('an idle spend log sets no timer; a record is written within the flush interval, and a failed timed write is retried without new records', async (t) => {
  const timers = { created: 0 };
  const realSetTimeout = globalThis.setTimeout;
  const realSetInterval = globalThis.setInterval;
  t.mock.method(globalThis, 'setInterval', (...args: Parameters<typeof setInterval>) => {
    timers.created++;
    return realSetInterval(...args);
  });
  t.mock.method(globalThis, 'setTimeout', (...args: Parameters<typeof setTimeout>) => {
    timers.created++;
    return realSetTimeout(...args);
  });
  const written: string[] = [];
  let failures = 1;
  const store = {
    async appendSpend(records: SpendRecord[]) {
      if (failures-- > 0) throw new Error('store down');
      written.push(...records.map((r) => r.id));
    },
  } as unknown as Store;
  const log = new SpendLog(store, createLogger({ level: 'silent', destination: new LogCollector() }), { flushIntervalMs: 10, batchSize: 100, maxBuffer: 100 });
  assert.equal(timers.created, 0, 'no timer while nothing waits to be written');
  log.record(rec('a'));
  for (let i = 0; i < 200 && written.length === 0; i++) await new Promise((r) => realSetTimeout(r, 5));
  assert.deepEqual(written, ['a']);
  const afterWrite = timers.created;
  await new Promise((r) => realSetTimeout(r, 50));
  assert.equal(timers.created, afterWrite, 'no timer once everything is written');
  await log.close();
});
