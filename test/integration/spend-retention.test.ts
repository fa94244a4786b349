import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pino from 'pino';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import type { SpendRecord } from '../../src/spend/spend-record.js';
import { SpendRetention } from '../../src/spend/spend-retention.js';
import { dayStart } from '../../src/spend/spend-rollup.js';
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

  test('rollup_retention_days defaults to 730 (retention_days when longer, 0 when that is 0); shorter than retention_days, or set with retention_days 0, is refused', (t) => {
    const rollupDays = (spend_log: Record<string, number>) => configSchema.parse({ spend_log }).spend_log.rollup_retention_days;
    assert.equal(rollupDays({}), 730);
    assert.equal(rollupDays({ retention_days: 1_000 }), 1_000, 'a long retention needs no second setting');
    assert.equal(rollupDays({ retention_days: 0 }), 0, 'every raw row kept: every rollup too');
    assert.equal(rollupDays({ retention_days: 30, rollup_retention_days: 30 }), 30);
    assert.equal(rollupDays({ retention_days: 90, rollup_retention_days: 0 }), 0);

    const dir = mkdtempSync(join(tmpdir(), 'sf-rollup-config-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const refusal = (yaml: string): string => {
      const path = join(dir, 'smartflow.yaml');
      writeFileSync(path, yaml);
      try {
        loadConfig({ path, env: {} });
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.message;
      }
      return assert.fail('the config was accepted');
    };
    assert.match(
      refusal('spend_log:\n  retention_days: 90\n  rollup_retention_days: 30\n'),
      /smartflow\.yaml:3: spend_log\.rollup_retention_days: \(30\) must be at least retention_days \(90\), or 0 to keep the rollups/,
    );
    assert.match(refusal('spend_log:\n  retention_days: 0\n  rollup_retention_days: 365\n'), /spend_log\.rollup_retention_days: must be 0 or left out while retention_days is 0/);
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

  for (const backend of [{ name: 'SQLite', fresh: () => ({ store: undefined, cleanup: async () => undefined }) }, ...SHARED_BACKENDS]) {
    test(`${backend.name}: raw rows go after retention_days, rollups after rollup_retention_days; /api/spend/keys and /teams answer a year from the rollups`, async (t) => {
      const { store, cleanup } = backend.fresh('rollup_retention');
      const now = Date.now();
      const gw = await startTestGateway({ ...(store ? { store } : {}), spend_log: { retention_days: 90, rollup_retention_days: 365 } }, { now: () => now });
      t.after(async () => {
        await gw.close();
        await cleanup();
      });
      // A request at noon on each of the last 400 days, oldest first (Redis gives imported rows stream ids from their times).
      const today = dayStart(now);
      const rows = Array.from({ length: 400 }, (_, i) =>
        spendRecord({ id: `day-${i}`, time: today - (400 - i) * DAY + DAY / 2, key_id: ['vk-a', 'vk-b', null][i % 3]!, team_id: i % 2 === 0 ? 'team-even' : null, cost_micros: 1_000 + i }),
      );
      await gw.gateway.store.importSpend(rows);
      const rawCutoff = now - 90 * DAY;
      assert.equal(await gw.gateway.spendRetention.runOnce(), rows.filter((r) => r.time < rawCutoff).length);
      assert.deepEqual((await loggedIds(gw.url)).sort(), rows.filter((r) => r.time >= rawCutoff).map((r) => r.id).sort(), 'raw rows of the last 90 days only');
      assert.match(gw.logs.text, /spend rollups past retention deleted/);

      const totals = (list: SpendRecord[], field: 'key_id' | 'team_id') => {
        const out = new Map<string | null, [number, number]>();
        for (const r of list) {
          const [n, cost] = out.get(r[field]) ?? [0, 0];
          out.set(r[field], [n + 1, cost + r.cost_micros]);
        }
        return [...out].sort((a, b) => b[1][1] - a[1][1]);
      };
      const summary = async (path: string) => {
        const res = await call(`${gw.url}${path}`, { headers: authHeaders() });
        assert.equal(res.status, 200, res.text);
        const field = path.startsWith('/api/spend/keys') ? 'key_id' : 'team_id';
        return { range: [res.json.from, res.json.to, res.json.widened], data: res.json.data.map((r: Record<string, unknown>) => [r[field], [r.requests, r.cost_micros]]) };
      };

      // A year from a date: 275 of its days have no raw rows left, and every day counts.
      const yearFrom = today - 364 * DAY;
      const year = rows.filter((r) => r.time >= yearFrom);
      const yearIso = new Date(yearFrom).toISOString();
      assert.deepEqual(await summary(`/api/spend/keys?from=${yearIso}`), { range: [yearIso, null, false], data: totals(year, 'key_id') });
      assert.deepEqual(await summary(`/api/spend/teams?from=${yearIso}`), { range: [yearIso, null, false], data: totals(year, 'team_id') });
      // From the afternoon of a day whose raw rows are gone: that whole day counts (its noon row too), and the answer says so.
      assert.deepEqual(await summary(`/api/spend/keys?from=${yearFrom + 15 * 3_600_000}`), { range: [yearIso, null, true], data: totals(year, 'key_id') });
      // Rollups of days that ended more than 365 days ago are gone as well.
      const kept = rows.filter((r) => r.time >= dayStart(now - 365 * DAY));
      assert.ok(kept.length < rows.length && kept.length > year.length);
      assert.deepEqual((await summary('/api/spend/keys?from=0')).data, totals(kept, 'key_id'));
    });
  }

  test('retention 0 deletes nothing; a failing store ends the pass with a warning, not an exception', async (t) => {
    const logs = new LogCollector();
    const log = pino({ level: 'info' }, logs);
    const store = await createSqliteStore(':memory:');
    t.after(() => store.close());
    await store.appendSpend([spendRecord({ id: 'ancient', time: 0 })]);
    assert.equal(await new SpendRetention({ store, log, retentionDays: 0, rollupRetentionDays: 0, now: Date.now }).runOnce(), 0);
    assert.equal((await store.querySpend({ limit: 10 })).rows.length, 1);

    await store.close();
    assert.equal(await new SpendRetention({ store, log, retentionDays: 1, rollupRetentionDays: 1, now: Date.now }).runOnce(), 0);
    assert.match(logs.text, /spend log retention pass failed/);
  });
});
