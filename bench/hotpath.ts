import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, request } from 'undici';
import { CHAT_BODY, kilobytePrompt } from './bench-inputs.js';
import { BenchChild, killAllChildrenSync, pinSelf, tasksetAvailable } from './children.js';
import { measureTtft, runLoad, type HttpTarget } from './measure.js';
import { BENCH_MASTER_KEY, GATEWAY_OPTIONS_ENV, PASSTHROUGH_UPSTREAM_ENV, type GatewayProcessOptions } from './protocol.js';
import { BENCH_KEY_BUDGET } from './vkeys.js';

/**
 * `node --import tsx bench/hotpath.ts [--rounds N] [--seconds S] [--master] [--baseline DIR] [--cpu-prof [--connections C]] [--instructions [--requests N]] [--syscalls [--requests N]]`
 * (after `npm run build`): the performance issue's hot-path targets, measured in one run with the
 * loads interleaved, so that a busy machine moves every column alike. The gateway runs the
 * DEFAULT configuration (info logging, access log) and is called with a budgeted virtual key
 * while a policy with a PII guardrail is attached to a model pattern the request does not match;
 * a second budgeted key has that policy attached to its alias (the guardrail runs on a 1 KB
 * prompt). The bare pass-through (bench/passthrough-process.ts) is the floor. Prints, per round
 * and as medians: CPU per request at 64 connections and its ratio to the floor's, the same with
 * the guardrail, p99 at 64 connections against the floor's, and at 1 connection the added p50
 * and the added time to the first streamed chunk.
 *
 * `--baseline DIR`: a second gateway from another built checkout (e.g. a `git worktree` of the
 * commit before a change) measured in the same rounds. `--cpu-prof`: only a long load at
 * `--connections` (default 64) against a profiled gateway, for bench/profile-summary.ts.
 * `--instructions`: floor and gateway under valgrind's callgrind; instructions per request
 * (user space only), repeatable on a busy machine but slow (about 10 minutes a round).
 * `--syscalls`: strace attached to floor and gateway after warm-up; system calls per request
 * at 16 connections and at 1, by name.
 */

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, '..');
const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const rounds = opt('--rounds', 3);
const seconds = opt('--seconds', 4);
const cpuProf = argv.includes('--cpu-prof');
const instructions = argv.includes('--instructions');
const syscalls = argv.includes('--syscalls');
/** `--master`: the plain and streamed loads use the master key instead of the budgeted virtual key. */
const masterKey = argv.includes('--master');
const baselineAt = argv.indexOf('--baseline');
/** Another checkout (built) whose gateway is measured in the same rounds: before/after comparisons on a noisy machine. */
const baselineDir = baselineAt >= 0 ? resolve(argv[baselineAt + 1]!) : null;
const log = (line: string) => process.stderr.write(`${line}\n`);

const SHORT = CHAT_BODY.messages;
const KB_PROMPT = kilobytePrompt(6);
const body = (messages: unknown[], stream = false) => JSON.stringify({ ...CHAT_BODY, messages, ...(stream ? { stream: true } : {}) });

function target(url: string, key: string, b: string): HttpTarget {
  return { url, path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: b };
}

async function admin(url: string, path: string, payload: unknown): Promise<any> {
  const res = await request(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${BENCH_MASTER_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

const taskset = tasksetAvailable();
if (taskset) pinSelf(1);
const start = (name: string, script: string, cpu: number | null, env: Record<string, string>, nodeArgs: string[] = [], wrap?: string[]) =>
  BenchChild.start({ name, script: join(BENCH_DIR, script), cpu: taskset ? cpu : null, env, nodeArgs, cwd: REPO_ROOT, ...(wrap ? { wrapper: wrap, readyTimeoutMs: 600_000 } : {}) });

const dataDir = mkdtempSync(join(tmpdir(), 'smartflow-hotpath-'));
// --instructions: the floor and the gateway run under valgrind's callgrind, which counts the
// instructions they execute (user space only: the kernel's socket work is not counted), the same
// on a quiet machine as on one busy with other work, unlike CPU time.
const cgDir = join(dataDir, 'callgrind');
const wrapper = instructions ? ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', '--dump-instr=no', '--compress-strings=no', `--callgrind-out-file=${cgDir}/cg.%p`] : undefined;
if (instructions) rmSync(cgDir, { recursive: true, force: true });
if (instructions) spawnSync('mkdir', ['-p', cgDir]);
process.once('exit', () => {
  killAllChildrenSync();
  rmSync(dataDir, { recursive: true, force: true });
});
const upstream = await start('upstream', 'fake-upstream.ts', 1, {});
const floor = await start('passthrough', 'passthrough-process.ts', 0, { [PASSTHROUGH_UPSTREAM_ENV]: upstream.url }, [], wrapper);
interface GatewayUnderTest {
  name: string;
  child: BenchChild;
  json: HttpTarget;
  kb: HttpTarget;
  stream: HttpTarget;
}

/** A gateway in the default configuration with the scenario's guardrail, policy, attachments and two budgeted keys. */
async function startGateway(name: string, repoRoot: string): Promise<GatewayUnderTest> {
  const dir = join(dataDir, name);
  spawnSync('mkdir', ['-p', dir]);
  const options: GatewayProcessOptions = { upstreamUrl: upstream.url, dataDir: dir, level: 'info', accessLog: true };
  const nodeArgs = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', join(BENCH_DIR, 'results')] : [];
  const child = await BenchChild.start({ name, script: join(repoRoot, 'bench', 'gateway-process.ts'), cpu: taskset ? 0 : null, env: { [GATEWAY_OPTIONS_ENV]: JSON.stringify(options) }, nodeArgs, cwd: repoRoot, ...(wrapper ? { wrapper, readyTimeoutMs: 600_000 } : {}) });
  await admin(child.url, '/api/guardrails', { name: 'pii-mask', type: 'pii', mode: 'mask' });
  await admin(child.url, '/api/policies', { name: 'pii', add: ['pii-mask'] });
  await admin(child.url, '/api/policies/attachments', { policy: 'pii', scope: 'model', pattern: 'claude-*' });
  await admin(child.url, '/api/policies/attachments', { policy: 'pii', scope: 'key_alias', pattern: 'guarded' });
  const plainKey = (await admin(child.url, '/api/enterprise/vkeys', { alias: 'bench', ...BENCH_KEY_BUDGET })).key as string;
  const piiKey = (await admin(child.url, '/api/enterprise/vkeys', { alias: 'guarded', ...BENCH_KEY_BUDGET })).key as string;
  const mainKey = masterKey ? BENCH_MASTER_KEY : plainKey;
  const g = { name, child, json: target(child.url, mainKey, body(SHORT)), kb: target(child.url, piiKey, body([SHORT[0], { role: 'user', content: KB_PROMPT }])), stream: target(child.url, mainKey, body(SHORT, true)) };
  const check = await request(g.kb.url + g.kb.path, { method: 'POST', headers: g.kb.headers, body: g.kb.body });
  if (check.headers['x-smartflow-applied-guardrails'] !== 'pii-mask') throw new Error(`guarded key: guardrails header ${String(check.headers['x-smartflow-applied-guardrails'])}`);
  await check.body.text();
  return g;
}

const gateway = await startGateway('gateway', REPO_ROOT);
const gw = gateway.child;
const baseline = baselineDir ? await startGateway('baseline', baselineDir) : null;
const loads = {
  floor: { child: floor, json: target(floor.url, 'x', body(SHORT)), kb: target(floor.url, 'x', body([SHORT[0], { role: 'user', content: KB_PROMPT }])), stream: target(floor.url, 'x', body(SHORT, true)) },
  gateway,
};

async function cpuPer(child: BenchChild, t: HttpTarget, connections: number, s: number) {
  const before = await child.stats();
  const r = await runLoad(t, connections, s);
  const after = await child.stats();
  if (r.non2xx || r.errors) throw new Error(`${child.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { us: (after.userUs + after.systemUs - before.userUs - before.systemUs) / r.responses, p50: r.latencyMs.p50, p99: r.latencyMs.p99, rps: r.rps };
}

/** Exactly `count` requests, `connections` at a time. */
async function send(t: HttpTarget, count: number, connections: number): Promise<void> {
  const pool = new Pool(t.url, { connections });
  let left = count;
  const worker = async () => {
    while (left-- > 0) {
      const res = await pool.request({ method: 'POST', path: t.path, headers: t.headers, body: t.body });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${t.url}: ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await pool.close();
}

/** Instructions per request: counters zeroed, `count` requests, a dump read back. */
async function instructionsPer(child: BenchChild, t: HttpTarget, count: number, connections: number): Promise<number> {
  spawnSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' });
  await send(t, count, connections);
  const before = new Set(readdirSync(cgDir));
  spawnSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
  const file = readdirSync(cgDir).find((f) => f.startsWith(`cg.${child.pid}.`) && !before.has(f));
  if (!file) throw new Error(`no callgrind dump for ${child.name}`);
  const totals = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(cgDir, file), 'utf8'));
  return Number(totals?.[1]) / count;
}

if (instructions) {
  const count = opt('--requests', 2000);
  for (const l of Object.values(loads)) await send(l.json, count, 8);
  await send(loads.gateway.kb, count / 2, 8);
  for (let r = 0; r < rounds; r++) {
    const f = await instructionsPer(floor, loads.floor.json, count, 16);
    const g = await instructionsPer(gw, loads.gateway.json, count, 16);
    const fk = await instructionsPer(floor, loads.floor.kb, count, 16);
    const gk = await instructionsPer(gw, loads.gateway.kb, count, 16);
    const g1 = await instructionsPer(gw, loads.gateway.json, count / 4, 1);
    log(`round ${r + 1} instructions per request: floor ${Math.round(f)} gateway ${Math.round(g)} (${(g / f).toFixed(3)}x); 1 KB floor ${Math.round(fk)} gateway+PII ${Math.round(gk)} (${(gk / fk).toFixed(3)}x); gateway at 1 connection ${Math.round(g1)}`);
  }
  await gw.stop(60_000);
  await floor.stop(60_000);
  await upstream.stop();
  process.exit(0);
}

/** System calls per request (strace attached after warm-up): where the kernel time goes, and how many writes each side makes. */
async function syscallsPer(child: BenchChild, t: HttpTarget, count: number, connections: number): Promise<Map<string, number>> {
  const out = join(dataDir, `strace.${child.pid}`);
  const tracer = spawn('strace', ['-c', '-f', '-p', String(child.pid), '-o', out], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  await send(t, count, connections);
  const exited = new Promise((r) => tracer.once('exit', r));
  tracer.kill('SIGINT');
  await exited;
  const calls = new Map<string, number>();
  for (const m of readFileSync(out, 'utf8').matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/gm)) calls.set(m[2]!, Number(m[1]) / count);
  return calls;
}

if (syscalls) {
  const count = opt('--requests', 20_000);
  for (const l of Object.values(loads)) await send(l.json, 2000, 8);
  const f = await syscallsPer(floor, loads.floor.json, count, 16);
  const g = await syscallsPer(gw, loads.gateway.json, count, 16);
  const g1 = await syscallsPer(gw, loads.gateway.json, count / 10, 1);
  const f1 = await syscallsPer(floor, loads.floor.json, count / 10, 1);
  const names = [...new Set([...f.keys(), ...g.keys(), ...g1.keys()])].sort((a, b) => (g.get(b) ?? 0) - (g.get(a) ?? 0));
  log(`${'system calls per request'.padEnd(26)} ${'floor'.padStart(8)} ${'gateway'.padStart(8)} ${'floor 1c'.padStart(9)} ${'gw 1c'.padStart(8)}`);
  for (const n of names) log(`${n.padEnd(26)} ${(f.get(n) ?? 0).toFixed(3).padStart(8)} ${(g.get(n) ?? 0).toFixed(3).padStart(8)} ${(f1.get(n) ?? 0).toFixed(3).padStart(9)} ${(g1.get(n) ?? 0).toFixed(3).padStart(8)}`);
  await gw.stop();
  await floor.stop();
  await upstream.stop();
  process.exit(0);
}

if (cpuProf) {
  // Profile mode: only the target load (default config, budgeted key), for a profile without the other phases.
  const g = await cpuPer(gw, gateway.json, opt('--connections', 64), seconds * 3);
  log(`profiled load: ${g.us.toFixed(1)} µs per request (inflated by the profiler)`);
  await gw.stop();
  await baseline?.child.stop();
  await floor.stop();
  await upstream.stop();
  process.exit(0);
}

const gateways = [gateway, ...(baseline ? [baseline] : [])];
for (const l of [loads.floor, ...gateways]) await runLoad(l.json, 32, 2);
for (const g of gateways) await runLoad(g.kb, 32, 1);

type Row = Record<string, number[]>;
const rows: Row = {};
const add = (k: string, v: number) => (rows[k] ??= []).push(v);
for (let r = 0; r < rounds; r++) {
  const f = await cpuPer(floor, loads.floor.json, 64, seconds);
  const fk = await cpuPer(floor, loads.floor.kb, 64, seconds);
  const f1 = await cpuPer(floor, loads.floor.json, 1, seconds / 2);
  const ft = await measureTtft(loads.floor.stream, 300, 20);
  add('floor: CPU µs/request, 64 conns', f.us);
  add('floor: CPU µs/request, 1 KB prompt', fk.us);
  add('floor: p99 ms, 64 conns', f.p99);
  add('floor: p50 ms, 1 conn', f1.p50);
  add('floor: CPU µs/request, 1 conn', f1.us);
  add('floor: first chunk p50 ms', ft.firstChunkMs.p50);
  const line: string[] = [`floor ${f.us.toFixed(1)} µs`];
  for (const g of gateways) {
    const m = await cpuPer(g.child, g.json, 64, seconds);
    const k = await cpuPer(g.child, g.kb, 64, seconds);
    const one = await cpuPer(g.child, g.json, 1, seconds / 2);
    const t = await measureTtft(g.stream, 300, 20);
    add(`${g.name}: CPU µs/request, 64 conns`, m.us);
    add(`${g.name}: CPU ratio to floor`, m.us / f.us);
    add(`${g.name}: PII 1 KB CPU ratio to floor`, k.us / fk.us);
    add(`${g.name}: p99 ratio to floor, 64 conns`, m.p99 / f.p99);
    add(`${g.name}: CPU µs/request, 1 conn`, one.us);
    add(`${g.name}: added p50 ms, 1 conn`, one.p50 - f1.p50);
    add(`${g.name}: added first chunk p50 ms`, t.firstChunkMs.p50 - ft.firstChunkMs.p50);
    line.push(`${g.name} ${m.us.toFixed(1)} µs (${(m.us / f.us).toFixed(2)}x), PII ${(k.us / fk.us).toFixed(2)}x, p50 +${(one.p50 - f1.p50).toFixed(3)} ms, first chunk +${(t.firstChunkMs.p50 - ft.firstChunkMs.p50).toFixed(3)} ms, p99 ${(m.p99 / f.p99).toFixed(2)}x`);
  }
  log(`round ${r + 1}: ${line.join('; ')}`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [k, v] of Object.entries(rows)) log(`${k.padEnd(42)} median ${median(v).toFixed(3).padStart(9)}   all ${v.map((x) => x.toFixed(3)).join(' ')}`);
for (const g of gateways) await g.child.stop();
await floor.stop();
await upstream.stop();
