import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchChild, killAllChildren, pinSelf, tasksetAvailable } from './children.js';
import { runLoad, type HttpTarget } from './measure.js';
import { BENCH_MASTER_KEY } from './protocol.js';

/**
 * `npm run bench:memory [-- --runs N] [-- --access-log] [-- --node-flag=--max-semi-space-size=4]`:
 * the gateway's memory and idle CPU as `npm start` runs it, i.e. `node bin/smartflow.js serve`
 * on the compiled dist/ with no loader (bench/run.ts's gateway child runs under `--import tsx`,
 * whose module-hooks thread alone adds about 30 MiB of RSS). Gateway pinned to core 0, fake
 * upstream and load on core 1. Per run: RSS 2 s after start, after a 2 s warm-up at 32
 * connections, its peak over 8 s at 32 connections (and CPU per request), 3 s and 30 s after
 * the load (src/core/idle-trim.ts runs its one GC after 20-30 s of quiet), and the CPU the idle
 * process burns after load. CPU comes from
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds, every thread), so no code in the gateway reports it.
 */

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'access-log': { type: 'boolean', default: false },
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);

const CHAT_BODY = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a concise assistant for a travel company. Answer in one or two sentences.' },
    { role: 'user', content: 'What is the capital of France, and which museum there should a first-time visitor not miss?' },
  ],
  max_tokens: 200,
});

/** Every thread's run time so far, in µs (schedstat's first field is nanoseconds on the CPU). */
function cpuUs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return ns / 1000;
}

function rssMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** A port nothing listens on right now (the gateway binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => ok(port));
    });
  });
}

async function startGateway(upstreamUrl: string, dataDir: string, taskset: boolean): Promise<{ proc: ChildProcess; url: string }> {
  const configPath = join(dataDir, 'smartflow.yaml');
  writeFileSync(
    configPath,
    JSON.stringify({
      master_key: BENCH_MASTER_KEY,
      server: { host: '127.0.0.1', port: 0 },
      store: { type: 'sqlite', path: join(dataDir, 'smartflow.db') },
      providers: { openai: { type: 'openai', base_url: `${upstreamUrl}/v1`, api_key: 'sk-bench-upstream' } },
      models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
      logging: { level: values['access-log'] ? 'info' : 'warn', access_log: values['access-log'] },
    }),
  );
  const port = await freePort();
  const args = [...values['node-flag'], join(REPO_ROOT, 'bin', 'smartflow.js'), 'serve', '--config', configPath, '--port', String(port), '--workers', '1'];
  const [cmd, argv] = taskset ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args];
  // Logs to /dev/null, as bench/run.ts does: the access log's cost is the write, not a reader keeping up.
  const proc = spawn(cmd, argv, { cwd: dataDir, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 100) {
    if (proc.exitCode !== null) throw new Error(`gateway exited (${proc.exitCode}) before listening`);
    const up = await fetch(`${url}/health/liveness`).then((r) => r.ok, () => false);
    if (up) break;
    if (waited > 30_000) throw new Error('gateway did not listen within 30 s');
    await sleep(100);
  }
  return { proc, url };
}

interface RunResult {
  startRss: number;
  warmRss: number;
  peakRss: number;
  hwm: number;
  after3sRss: number;
  after30sRss: number;
  cpuPerRequestUs: number;
  rps: number;
  idle0to3UsPerS: number;
  idle3to30UsPerS: number;
}

async function oneRun(upstream: BenchChild, taskset: boolean): Promise<RunResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'smartflow-membench-'));
  const { proc, url } = await startGateway(upstream.url, dataDir, taskset);
  const pid = proc.pid!;
  try {
    const target: HttpTarget = { url, path: '/v1/chat/completions', headers: { authorization: `Bearer ${BENCH_MASTER_KEY}`, 'content-type': 'application/json' }, body: CHAT_BODY };
    await sleep(2000);
    const startRss = rssMiB(pid).rss;
    await runLoad(target, 32, 2);
    const warmRss = rssMiB(pid).rss;
    let peakRss = warmRss;
    const poll = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(pid).rss)), 100);
    const c0 = cpuUs(pid);
    const load = await runLoad(target, 32, 8);
    const c1 = cpuUs(pid);
    clearInterval(poll);
    await sleep(3000);
    const c2 = cpuUs(pid);
    const after3sRss = rssMiB(pid).rss;
    await sleep(27_000);
    const c3 = cpuUs(pid);
    const { rss: after30sRss, hwm } = rssMiB(pid);
    return {
      startRss,
      warmRss,
      peakRss,
      hwm,
      after3sRss,
      after30sRss,
      cpuPerRequestUs: (c1 - c0) / load.responses,
      rps: load.rps,
      idle0to3UsPerS: (c2 - c1) / 3,
      idle3to30UsPerS: (c3 - c2) / 27,
    };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((ok) => proc.once('exit', ok));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const taskset = tasksetAvailable();
if (taskset) pinSelf(1);
const upstream = await BenchChild.start({ name: 'upstream', script: join(BENCH_DIR, 'fake-upstream.ts'), cpu: taskset ? 1 : null, cwd: REPO_ROOT });
const rows: RunResult[] = [];
try {
  for (let i = 0; i < Number(values.runs); i++) {
    const r = await oneRun(upstream, taskset);
    rows.push(r);
    log(`run ${i + 1}: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}`);
  }
} finally {
  await upstream.stop();
  await killAllChildren();
}
const cols: Array<[string, keyof RunResult]> = [
  ['RSS 2 s after start (MiB)', 'startRss'],
  ['RSS after warm-up (MiB)', 'warmRss'],
  ['RSS peak, polled / VmHWM (MiB)', 'peakRss'],
  ['RSS 3 s after load (MiB)', 'after3sRss'],
  ['RSS 30 s after load (MiB)', 'after30sRss'],
  ['CPU per request, 32 connections (µs)', 'cpuPerRequestUs'],
  ['throughput, 32 connections (req/s)', 'rps'],
  ['idle CPU 0–3 s after load (µs/s)', 'idle0to3UsPerS'],
  ['idle CPU 3–30 s after load, the trim included (µs/s)', 'idle3to30UsPerS'],
];
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const flags = values['node-flag'].length ? ` ${values['node-flag'].join(' ')}` : '';
process.stdout.write(`\n| \`node${flags} bin/smartflow.js serve\`, ${values['access-log'] ? 'info + access log' : 'warn, no access log'} | ${rows.map((_, i) => `run ${i + 1}`).join(' | ')} |\n|---|${rows.map(() => '---:').join('|')}|\n`);
for (const [label, key] of cols) {
  const cells = rows.map((r) => (key === 'peakRss' ? `${fmt(r.peakRss)} / ${fmt(r.hwm)}` : fmt(r[key])));
  process.stdout.write(`| ${label} | ${cells.join(' | ')} |\n`);
}
