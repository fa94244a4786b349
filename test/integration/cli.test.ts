import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer, type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { startFakeOpenAI } from '../helpers/fake-openai.js';

const BIN = new URL('../../bin/smartflow.js', import.meta.url).pathname;
const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitFor(pattern: RegExp, read: () => string, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const m = read().match(pattern);
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${pattern}; output so far:\n${read()}`);
}

describe('smartflow CLI', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('--version and --help', async () => {
    const v = await run(process.execPath, [BIN, '--version']);
    assert.equal(v.stdout.trim(), pkg.version);
    const h = await run(process.execPath, [BIN, '--help']);
    assert.match(h.stdout, /smartflow serve \[--config FILE\]/);
    assert.match(h.stdout, /smartflow demo/);
  });

  test('an unknown command exits 2 with the usage', async () => {
    const err = await run(process.execPath, [BIN, 'frobnicate']).catch((e: { code: number; stderr: string }) => e);
    assert.equal((err as { code: number }).code, 2);
    assert.match((err as { stderr: string }).stderr, /Unknown command "frobnicate"/);
  });

  test('an invalid config exits 1 naming the field and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-cli-'));
    writeFileSync(join(dir, 'smartflow.yaml'), 'server:\n  port: 99999\n');
    const err = (await run(process.execPath, [BIN, 'serve'], { cwd: dir }).catch((e: unknown) => e)) as { code: number; stderr: string };
    assert.equal(err.code, 1);
    assert.match(err.stderr, /smartflow\.yaml:2: server\.port:/);
  });

  test('a busy port exits 1 promptly, even with Redis connections open', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'sf-cli-'));
    const started = Date.now();
    const err = (await run(process.execPath, [BIN, 'serve', '--port', String(port)], {
      cwd: dir,
      env: { PATH: process.env.PATH, SMARTFLOW_MASTER_KEY: 'sk-test-master-key', REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
      timeout: 15_000,
    }).catch((e: unknown) => e)) as { code: number; stderr: string };
    assert.equal(err.code, 1);
    assert.match(err.stderr, /address is already in use/);
    assert.ok(Date.now() - started < 10_000);
  });

  test('serve generates a master key file, serves, and drains in-flight requests on SIGTERM', async () => {
    const fake = await startFakeOpenAI();
    cleanups.push(() => fake.close());
    const dir = mkdtempSync(join(tmpdir(), 'sf-cli-'));
    writeFileSync(
      join(dir, 'smartflow.yaml'),
      `providers:\n  openai: { type: openai, base_url: "${fake.url}/v1", api_key: \${UP_KEY}, forward_headers: ["x-fake-*"] }\nmodels:\n  - { name: m, provider: openai, model: gpt-4o-mini }\n`,
    );
    const gw = start(['serve', '--port', '0', '--host', '127.0.0.1'], dir, { UP_KEY: 'sk-up' });
    cleanups.push(() => void gw.child.kill('SIGKILL'));
    const [, url] = await waitFor(/listening on (http:\/\/\S+)/, gw.stdout);
    assert.match(gw.stdout(), /master key: generated and saved to \.\/data\/master_key/);
    const key = readFileSync(join(dir, 'data', 'master_key'), 'utf8').trim();
    assert.match(key, /^sk-sf-master-/);
    assert.ok(!gw.stdout().includes(key), 'the key itself is not printed');

    const live = await fetch(`${url}/health/liveness`);
    assert.equal(live.status, 200);

    // A slow request is in flight when SIGTERM arrives: it must still complete.
    const slow = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-fake-delay-ms': '700' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'slow' }] }),
    });
    await new Promise((r) => setTimeout(r, 200));
    gw.child.kill('SIGTERM');
    const res = await slow;
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content, 'Echo: slow');
    assert.equal(await gw.exited, 0);
    assert.match(gw.stderr(), /SIGTERM: finishing in-flight requests/);

    // The spend log was flushed before exit: a new process on the same data dir finds the row.
    const again = start(['serve', '--port', '0'], dir, { UP_KEY: 'sk-up' });
    cleanups.push(() => void again.child.kill('SIGKILL'));
    const [, url2] = await waitFor(/listening on (http:\/\/\S+)/, again.stdout);
    const logs = (await (await fetch(`${url2}/api/spend/logs`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: Array<{ model: string; status: number }> };
    assert.ok(logs.data.some((r) => r.model === 'm' && r.status === 200));
    again.child.kill('SIGINT');
    assert.equal(await again.exited, 0);
  });

  test('demo prints a walkthrough whose commands all work as printed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-demo-'));
    const demo = start(['demo', '--port', '0'], dir);
    cleanups.push(() => void demo.child.kill('SIGKILL'));
    await waitFor(/Press Ctrl\+C to stop\./, demo.stdout);
    const commands = demo.stdout().split('\n').filter((l) => l.startsWith('curl '));
    assert.ok(commands.length >= 8, `expected the walkthrough commands, got ${commands.length}`);
    const outputs: string[] = [];
    for (const cmd of commands) {
      const { stdout } = await run('sh', ['-c', cmd]);
      outputs.push(stdout);
    }
    const models = JSON.parse(outputs[0]!) as { data: Array<{ id: string; owned_by: string }> };
    assert.ok(models.data.some((m) => m.id === 'demo-chat' && m.owned_by === 'smartflow-demo'));
    assert.equal((JSON.parse(outputs[1]!) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content, 'Demo echo: Hello, Smartflow!');
    assert.match(outputs[2]!, /data: \[DONE\]/);
    assert.equal((JSON.parse(outputs[3]!) as { choices: Array<{ finish_reason: string }> }).choices[0]?.finish_reason, 'tool_calls');
    assert.equal((JSON.parse(outputs[4]!) as { data: unknown[] }).data.length, 2);
    assert.equal((JSON.parse(outputs[5]!) as { error: { code: string } }).error.code, 'model_not_found');
    assert.match((JSON.parse(outputs[6]!) as { key: string }).key, /^sk-sf-/);
    const statuses = [...outputs[7]!.matchAll(/\[HTTP (\d{3})\]/g)].map((m) => m[1]);
    assert.equal(statuses.length, 5);
    assert.equal(statuses[0], '200');
    assert.equal(statuses.at(-1), '429', 'the demo-budget key runs out of budget');
    assert.match(outputs[7]!, /"code":"budget_exceeded"/);
    const budget = JSON.parse(outputs[8]!) as { spent: number; remaining: number; max_budget: number };
    assert.equal(budget.max_budget, 0.002);
    assert.ok(budget.spent > 0 && budget.remaining < budget.max_budget);
    const cacheHeaders = [...outputs[9]!.matchAll(/^x-smartflow-cache(-key)?: (\S+)/gim)].map((m) => [m[1] ? 'key' : 'status', m[2]]);
    const keys = cacheHeaders.filter(([name]) => name === 'key').map(([, v]) => v);
    assert.deepEqual(cacheHeaders.filter(([name]) => name === 'status').map(([, v]) => v), ['STORED', 'HIT']);
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    assert.deepEqual(JSON.parse(outputs[10]!), { object: 'cache.entry', key: keys[0], deleted: true });
    const stats = JSON.parse(outputs[11]!) as { hits: number; entries: number };
    assert.ok(stats.hits >= 1);
    assert.match(outputs[12]!, /^HTTP\/1\.1 200/);
    assert.match(outputs[12]!, /^x-smartflow-attempts: 3\r?$/m);
    assert.match(outputs[12]!, /^x-smartflow-route: demo\/demo-chat\r?$/m);
    assert.match(outputs[12]!, /^x-smartflow-fallback-chain: demo-resilient\r?$/m);
    const response = JSON.parse(outputs[13]!) as { object: string; status: string; output: Array<{ type: string; content?: Array<{ text: string }> }> };
    assert.equal(response.object, 'response');
    assert.equal(response.status, 'completed');
    assert.match(response.output.find((o) => o.type === 'message')?.content?.[0]?.text ?? '', /Hello from the Responses API/);
    assert.match(outputs[14]!, /^x-smartflow-passthrough: openai\r?$/m);
    assert.match(outputs[14]!, /Demo echo: Hello from Cursor/);
    assert.ok((JSON.parse(outputs[15]!) as { data: unknown[] }).data.length >= 5);
    assert.match(outputs[16]!, /smartflow_requests_total/);
    assert.equal((JSON.parse(outputs[17]!) as { status: string }).status, 'ok');
    demo.child.kill('SIGINT');
    assert.equal(await demo.exited, 0);
  });
});
