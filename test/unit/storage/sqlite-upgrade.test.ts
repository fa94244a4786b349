import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createStore } from '../../../src/storage/index.js';
import { spendRecord } from '../../contract/spend-fixture.js';

test('a spend log created by an earlier version gains the new columns and keeps its rows', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sf-upgrade-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'old.db');
  const old = new Database(path);
  old.exec(`CREATE TABLE spend_log (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, time INTEGER NOT NULL, principal TEXT NOT NULL,
    key_id TEXT, team_id TEXT, model TEXT NOT NULL, provider TEXT, upstream_model TEXT, operation TEXT NOT NULL, stream INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost_micros INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL, ttft_ms INTEGER, status INTEGER NOT NULL, error_code TEXT)`);
  old.prepare(`INSERT INTO spend_log (id, time, principal, model, operation, stream, input_tokens, cached_input_tokens, output_tokens, cost_micros, latency_ms, status)
    VALUES ('old-1', 1000, 'master', 'gpt-x', 'chat', 0, 1, 0, 1, 5, 10, 200)`).run();
  old.close();

  const store = await createStore({ type: 'sqlite', path });
  t.after(() => store.close());
  const attempts = [{ provider: 'openai', upstream_model: 'gpt-x', status: 503, error_code: 'upstream_error', latency_ms: 3, cost_micros: 0 }];
  await store.appendSpend([spendRecord({ id: 'new-1', time: 2000, cache_status: 'hit', saved_cost_micros: 42, fallback_chain: 'main', attempts })]);
  const page = await store.querySpend({ limit: 10 });
  assert.deepEqual(page.rows.map((r) => r.id), ['new-1', 'old-1']);
  assert.deepEqual(page.rows[0]!.attempts, attempts);
  assert.equal(page.rows[0]!.cache_status, 'hit');
  assert.equal(page.rows[1]!.saved_cost_micros, 0);
  assert.equal(page.rows[1]!.attempts, null);
});
