import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { SpendRecord } from '../../../src/spend/spend-record.js';
import { DAY_MS, dayStart, rollUp, type SpendRollupRow } from '../../../src/spend/spend-rollup.js';
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
  // The old row went into the rollups at open, the new one with its append.
  assert.deepEqual((await store.summarizeSpend({ group_by: 'key' })).rows.map((r) => [r.id, r.requests, r.cost_micros, r.last_used]), [[null, 2, 5, 2000]]);
});

test('a spend log from before rollups is added to them at open, in batches; a backfill stopped half-way resumes without counting a row twice', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sf-upgrade-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'before-rollups.db');
  // More rows than two backfill batches (20,000), over three days, in shuffled groups.
  const first = dayStart(Date.now()) - 5 * DAY_MS;
  const rows = Array.from({ length: 45_001 }, (_, i) =>
    spendRecord({ id: `r-${i}`, time: first + Math.floor((i * 3 * DAY_MS) / 45_001), key_id: [null, 'k-a', 'k-b'][(i * 7) % 3]!, team_id: i % 5 === 0 ? null : 't', model: i % 2 ? 'm-1' : 'm-2', cost_micros: i % 97, status: i % 11 === 0 ? 500 : 200 }),
  );
  const seeded = await createStore({ type: 'sqlite', path });
  for (let i = 0; i < rows.length; i += 5_000) await seeded.appendSpend(rows.slice(i, i + 5_000));
  await seeded.close();
  const expected = rollUp(rows).sort((a, b) => a.day - b.day || String(a.key_id).localeCompare(String(b.key_id)) || String(a.team_id).localeCompare(String(b.team_id)) || a.model.localeCompare(b.model));
  const stored = (db: Database.Database) =>
    (db.prepare('SELECT day, key_id, team_id, model, requests, errors, input_tokens, cached_input_tokens, output_tokens, cost_micros, last_used FROM spend_rollup').all() as SpendRollupRow[]).sort(
      (a, b) => a.day - b.day || String(a.key_id).localeCompare(String(b.key_id)) || String(a.team_id).localeCompare(String(b.team_id)) || a.model.localeCompare(b.model),
    );

  // What an earlier version left: the log without the rollup tables.
  let db = new Database(path);
  db.exec('DROP TABLE spend_rollup; DROP TABLE spend_rollup_backfill');
  db.close();
  let store = await createStore({ type: 'sqlite', path });
  const summary = (await store.summarizeSpend({ group_by: 'key', from: first, to: first + 3 * DAY_MS })).rows;
  assert.deepEqual(summary.map((r) => [r.id, r.requests]).sort(), [['k-a', 15_000], ['k-b', 15_000], [null, 15_001]].sort());
  await store.close();
  db = new Database(path);
  assert.deepEqual(stored(db), expected);
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM spend_rollup_backfill').get() as { n: number }).n, 0, 'done');

  // A backfill that stopped after the rows up to seq 20,000: their rollups are in, the rest still to do.
  db.exec('DELETE FROM spend_rollup');
  const done = db.prepare('SELECT * FROM spend_log WHERE seq <= 20000 ORDER BY seq').all() as Array<SpendRecord & { stream: number; usage_estimated: number }>;
  const insert = db.prepare('INSERT INTO spend_rollup VALUES (@day, @key_id, @team_id, @model, @requests, @errors, @input_tokens, @cached_input_tokens, @output_tokens, @cost_micros, @last_used)');
  for (const row of rollUp(done)) insert.run(row);
  db.prepare('INSERT INTO spend_rollup_backfill (next_seq, last_seq) VALUES (20001, ?)').run(rows.length);
  db.close();
  store = await createStore({ type: 'sqlite', path });
  await store.close();
  db = new Database(path);
  t.after(() => db.close());
  assert.deepEqual(stored(db), expected, 'every row counted once');
});
