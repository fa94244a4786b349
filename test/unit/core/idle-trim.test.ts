import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startIdleTrim } from '../../../src/core/idle-trim.js';

/** Keeps the event loop busy for `ms`, as load would. */
function busyFor(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
}

test('a quiet spell after busy work triggers one collection; quiet before any work and staying quiet trigger none', async (t) => {
  let collections = 0;
  await sleep(100);
  const trim = startIdleTrim({ checkMs: 50, quietChecks: 2, busyUtilization: 0.5, gc: () => collections++ });
  t.after(() => trim.stop());
  await sleep(250);
  assert.equal(collections, 0, 'never busy: nothing to return');
  for (let i = 0; i < 4; i++) {
    busyFor(45);
    await sleep(2);
  }
  await sleep(300);
  assert.equal(collections, 1, 'busy, then quiet for two checks: one collection');
  await sleep(300);
  assert.equal(collections, 1, 'still quiet: no second collection');
  for (let i = 0; i < 4; i++) {
    busyFor(45);
    await sleep(2);
  }
  await sleep(300);
  assert.equal(collections, 2, 'busy again, then quiet: one more');
});

test('the real collection runs without a gc() of our own (V8 exposes it at run time)', async (t) => {
  const trim = startIdleTrim({ checkMs: 20, quietChecks: 1, busyUtilization: 0.5 });
  t.after(() => trim.stop());
  busyFor(40);
  await sleep(150);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the main context gets no global gc()');
});
