import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { configSchema } from '../../src/config/schema.js';
import { SpendRetention } from '../../src/spend/spend-retention.js';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { authHeaders, LogCollector, startTestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { SHARED_BACKENDS } from '../helpers/shared-store.js';
import { spendRecord } from '../contract/spend-fixture.js';

const DAY = 86_400_000;

async function loggedIds(url: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await call(`${url}/api/spend/logs?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: authHeaders() });
    assert.equal(res.status, 200, res.text);
    ids.push(...res.json.data.map((r: { id: string }) => r.id));
    cursor = res.json.next_cursor;
  } while (cursor);
  return ids;
}

describe('spend log retention', () => {
  test('retention_days defaults to 90; 0 keeps every row; negative values are refused', () => {
    assert.equal(configSchema.parse({}).spend_log.retention_days, 90);
    assert.equal(configSchema.parse({ spend_log: { retention_days: 0 } }).spend_log.retention_days, 0);
    assert.throws(() => configSchema.parse({ spend_log: { retention_days: -1 } }));
  });

  for (const backend of [{ name: 'SQLite', fresh: () => ({ store: undefined, cleanup: async () => undefined }) }, ...SHARED_BACKENDS]) {
    test(`${backend.name}: a pass deletes every row past the retention age, across several batches, and nothing younger`, async (t) => {
      const { store, cleanup } = backend.fresh('retention');
      const now = Date.now();
      const gw = await startTestGateway({ ...(store ? { store } : {}), spend_log: { retention_days: 30 } }, { now: () => now });
      t.after(async () => {
        await gw.close();
        await cleanup();
      });
      // 2,500 rows from 40 days ago (more than two delete batches), then rows of 29 days ago and today.
      const old = Array.from({ length: 2_500 }, (_, i) => spendRecord({ id: `old-${i}`, time: now - 40 * DAY + i }));
      const kept = [spendRecord({ id: 'young', time: now - 29 * DAY }), spendRecord({ id: 'today', time: now - 1_000 })];
      await gw.gateway.store.appendSpend(old);
      await gw.gateway.store.appendSpend(kept);

      assert.equal(await gw.gateway.spendRetention.runOnce(), 2_500);
      assert.deepEqual((await loggedIds(gw.url)).sort(), ['today', 'young']);
      assert.equal(await gw.gateway.spendRetention.runOnce(), 0, 'a second pass finds nothing');
      assert.match(gw.logs.text, /spend log rows past retention deleted/);
    });
  }

  test('retention 0 deletes nothing; a failing store ends the pass with a warning, not an exception', async (t) => {
    const logs = new LogCollector();
    const log = pino({ level: 'info' }, logs);
    const store = await createSqliteStore(':memory:');
    t.after(() => store.close());
    await store.appendSpend([spendRecord({ id: 'ancient', time: 0 })]);
    assert.equal(await new SpendRetention({ store, log, retentionDays: 0, now: Date.now }).runOnce(), 0);
    assert.equal((await store.querySpend({ limit: 10 })).rows.length, 1);

    await store.close();
    assert.equal(await new SpendRetention({ store, log, retentionDays: 1, now: Date.now }).runOnce(), 0);
    assert.match(logs.text, /spend log retention pass failed/);
  });
});
