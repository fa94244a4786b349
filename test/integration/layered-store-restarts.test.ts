import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { dropSchemas, POSTGRES_URL, testSchema } from '../helpers/postgres.js';
import { chatWith, createKey } from '../helpers/vkeys.js';

/**
 * PostgreSQL with Redis in front (store.redis), with a Redis server of the test's own that it can
 * kill and restart: a Redis without persistence loses every counter, and the budgets must come
 * back from PostgreSQL with nothing lost and nothing counted twice.
 */

/** The test request reserves 220 µUSD (12 input + 5 output tokens) and settles at 120 (8 + 2). */
const METERED = { name: 'metered', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 };
const WORST_MICROS = 220;
const ACTUAL_MICROS = 120;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** A redis-server without persistence on `port`, answering PING before this resolves. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      const up = await probe.connect().then(
        () => probe.ping().then((r) => r === 'PONG'),
        () => false,
      );
      if (up) return child;
      probe.disconnect();
      await sleep(50);
    }
  } finally {
    probe.disconnect();
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not answer');
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

async function budgetOf(url: string, id: string): Promise<{ spent: number; reserved: number }> {
  const res = await call(`${url}/api/enterprise/vkeys/${id}/budget`, { headers: authHeaders() });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function spendLogMicros(url: string, keyId: string): Promise<{ micros: number; answered: number }> {
  let micros = 0;
  let answered = 0;
  let cursor: string | null = null;
  // Every page: a fast machine answers more requests than one page holds.
  do {
    const res = await call(`${url}/api/spend/logs?key=${keyId}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: authHeaders() });
    assert.equal(res.status, 200, res.text);
    for (const r of res.json.data as Array<{ cost_micros: number; status: number }>) {
      micros += r.cost_micros;
      if (r.status === 200) answered++;
    }
    cursor = res.json.next_cursor;
  } while (cursor);
  return { micros, answered };
}

async function epochsIn(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return Number((await client.query(`SELECT count(*) AS n FROM "${schema}".counter_epochs`)).rows[0].n);
  } finally {
    await client.end();
  }
}

describe('PostgreSQL with Redis in front: restarts', () => {
  let fake: FakeUpstream;
  const schemas: string[] = [];
  before(async () => {
    fake = await startFakeOpenAI();
  });
  after(async () => {
    await fake.close();
    await dropSchemas(schemas);
  });

  /** A private Redis and a fresh schema; gateways started with `extra` config share them. */
  async function setup(t: TestContext, extra: Record<string, unknown> = {}) {
    const port = await freePort();
    let redis = await startRedis(port);
    const schema = testSchema('restart');
    schemas.push(schema);
    const store = { type: 'postgres', url: POSTGRES_URL, schema, redis: `redis://127.0.0.1:${port}` };
    const gateways: TestGateway[] = [];
    const start = async () => {
      const gw = await startTestGateway({ providers: fakeProviders({ openai: fake.url }), models: [METERED], logging: { level: 'warn' }, store, ...extra });
      gateways.push(gw);
      return gw;
    };
    t.after(async () => {
      for (const gw of gateways) await gw.close().catch(() => undefined);
      await kill(redis);
    });
    return {
      schema,
      start,
      async restartRedis(downMs: number) {
        await kill(redis);
        await sleep(downMs);
        redis = await startRedis(port);
      },
    };
  }

  test('Redis killed and restarted empty under load, two gateways: every answered request is in the budget once, none twice', async (t) => {
    const env = await setup(t, { budgets: { allowance: { sync_ms: 50, idle_ms: 300 } } });
    const [a, b] = [await env.start(), await env.start()];
    const { id, key } = await createKey(a.url, { max_budget: 1_000, budget_period: 'monthly' });
    fake.reset();
    fake.steer = { delayMs: 5 };
    t.after(() => (fake.steer = {}));

    const statuses: number[] = [];
    let stop = false;
    const worker = async (n: number) => {
      for (let i = 0; !stop; i++) statuses.push((await chatWith(i % 2 === n % 2 ? a.url : b.url, key, 'metered')).status);
    };
    const workers = Promise.all(Array.from({ length: 8 }, (_, n) => worker(n)));
    await sleep(600);
    await env.restartRedis(300);
    await sleep(900);
    stop = true;
    await workers;

    const answered = statuses.filter((s) => s === 200).length;
    assert.ok(answered > 20, `requests were answered (${answered})`);
    for (const s of statuses) assert.ok(s === 200 || s === 503, `only answers and store_unavailable (${s})`);
    assert.equal(fake.requests.length, answered, 'every request that reached the provider was answered');
    assert.ok((await epochsIn(env.schema)) >= 2, 'the counters were rebuilt in a new epoch');

    // Closing writes back every allowance block and every counter change.
    await a.close();
    await b.close();
    const c = await env.start();
    const budget = await budgetOf(c.url, id);
    assert.equal(budget.reserved, 0, 'nothing is left reserved');
    assert.equal(Math.round(budget.spent * 1e6), answered * ACTUAL_MICROS, `spent ${budget.spent} for ${answered} answered requests`);
    const logged = await spendLogMicros(c.url, id);
    assert.equal(logged.answered, answered);
    assert.equal(logged.micros, answered * ACTUAL_MICROS);
  });

  test('every request reserving in the store: a budget spent before a Redis restart is still spent after it and refuses at the same point', async (t) => {
    const env = await setup(t, { budgets: { allowance: { requests: 0 } } });
    const gw = await env.start();
    // Room for 17 sequential requests: each reserves 220 and settles at 120 (16 × 120 + 220 = 2,140 fits 2,200), the 18th would need 2,260.
    const { id, key } = await createKey(gw.url, { max_budget: (10 * WORST_MICROS) / 1e6, budget_period: 'monthly' });
    for (let i = 0; i < 4; i++) assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
    // At once, before the changes are written behind: they reach the rebuilt Redis through PostgreSQL.
    await env.restartRedis(50);
    let answered = 4;
    for (let i = 0; i < 30; i++) {
      const res = await chatWith(gw.url, key, 'metered');
      if (res.status === 503) {
        await sleep(50);
        continue;
      }
      if (res.status !== 200) {
        assert.equal(res.status, 429, res.text);
        break;
      }
      answered++;
    }
    assert.equal(answered, 17, 'the restart gave no budget back');
    const budget = await budgetOf(gw.url, id);
    assert.equal(Math.round(budget.spent * 1e6), 17 * ACTUAL_MICROS);
    assert.equal(budget.reserved, 0);
  });

  test('keys, teams and budgets survive a Redis that comes back empty; rate windows start again', async (t) => {
    const env = await setup(t, { budgets: { allowance: { requests: 0 } } });
    const gw = await env.start();
    const { id, key } = await createKey(gw.url, { max_budget: 1, rpm: 3 });
    for (let i = 0; i < 3; i++) assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
    assert.equal((await chatWith(gw.url, key, 'metered')).status, 429, 'the rpm window is full');
    await env.restartRedis(50);
    let res = await chatWith(gw.url, key, 'metered');
    for (let i = 0; i < 20 && res.status === 503; i++) {
      await sleep(50);
      res = await chatWith(gw.url, key, 'metered');
    }
    assert.equal(res.status, 200, 'the key is still there, and its rate window was Redis-only');
    const budget = await budgetOf(gw.url, id);
    assert.equal(Math.round(budget.spent * 1e6), 4 * ACTUAL_MICROS);
  });

  test('PostgreSQL dropping every connection under load: the budget and the spend log stay exact', async (t) => {
    const env = await setup(t, { budgets: { allowance: { sync_ms: 50, idle_ms: 300 } } });
    const gw = await env.start();
    const { id, key } = await createKey(gw.url, { max_budget: 1_000, budget_period: 'monthly' });
    fake.reset();
    const statuses: number[] = [];
    let stop = false;
    const workers = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) statuses.push((await chatWith(gw.url, key, 'metered')).status);
      }),
    );
    await sleep(500);
    // What a PostgreSQL restart does to a gateway: every connection it holds goes at once.
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1`,
      [`smartflow ${env.schema}`],
    );
    await admin.end();
    assert.ok(rows[0]!.n >= 1);
    await sleep(700);
    stop = true;
    await workers;
    const answered = statuses.filter((s) => s === 200).length;
    assert.ok(answered > 10, `requests were answered (${answered})`);
    await gw.close();
    const check = await env.start();
    const budget = await budgetOf(check.url, id);
    assert.equal(budget.reserved, 0);
    assert.equal(Math.round(budget.spent * 1e6), answered * ACTUAL_MICROS);
    const logged = await spendLogMicros(check.url, id);
    assert.equal(logged.answered, answered);
  });
});
