import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrate } from '../../src/migrate/migrate.js';
import type { SpendRecord } from '../../src/spend/spend-record.js';
import { DAY_MS, dayStart } from '../../src/spend/spend-rollup.js';
import { createStore, type StoreConfig } from '../../src/storage/index.js';
import type { Store } from '../../src/storage/types.js';
import { spendRecord } from '../contract/spend-fixture.js';
import { authHeaders, fakeProviders, startTestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { dropSchemas, POSTGRES_URL, testSchema } from '../helpers/postgres.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';
import { chatWith, createKey, createTeam } from '../helpers/vkeys.js';

const BIN = new URL('../../bin/smartflow.js', import.meta.url).pathname;
/** A password in the target URL: PostgreSQL's trust auth never asks for it, so the copy works and the output can be searched for it. */
const PASSWORD = 'pw-Секрет-9431';
const PG_WITH_PASSWORD = (() => {
  const url = new URL(POSTGRES_URL);
  url.username ||= 'postgres';
  url.password = encodeURIComponent(PASSWORD);
  return url.toString();
})();
/** 220 µUSD worst case, 120 µUSD actual per test request (as in budgets.test.ts). */
const METERED = { name: 'metered', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 };

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real command (bin/smartflow.js; `npm test` builds dist/ first). */
function smartflow(args: string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Every answer of the admin API the migration must leave unchanged, with the ETags. */
async function adminAnswers(url: string, ids: { keys: string[]; teams: string[] }): Promise<Record<string, unknown>> {
  const answers: Record<string, unknown> = {};
  const get = async (path: string): Promise<void> => {
    const res = await call(`${url}${path}`, { headers: authHeaders() });
    assert.equal(res.status, 200, `${path}: ${res.text}`);
    answers[path] = { etag: res.headers.etag, body: res.json };
  };
  // Summaries from a fixed date: the default window (the last 30 days) would move with the clock between the answers.
  for (const path of ['/api/enterprise/vkeys', '/api/teams', '/api/spend/keys?from=2020-01-01', '/api/spend/teams?from=2020-01-01', '/api/routing/fallback-chains', '/api/policies', '/api/guardrails', '/api/audit']) {
    await get(path);
  }
  for (const id of ids.keys) for (const path of [`/api/enterprise/vkeys/${id}`, `/api/enterprise/vkeys/${id}/budget`, `/api/spend/logs?key=${id}&limit=1000`]) await get(path);
  for (const id of ids.teams) for (const path of [`/api/teams/${id}`, `/api/teams/${id}/budget`]) await get(path);
  await get('/api/spend/logs?limit=1000');
  return answers;
}

/** Every spend row of a store, newest first. */
async function allSpend(store: Store): Promise<SpendRecord[]> {
  const rows: SpendRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.querySpend({ limit: 1_000, ...(cursor ? { cursor } : {}) });
    rows.push(...page.rows);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return rows;
}

describe('smartflow migrate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sf-migrate-'));
  const source = join(dir, 'source.db');
  const schemas: string[] = [];
  const prefixes: string[] = [];
  const newSchema = (label: string): string => {
    const schema = testSchema(label);
    schemas.push(schema);
    return schema;
  };
  let fake: FakeUpstream;
  let answers: Record<string, unknown>;
  const ids = { keys: [] as string[], teams: [] as string[] };
  let budgeted: { id: string; key: string };
  let spent: { id: string; key: string };

  // The response cache in the store: its entries move too.
  const startOn = (store: StoreConfig) =>
    startTestGateway({ store, providers: fakeProviders({ openai: fake.url }), models: [METERED], cache: { enabled: true, backend: 'store', default_ttl_seconds: 600 }, logging: { level: 'warn' } });
  const NO_STORE = { 'cache-control': 'no-store' };
  /** A master-key question the source answered and cached; a target that copied the entry answers HIT. */
  const cachedQuestion = (url: string) => call(`${url}/v1/chat/completions`, { headers: authHeaders(), body: { model: 'metered', messages: [{ role: 'user', content: 'cached question' }] } });

  before(async () => {
    fake = await startFakeOpenAI();
    // The gateway a team ran on the embedded default: keys, a team, a budget partly and one fully
    // spent, a rate window, a chain, a guardrail and a policy, audit records and spend rows.
    const gw = await startOn({ type: 'sqlite', path: source });
    try {
      const team = await createTeam(gw.url, { name: 'Search', max_budget: 1 });
      ids.teams.push(team.id);
      budgeted = await createKey(gw.url, { alias: 'budgeted', team_id: team.id, max_budget: 0.01, budget_period: 'monthly', rpm: 100 });
      spent = await createKey(gw.url, { alias: 'spent', max_budget: 0.0003, budget_period: 'monthly' });
      ids.keys.push(budgeted.id, spent.id);
      const patched = await call(`${gw.url}/api/enterprise/vkeys/${budgeted.id}`, { method: 'PATCH', headers: authHeaders(), body: { metadata: { owner: 'search' } } });
      assert.equal(patched.status, 200, patched.text);
      assert.equal((await call(`${gw.url}/api/routing/fallback-chains`, { headers: authHeaders(), body: { id: 'main', targets: [{ model: 'metered' }] } })).status, 201);
      assert.equal((await call(`${gw.url}/api/guardrails`, { headers: authHeaders(), body: { name: 'pii', type: 'pii', mode: 'mask' } })).status, 201);
      assert.equal((await call(`${gw.url}/api/policies`, { headers: authHeaders(), body: { name: 'base', add: ['pii'] } })).status, 201);
      for (let i = 0; i < 3; i++) assert.equal((await chatWith(gw.url, budgeted.key, 'metered', {}, NO_STORE)).status, 200);
      // 300 µUSD fits one request's 220 µUSD worst case; with 120 spent, the next one's does not.
      assert.equal((await chatWith(gw.url, spent.key, 'metered', {}, NO_STORE)).status, 200);
      assert.equal((await chatWith(gw.url, spent.key, 'metered', {}, NO_STORE)).status, 429);
      assert.equal((await cachedQuestion(gw.url)).headers['x-smartflow-cache'], 'STORED');
    } finally {
      await gw.close();
    }
    // The answers of a gateway restarted on the source: what every target must answer too.
    const again = await startOn({ type: 'sqlite', path: source });
    try {
      answers = await adminAnswers(again.url, ids);
    } finally {
      await again.close();
    }
  });

  after(async () => {
    await fake.close();
    await dropSchemas(schemas);
    for (const prefix of prefixes) await flushRedisPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  test('SQLite -> PostgreSQL -> SQLite: the same admin answers, and keys keep working with their budgets spent', async (t) => {
    const schema = newSchema('migrate');
    const toPg = await smartflow(['migrate', '--from', 'sqlite:./source.db', '--to', PG_WITH_PASSWORD, '--to-schema', schema], dir);
    assert.equal(toPg.code, 0, toPg.stdout + toPg.stderr);
    assert.match(toPg.stdout, /OK: every count matches/);
    assert.match(toPg.stdout, /^documents vkeys\s+2\s+2$/m);
    assert.match(toPg.stdout, /^spend rows\s+6\s+6$/m);
    assert.match(toPg.stdout, /^spend rollup requests\s+6\s+6$/m);
    for (const text of [toPg.stdout, toPg.stderr]) {
      assert.ok(!text.includes(PASSWORD) && !text.includes(encodeURIComponent(PASSWORD)), 'the password is never printed');
    }

    const onPg = await startOn({ type: 'postgres', url: POSTGRES_URL, schema });
    try {
      assert.deepEqual(await adminAnswers(onPg.url, ids), answers);
    } finally {
      await onPg.close();
    }

    const back = await smartflow(['migrate', '--from', POSTGRES_URL, '--from-schema', schema, '--to', 'sqlite:./back/smartflow.db'], dir);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    const onSqlite = await startOn({ type: 'sqlite', path: join(dir, 'back', 'smartflow.db') });
    t.after(() => onSqlite.close());
    assert.deepEqual(await adminAnswers(onSqlite.url, ids), answers);

    // A key made before the move still authenticates, and its spend goes on from where it was.
    const before = (await call(`${onSqlite.url}/api/enterprise/vkeys/${budgeted.id}/budget`, { headers: authHeaders() })).json;
    assert.equal(before.spent, 3 * 120 / 1e6);
    assert.equal((await chatWith(onSqlite.url, budgeted.key, 'metered', {}, NO_STORE)).status, 200);
    const afterOne = (await call(`${onSqlite.url}/api/enterprise/vkeys/${budgeted.id}/budget`, { headers: authHeaders() })).json;
    assert.equal(Math.round(afterOne.spent * 1e6), 4 * 120);
    const refused = await chatWith(onSqlite.url, spent.key, 'metered');
    assert.equal(refused.status, 429, 'a spent budget stays spent');
    assert.equal(refused.json.error.code, 'budget_exceeded');
    assert.equal((await cachedQuestion(onSqlite.url)).headers['x-smartflow-cache'], 'HIT', 'the response cache came along');
  });

  test('SQLite -> Redis -> SQLite: the same admin answers', async (t) => {
    const prefix = `sf-test-migrate-${randomUUID()}:`;
    prefixes.push(prefix);
    const res = await smartflow(['migrate', '--from', 'sqlite:./source.db', '--to', REDIS_URL, '--to-prefix', prefix], dir);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const onRedis = await startOn({ type: 'redis', url: REDIS_URL, prefix });
    t.after(() => onRedis.close());
    assert.deepEqual(await adminAnswers(onRedis.url, ids), answers);

    // And out of Redis again, from its stream and SCAN, before its gateway changes anything.
    const back = await smartflow(['migrate', '--from', REDIS_URL, '--from-prefix', prefix, '--to', 'sqlite:./from-redis.db'], dir);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    const onSqlite = await startOn({ type: 'sqlite', path: join(dir, 'from-redis.db') });
    t.after(() => onSqlite.close());
    assert.deepEqual(await adminAnswers(onSqlite.url, ids), answers);

    assert.equal((await chatWith(onRedis.url, spent.key, 'metered')).status, 429);
    assert.equal((await chatWith(onRedis.url, budgeted.key, 'metered', {}, NO_STORE)).status, 200);
    assert.equal((await cachedQuestion(onRedis.url)).headers['x-smartflow-cache'], 'HIT');
  });

  test('SQLite -> PostgreSQL with Redis in front -> SQLite: the same admin answers; budgets hold in Redis and PostgreSQL', async (t) => {
    const schema = newSchema('migrate_layered');
    const prefix = `sf-test-migrate-layered-${randomUUID()}:`;
    prefixes.push(prefix);
    const res = await smartflow(['migrate', '--from', 'sqlite:./source.db', '--to', POSTGRES_URL, '--to-schema', schema, '--to-redis', REDIS_URL, '--to-prefix', prefix], dir);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /OK: every count matches/);
    const layered = { type: 'postgres' as const, url: POSTGRES_URL, schema, redis: REDIS_URL, redis_prefix: prefix };
    const onLayered = await startOn(layered);
    t.after(() => onLayered.close());
    assert.deepEqual(await adminAnswers(onLayered.url, ids), answers);
    assert.equal((await chatWith(onLayered.url, spent.key, 'metered')).status, 429, 'a spent budget stays spent');
    assert.equal((await cachedQuestion(onLayered.url)).headers['x-smartflow-cache'], 'HIT', 'the response cache came along, into Redis');

    // The imported budgets are in PostgreSQL too: a Redis that loses them rebuilds them from there.
    await flushRedisPrefix(prefix);
    const refused = await chatWith(onLayered.url, spent.key, 'metered');
    assert.equal(refused.status, 429, refused.text);

    const back = await smartflow(['migrate', '--from', POSTGRES_URL, '--from-schema', schema, '--from-redis', REDIS_URL, '--from-prefix', prefix, '--to', 'sqlite:./from-layered.db'], dir);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    const onSqlite = await startOn({ type: 'sqlite', path: join(dir, 'from-layered.db') });
    t.after(() => onSqlite.close());
    const budget = (await call(`${onSqlite.url}/api/enterprise/vkeys/${budgeted.id}/budget`, { headers: authHeaders() })).json;
    assert.equal(budget.spent, (3 * 120) / 1e6);
  });

  test('the days whose raw rows retention deleted in the source keep their totals on the target (PostgreSQL, Redis)', async (t) => {
    // The source gateway's data plus a request a day for the last 200 days, whose raw rows past 90 days are gone.
    const aged = join(dir, 'aged.db');
    copyFileSync(source, aged);
    const today = dayStart(Date.now());
    const seed = await createStore({ type: 'sqlite', path: aged });
    await seed.importSpend(
      Array.from({ length: 200 }, (_, i) => spendRecord({ id: `aged-${i}`, time: today - (200 - i) * DAY_MS + 3_600_000, key_id: i % 2 === 0 ? budgeted.id : null, cost_micros: 500 + i })),
    );
    while ((await seed.deleteSpendBefore(today - 90 * DAY_MS, 1_000)) > 0);
    await seed.close();
    const yearFrom = new Date(today - 364 * DAY_MS).toISOString();
    const paths = [`/api/spend/keys?from=${yearFrom}`, `/api/spend/teams?from=${yearFrom}`, '/api/spend/logs?limit=1000'];
    const answersOn = async (store: StoreConfig): Promise<unknown[]> => {
      const gw = await startOn(store);
      try {
        return await Promise.all(paths.map(async (path) => (await call(`${gw.url}${path}`, { headers: authHeaders() })).json));
      } finally {
        await gw.close();
      }
    };
    const expected = await answersOn({ type: 'sqlite', path: aged });
    const [keys] = expected as [{ data: Array<{ key_id: string | null; requests: number }> }];
    assert.equal(keys.data.find((r) => r.key_id === budgeted.id)?.requests, 100 + 3, 'every day of the year counts, deleted raw rows included');

    const schema = newSchema('migrate_aged');
    const prefix = `sf-test-migrate-aged-${randomUUID()}:`;
    prefixes.push(prefix);
    for (const [args, store] of [
      [['--to', POSTGRES_URL, '--to-schema', schema], { type: 'postgres', url: POSTGRES_URL, schema }],
      [['--to', REDIS_URL, '--to-prefix', prefix], { type: 'redis', url: REDIS_URL, prefix }],
    ] as Array<[string[], StoreConfig]>) {
      const res = await smartflow(['migrate', '--from', 'sqlite:./aged.db', ...args], dir);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /^spend rows\s+(\d+)\s+\1$/m);
      assert.match(res.stdout, /^spend rollups\s+(\d+)\s+\1$/m);
      assert.match(res.stdout, /^spend rollup requests\s+206\s+206$/m, 'the rollups count the deleted rows too');
      assert.match(res.stdout, /^spend rollups: \d+ rows copied$/m);
      assert.deepEqual(await answersOn(store), expected, store.type);
    }
    t.after(() => rmSync(aged, { force: true }));
  });

  test('a run stopped by a store outage, or between a page and its progress, resumes without duplicating a row', async (t) => {
    // More than two pages of spend rows, four in each millisecond, each appended on its own with ids
    // falling: the source's order within a millisecond is one that sorting a batch by id would change.
    const big = join(dir, 'big.db');
    copyFileSync(source, big);
    const t0 = Date.now() - 3_600_000;
    const seed = await createStore({ type: 'sqlite', path: big });
    for (let i = 0; i < 2_345; i++) await seed.appendSpend([spendRecord({ id: `bulk-${String(9_999 - i).padStart(4, '0')}`, time: t0 + Math.floor(i / 4), cost_micros: i })]);
    await seed.close();

    const schema = newSchema('resume');
    const open = async (): Promise<[Store, Store]> => [await createStore({ type: 'sqlite', path: big }), await createStore({ type: 'postgres', url: POSTGRES_URL, schema })];
    const quiet = (): void => undefined;
    const sourceName = `sqlite:${big}`;

    // The store fails on the second page: the first is copied and its progress saved.
    let [src, target] = await open();
    let pages = 0;
    const outage: Store = {
      ...target,
      importSpend: async (rows) => {
        if (++pages === 2) throw new Error('connection lost');
        await target.importSpend(rows);
      },
    };
    await assert.rejects(migrate({ source: src, target: outage, sourceName, force: false, print: quiet }), /connection lost/);
    await Promise.all([src.close(), target.close()]);

    // The next run dies right after a page landed, before its progress was saved.
    [src, target] = await open();
    pages = 0;
    const crash: Store = {
      ...target,
      importSpend: async (rows) => {
        await target.importSpend(rows);
        if (++pages === 1) throw new Error('killed');
      },
    };
    await assert.rejects(migrate({ source: src, target: crash, sourceName, force: false, print: quiet }), /killed/);
    await Promise.all([src.close(), target.close()]);

    const res = await smartflow(['migrate', '--from', 'sqlite:./big.db', '--to', POSTGRES_URL, '--to-schema', schema], dir);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    // Saved progress: the first page. The second page landed in the crashed run and is found there, not copied again.
    assert.match(res.stdout, /Resuming the migration started .*: 1000 spend rows were copied/);
    assert.match(res.stdout, /spend log: 351 rows copied \(2351 in all\)/);
    assert.match(res.stdout, /^spend rows\s+2351\s+2351$/m);

    [src, target] = await open();
    t.after(() => Promise.all([src.close(), target.close()]));
    const [copied, original] = [await allSpend(target), await allSpend(src)];
    assert.equal(new Set(copied.map((r) => r.id)).size, copied.length, 'no row twice');
    assert.deepEqual(copied, original, 'every row, newest first in the same order, ties within a millisecond included');
  });

  test('the count check fails (exit 1) when the target was changed behind the copy', async (t) => {
    const schema = newSchema('tamper');
    const args = ['migrate', '--from', 'sqlite:./source.db', '--to', POSTGRES_URL, '--to-schema', schema];
    assert.equal((await smartflow(args, dir)).code, 0);
    const target = await createStore({ type: 'postgres', url: POSTGRES_URL, schema });
    t.after(() => target.close());
    await target.putDoc('vkeys', 'intruder', { alias: 'not from the source' });
    await target.appendSpend([spendRecord({ id: 'not-from-the-source', time: Date.now() })]);

    // Run again: a finished migration only counts both stores.
    const res = await smartflow(args, dir);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /Migrated from this source before \(finished .*\): nothing copied, only counted/);
    assert.match(res.stdout, /^documents vkeys\s+2\s+3\s+<- differs$/m);
    assert.match(res.stdout, /^spend rows\s+(\d+)\s+(\d+)\s+<- differs$/m);
    assert.match(res.stdout, /^spend rollup requests\s+6\s+7\s+<- differs$/m, 'the row went into the rollups too');
    assert.match(res.stdout, /MISMATCH: 4 of \d+ counts differ/);
  });

  test('a target holding another gateway\'s data is refused unless --force', async (t) => {
    const other = join(dir, 'other.db');
    const store = await createStore({ type: 'sqlite', path: other });
    await store.putDoc('vkeys', 'someone-else', { alias: 'x' });
    await store.close();
    const res = await smartflow(['migrate', '--from', 'sqlite:./source.db', '--to', 'sqlite:./other.db'], dir);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /already holds 1 documents and 0 spend rows that were not copied from sqlite:/);
    const forced = await smartflow(['migrate', '--from', 'sqlite:./source.db', '--to', 'sqlite:./other.db', '--force'], dir);
    assert.equal(forced.code, 1, 'what the target held shows in the counts');
    assert.match(forced.stdout, /^documents vkeys\s+2\s+3\s+<- differs$/m);
    t.after(() => rmSync(other, { force: true }));
  });

  test('--dry-run prints the source\'s counts and opens no target; a password in an unreachable URL is not printed', async () => {
    const dry = await smartflow(['migrate', '--from', 'sqlite:./source.db', '--to', 'sqlite:./never.db', '--dry-run'], dir);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^documents vkeys\s+2$/m);
    assert.match(dry.stdout, /^spend rows\s+6$/m);
    assert.equal(existsSync(join(dir, 'never.db')), false);

    const down = await smartflow(['migrate', '--from', 'sqlite:./source.db', '--to', `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:1`], dir);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /migrate failed: cannot open the target, redis:\/\/127\.0\.0\.1:1 \(prefix sf:\)/);
    assert.ok(!(down.stdout + down.stderr).includes(PASSWORD) && !(down.stdout + down.stderr).includes(encodeURIComponent(PASSWORD)));

    const usage = await smartflow(['migrate', '--from', 'sqlite:./source.db'], dir);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /migrate needs --to/);
  });
});
