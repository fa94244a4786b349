import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer, type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import { runShellSession } from '../helpers/shell-session.js';

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
    // One process, as before workers (the cluster's start failure: workers.test.ts).
    const err = (await run(process.execPath, [BIN, 'serve', '--port', String(port), '--workers', '1'], {
      cwd: dir,
      env: { PATH: process.env.PATH, SMARTFLOW_MASTER_KEY: 'sk-test-master-key', REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
      timeout: 15_000,
    }).catch((e: unknown) => e)) as { code: number; stderr: string };
    assert.equal(err.code, 1);
    assert.match(err.stderr, /address is already in use/);
    assert.ok(Date.now() - started < 10_000);
  });

  test('demo on a busy port exits 1 promptly: its local upstreams do not keep the process alive', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as AddressInfo).port;
    const err = (await run(process.execPath, [BIN, 'demo', '--port', String(port)], { cwd: mkdtempSync(join(tmpdir(), 'sf-demo-')), env: { PATH: process.env.PATH }, timeout: 15_000 }).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    assert.equal(err.code, 1, err.stderr);
    assert.match(err.stderr, /address is already in use/);
  });

  test('serve generates a master key file, serves, and drains in-flight requests on SIGTERM', async () => {
    const fake = await startFakeOpenAI();
    cleanups.push(() => fake.close());
    const dir = mkdtempSync(join(tmpdir(), 'sf-cli-'));
    writeFileSync(
      join(dir, 'smartflow.yaml'),
      `providers:\n  openai: { type: openai, base_url: "${fake.url}/v1", api_key: \${UP_KEY}, forward_headers: ["x-fake-*"] }\nmodels:\n  - { name: m, provider: openai, model: gpt-4o-mini }\n`,
    );
    // SMARTFLOW_WORKERS=1: the single-process gateway (serve --workers N drains in workers.test.ts).
    const gw = start(['serve', '--port', '0', '--host', '127.0.0.1'], dir, { UP_KEY: 'sk-up', SMARTFLOW_WORKERS: '1' });
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

  /** The commands of a printed walkthrough, in order: every line that is neither a comment nor blank. */
  function walkthroughCommands(stdout: string): string[] {
    const body = stdout.slice(stdout.indexOf('Try these'), stdout.indexOf('With the openai SDK'));
    return body.split('\n').slice(1).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  }

  test('demo prints a walkthrough whose commands all work as printed, pasted in order into one shell', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-demo-'));
    const demo = start(['demo', '--port', '0'], dir);
    cleanups.push(() => void demo.child.kill('SIGKILL'));
    await waitFor(/Press Ctrl\+C to stop\./, demo.stdout);
    const commands = walkthroughCommands(demo.stdout());
    assert.equal(commands[0], 'export SMARTFLOW_MASTER_KEY=sk-demo-master-key', 'without an exported key the walkthrough exports the demo one first');
    const results = await runShellSession(commands, { env: {}, cwd: dir });
    const out = results.map((r) => r.stdout);
    const expectedStatuses: Record<number, number[]> = { 8: [404], 10: [200, 200, 429, 429, 429], 27: [400] };
    for (const [i, r] of results.entries()) {
      assert.equal(r.exitCode, 0, `step ${i + 1} exit code: ${r.command}\n${r.stderr}`);
      const expected = expectedStatuses[i];
      if (expected) assert.deepEqual(r.statuses, expected, `step ${i + 1}: ${r.command}`);
      else assert.ok(r.statuses.every((st) => st >= 200 && st < 300), `step ${i + 1} answered ${r.statuses.join(', ')}: ${r.command}\n${r.stdout.slice(0, 500)}`);
    }

    // The world the docs describe: providers and models named as in the docs, the failing target explained.
    const models = (JSON.parse(out[1]!) as { data: Array<{ id: string; owned_by: string; description?: string }> }).data;
    const owner = (id: string) => models.find((m) => m.id === id)?.owned_by;
    assert.equal(owner('gpt-4o-mini'), 'openai');
    assert.equal(owner('text-embedding-3-small'), 'openai');
    assert.equal(owner('claude-sonnet-4-5'), 'anthropic');
    assert.equal(owner('claude-haiku-4-5'), 'anthropic');
    assert.equal(owner('gemini-2.5-flash'), 'gemini');
    const failing = models.filter((m) => m.owned_by === 'unreachable');
    assert.deepEqual(failing.map((m) => m.id), ['always-down'], 'one failing model, not a dead copy of the catalogue');
    assert.match(failing[0]!.description ?? '', /fails on purpose.*closed port.*demo-resilient/);
    assert.ok(models.every((m) => m.description), 'every demo model says what answers it');

    const content = (text: string) => (JSON.parse(text) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content;
    assert.equal(content(out[2]!), 'Demo echo: Hello, Smartflow!');
    assert.equal(content(out[3]!), 'Demo echo: Say hello in French.', 'Claude through the demo Anthropic upstream');
    assert.match(out[4]!, /"content":"Demo "/);
    assert.match(out[4]!, /"usage":\{"prompt_tokens"/);
    assert.match(out[4]!, /data: \[DONE\]/);
    const tool = JSON.parse(out[5]!) as { choices: Array<{ finish_reason: string; message: { tool_calls: Array<{ function: { arguments: string } }> } }> };
    assert.equal(tool.choices[0]?.finish_reason, 'tool_calls');
    assert.deepEqual(JSON.parse(tool.choices[0]!.message.tool_calls[0]!.function.arguments), { city: 'Paris' });
    const embeddings = JSON.parse(out[6]!) as { data: Array<{ embedding: number[] }> };
    assert.deepEqual(embeddings.data.map((d) => d.embedding.length), [16, 16]);
    const native = JSON.parse(out[7]!) as { type: string; content: Array<{ text: string }> };
    assert.equal(native.type, 'message', '/anthropic answers in Anthropic\'s own format');
    assert.equal(native.content[0]?.text, 'Demo echo: Hello from Claude Code');
    assert.equal((JSON.parse(out[8]!) as { error: { code: string } }).error.code, 'model_not_found');
    assert.match((JSON.parse(out[9]!) as { key: string }).key, /^sk-sf-/);
    assert.match(out[10]!, /"code":"budget_exceeded"/);
    // What the walkthrough says about those five requests is what they do.
    assert.match(demo.stdout(), /# 11\. .*five requests.*the first two are answered, the last three get 429 budget_exceeded/);
    const budget = JSON.parse(out[11]!) as { spent: number; remaining: number; max_budget: number };
    assert.equal(budget.max_budget, 0.0032);
    assert.ok(budget.spent > 0 && budget.remaining < budget.max_budget);
    const cacheHeaders = [...out[12]!.matchAll(/^x-smartflow-cache(-key)?: (\S+)/gim)].map((m) => [m[1] ? 'key' : 'status', m[2]]);
    const keys = cacheHeaders.filter(([name]) => name === 'key').map(([, v]) => v);
    assert.deepEqual(cacheHeaders.filter(([name]) => name === 'status').map(([, v]) => v), ['STORED', 'HIT']);
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    assert.deepEqual(JSON.parse(out[13]!), { object: 'cache.entry', key: keys[0], deleted: true });
    assert.ok((JSON.parse(out[14]!) as { hits: number }).hits >= 2);
    assert.match(out[15]!, /^x-smartflow-attempts: 3\r?$/m);
    assert.match(out[15]!, /^x-smartflow-route: openai\/gpt-4o-mini\r?$/m);
    assert.match(out[15]!, /^x-smartflow-fallback-chain: demo-resilient\r?$/m);
    const response = JSON.parse(out[16]!) as { object: string; status: string; output: Array<{ type: string; content?: Array<{ text: string }> }> };
    assert.equal(response.object, 'response');
    assert.equal(response.status, 'completed');
    assert.match(response.output.find((o) => o.type === 'message')?.content?.[0]?.text ?? '', /Hello from the Responses API/);
    assert.match(out[17]!, /^x-smartflow-passthrough: openai\r?$/m);
    assert.match(out[17]!, /Demo echo: Hello from Cursor/);
    // MCP: the demo-files server (server-filesystem over STDIO) reads the demo folder's file through /mcp ...
    assert.match(out[18]!, /"text":"Welcome to Smartflow! This line was read from the demo folder/);
    assert.match(demo.stdout(), /MCP server "demo-files": @modelcontextprotocol\/server-filesystem over STDIO on \S+/);
    // Tool search: "read a file" finds the demo-files server's read tools first.
    const found = (JSON.parse(out[19]!) as { data: Array<{ server: string; tool: string }> }).data;
    assert.equal(found.length, 3);
    assert.ok(found.every((h) => h.server === 'demo-files' && h.tool.startsWith('read_')), out[19]);
    // ... and through the tool loop: the model asked for the file and answered from it, in two steps.
    assert.match(out[20]!, /^x-smartflow-mcp-steps: 2\r?$/m);
    assert.match(out[20]!, /"content":"The tool returned: Welcome to Smartflow! This line was read from the demo folder/);
    const spend = (JSON.parse(out[21]!) as { data: Array<{ operation: string; loop_step: number | null }> }).data;
    assert.ok(spend.length >= 5);
    assert.deepEqual(spend.filter((r) => r.loop_step !== null).map((r) => `${r.operation}#${r.loop_step}`).sort(), ['chat#1', 'chat#2', 'mcp.call#1']);
    // The export: a CSV header, then one line per spend row, the same rows the log listed.
    const csv = out[22]!.trimEnd().split(/\r?\n/);
    assert.match(csv[0]!, /^id,time,/);
    assert.ok(csv.length - 1 >= spend.length, `${csv.length - 1} CSV rows for ${spend.length} listed`);
    const perKey = JSON.parse(out[23]!) as { object: string; data: Array<{ requests: number }> };
    assert.equal(perKey.object, 'list');
    assert.ok(perKey.data.reduce((n, r) => n + r.requests, 0) >= spend.length, 'the per-key totals count every listed request');
    assert.match(out[24]!, /smartflow_requests_total/);
    assert.equal((JSON.parse(out[25]!) as { status: string }).status, 'ok');
    // Guardrails: the demo policy masks the email on the way in, and blocks the injection.
    assert.match(out[26]!, /^x-smartflow-applied-policies: demo-safety\r?$/m);
    assert.match(out[26]!, /^x-smartflow-policy-sources: demo-safety=tag:demo-\*\r?$/m);
    assert.match(out[26]!, /"content":"Demo echo: Email \[REDACTED:email\] the invoice"/);
    const blocked = JSON.parse(out[27]!) as { error: { code: string; param: string } };
    assert.deepEqual([blocked.error.code, blocked.error.param], ['guardrail_blocked', 'demo-injection']);
    assert.deepEqual((JSON.parse(out[28]!) as { policies: Array<{ source: string }> }).policies.map((p) => p.source), ['demo-safety=tag:demo-*']);
    assert.equal(results.length, 29);
    demo.child.kill('SIGINT');
    assert.equal(await demo.exited, 0);
  });

  test('demo honours an exported SMARTFLOW_MASTER_KEY and does not print it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-demo-'));
    const own = 'sk-my-own-master-key-0123456789';
    const demo = start(['demo', '--port', '0'], dir, { SMARTFLOW_MASTER_KEY: own });
    cleanups.push(() => void demo.child.kill('SIGKILL'));
    const [, url] = await waitFor(/demo gateway on (http:\/\/\S+)/, demo.stdout);
    await waitFor(/Press Ctrl\+C to stop\./, demo.stdout);
    assert.ok(!demo.stdout().includes(own), 'the key itself is not printed');
    assert.match(demo.stdout(), /Master key: \$SMARTFLOW_MASTER_KEY \(taken from your environment\)/);
    const commands = walkthroughCommands(demo.stdout());
    assert.ok(!commands.some((c) => c.startsWith('export ')), 'no export of the demo key over the user\'s');
    const [models] = await runShellSession([commands[0]!], { env: { SMARTFLOW_MASTER_KEY: own }, cwd: dir });
    assert.deepEqual(models!.statuses, [200]);
    const demoKey = await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer sk-demo-master-key' } });
    assert.equal(demoKey.status, 401, 'the built-in demo key is not accepted when the user chose their own');
    demo.child.kill('SIGINT');
    assert.equal(await demo.exited, 0);
  });
});
