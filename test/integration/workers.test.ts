import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { authHeaders, fakeProviders, MASTER_KEY } from '../helpers/build-app.js';
import { onNewConnection, startServe, workerPid, type ServeProcess } from '../helpers/cluster-process.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { textOf } from '../helpers/mcp.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';
import { chatWith, createKey } from '../helpers/vkeys.js';

/** Real processes: `bin/smartflow.js serve --workers 2` (run `npx tsc -p tsconfig.build.json` first, as `npm test` does). */
const BIN = new URL('../../bin/smartflow.js', import.meta.url).pathname;
const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
/** 12 input + 5 output tokens reserved = 220 µUSD; the fake reports 8 + 2 = 120 µUSD (as in budgets.test.ts). */
const METERED = { name: 'metered', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 };
const WORST_MICROS = 220;
const ACTUAL_MICROS = 120;

function config(fake: FakeUpstream, store: Record<string, unknown>): Record<string, unknown> {
  return { providers: fakeProviders({ openai: fake.url }), models: [METERED], logging: { level: 'warn', access_log: false }, store, server: { shutdown_grace_ms: 10_000 } };
}

/**
 * 200 concurrent requests (undici opens many connections, which node:cluster deals to both
 * workers) on a key whose budget fits 10 worst-case reservations. The upstream holds answers so
 * that most reservations meet each other; on a slow machine a request that settles early frees
 * its unused reservation (220 - 120 µUSD) for a later one, so "exact" is: every answered request
 * was reserved and paid for, nothing more reached the provider, and spend never passed the budget.
 */
async function assertExactBudget(gw: ServeProcess, fake: FakeUpstream): Promise<void> {
  const budgetMicros = 10 * WORST_MICROS;
  const { id, key } = await createKey(gw.url, { max_budget: budgetMicros / 1e6, budget_period: 'daily' });
  fake.reset();
  fake.steer = { delayMs: 5000 };
  let answered: number;
  try {
    const results = await Promise.all(Array.from({ length: 200 }, () => chatWith(gw.url, key, 'metered')));
    answered = results.filter((r) => r.status === 200).length;
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.json.error.code, 'budget_exceeded', r.text);
    assert.ok(answered >= 10, `the budget fits at least 10 requests, ${answered} were answered`);
    assert.equal(fake.requests.length, answered, 'refused requests never reached the provider');
  } finally {
    fake.steer = {};
  }
  const budget = await call(`${gw.url}/api/enterprise/vkeys/${id}/budget`, { headers: authHeaders() });
  assert.equal(budget.json.reserved, 0, 'every reservation was settled');
  assert.equal(budget.json.spent, (answered * ACTUAL_MICROS) / 1e6);
  assert.ok(answered * ACTUAL_MICROS <= budgetMicros, 'spend never passed the budget');
}

/** Fetch for the MCP SDK clients: every request on its own connection, so consecutive requests of one session land on either worker. */
const freshConnectionFetch = (async (url: string | URL, init?: RequestInit) => {
  const agent = new Agent();
  const res = await undiciFetch(url, { ...(init as object), dispatcher: agent });
  // Closes once the response (an SSE stream included) is done.
  void agent.close();
  return res;
}) as unknown as typeof fetch;

describe('smartflow serve --workers 2 (SQLite)', () => {
  let fake: FakeUpstream;
  let gw: ServeProcess;
  const dir = mkdtempSync(join(tmpdir(), 'sf-workers-'));

  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startServe(dir, config(fake, { type: 'sqlite', path: join(dir, 'smartflow.db') }), ['--workers', '2']);
  });
  after(async () => {
    if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
    await fake.close();
  });

  test('two worker processes answer, one per connection in turn', async () => {
    assert.equal(gw.pids.length, 2, gw.stdout());
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) seen.add(await workerPid(gw.url));
    assert.deepEqual([...seen].sort(), [...gw.pids].sort());
    assert.ok(!gw.pids.includes(gw.child.pid!), 'the primary serves no requests');
  });

  test('a budget stays exact under 200 concurrent requests across the workers', async () => {
    await assertExactBudget(gw, fake);
  });

  test('/metrics answers for every worker, whichever gets the scrape', async () => {
    const requestsTotal = async (): Promise<number> => {
      const res = await onNewConnection(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
      assert.equal(res.status, 200, res.text);
      return [...res.text.matchAll(/^smartflow_requests_total\{[^}]*model="metered"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const [a, b] = [await requestsTotal(), await requestsTotal()];
    // The budget test's 200 requests went to both workers; each scrape counts all of them.
    assert.ok(a >= 200, `counted ${a}`);
    assert.equal(a, b);
  });

  test('a revoked key is refused by every worker as soon as the revoke call returns', async () => {
    const { id, key } = await createKey(gw.url, {});
    const chat = () => onNewConnection(`${gw.url}/v1/chat/completions`, { headers: authHeaders(key), body: { model: 'metered', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 } });
    // Both workers have the key in their lookup cache (valid for a minute without a message).
    for (let i = 0; i < 4; i++) assert.equal((await chat()).status, 200);
    const revoked = await onNewConnection(`${gw.url}/api/enterprise/vkeys/${id}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${MASTER_KEY}` } });
    assert.equal(revoked.status, 200, revoked.text);
    const after = await Promise.all(Array.from({ length: 6 }, () => chat()));
    for (const res of after) assert.equal(res.status, 401, res.text);
  });

  test('an MCP server registered on one worker serves on both, and its sessions work across new connections', async () => {
    const reg = await onNewConnection(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] } });
    assert.equal(reg.status, 201, reg.text);

    const client = new Client({ name: 'workers-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${MASTER_KEY}` } }, fetch: freshConnectionFetch });
    await client.connect(transport);
    assert.match(transport.sessionId ?? '', /^w\d+\./);
    for (let i = 0; i < 12; i++) {
      const result = await client.callTool({ name: 'everything_echo', arguments: { message: `hello ${i}` } });
      assert.equal(textOf(result), `Echo: hello ${i}`);
    }
    await client.close();

    const legacy = new Client({ name: 'workers-test-sse', version: '1.0.0' });
    await legacy.connect(new SSEClientTransport(new URL(`${gw.url}/sse`), { requestInit: { headers: { authorization: `Bearer ${MASTER_KEY}` } }, fetch: freshConnectionFetch, eventSourceInit: { fetch: freshConnectionFetch } }));
    for (let i = 0; i < 6; i++) {
      const result = await legacy.callTool({ name: 'everything_echo', arguments: { message: `legacy ${i}` } });
      assert.equal(textOf(result), `Echo: legacy ${i}`);
    }
    await legacy.close();
  });

  test('a killed worker is restarted and the gateway keeps answering', async () => {
    const victim = gw.pids[0]!;
    process.kill(victim, 'SIGKILL');
    let replaced: number | undefined;
    for (let i = 0; i < 400 && replaced === undefined; i++) {
      // Until the primary has noticed, a connection may still be dealt to the dead worker.
      const pid = await workerPid(gw.url).catch(() => undefined);
      if (pid !== undefined && pid !== victim && !gw.pids.includes(pid)) replaced = pid;
      else await sleep(50);
    }
    assert.ok(replaced !== undefined, `a new worker answered:\n${gw.stderr()}`);
    assert.match(gw.stdout() + gw.stderr(), /worker died; starting a new one/);
    for (let i = 0; i < 8; i++) assert.notEqual(await workerPid(gw.url), victim);
  });

  test('SIGTERM lets an in-flight request finish, then every process exits 0', async () => {
    // New connections: a pooled one may still lead to the worker killed above.
    const created = await onNewConnection(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: {} });
    assert.equal(created.status, 201, created.text);
    fake.reset();
    fake.steer = { delayMs: 1500 };
    const slow = onNewConnection(`${gw.url}/v1/chat/completions`, { headers: authHeaders(created.json.key), body: { model: 'metered', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 } });
    for (let i = 0; i < 200 && fake.requests.length === 0; i++) await sleep(10);
    gw.child.kill('SIGTERM');
    const res = await slow;
    fake.steer = {};
    assert.equal(res.status, 200, res.text);
    assert.equal(await gw.exited, 0, gw.stderr());
    for (const pid of gw.pids) assert.throws(() => process.kill(pid, 0), 'no worker is left behind');
  });
});

test('a cluster whose workers cannot listen (port taken) stops and exits 1', async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  const port = (blocker.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'sf-workers-busy-'));
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--workers', '2'], { cwd: dir, env: { PATH: process.env.PATH, SMARTFLOW_MASTER_KEY: MASTER_KEY } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 1, stderr);
  assert.match(stderr, /address is already in use/);
});

describe('smartflow serve --workers 2 (Redis)', () => {
  test('a budget stays exact under 200 concurrent requests across the workers', async (t) => {
    const fake = await startFakeOpenAI();
    const prefix = `sf-test-workers-${randomUUID()}:`;
    const dir = mkdtempSync(join(tmpdir(), 'sf-workers-redis-'));
    const gw = await startServe(dir, config(fake, { type: 'redis', url: REDIS_URL, prefix }), ['--workers', '2']);
    t.after(async () => {
      assert.equal(await gw.stop(), 0);
      await fake.close();
      await flushRedisPrefix(prefix);
    });
    assert.equal(gw.pids.length, 2);
    await assertExactBudget(gw, fake);
  });
});
