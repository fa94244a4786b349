import { renderWorkers, runWorkersBench } from './workers.js';
import { CHAT_BODY } from './bench-inputs.js';
import { cpuModel, gitRevision } from './machine.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderGuardrails, runGuardrailBench } from './guardrails.js';
import { CACHE_GATEWAY_OPTIONS, runCacheScenario, type CacheScenarioResult, type CacheScenarioSkipped } from './cache.js';
import { BenchChild, killAllChildren, killAllChildrenSync, pinSelf, tasksetAvailable } from './children.js';
import type { HttpTarget } from './measure.js';
import { MCP_DESCRIPTION, MCP_FULL, MCP_QUICK, mcpGatewayServers, renderMcp, runMcpScenario, startEverythingHttp, type McpScenarioResult, type McpScenarioSkipped } from './mcp.js';
import { summariseProfile } from './profile-summary.js';
import { renderToolSearch, runToolSearchBench, TOOLSEARCH_DESCRIPTION, type ToolSearchBenchResult } from './toolsearch.js';
import { BENCH_MASTER_KEY, GATEWAY_OPTIONS_ENV, PASSTHROUGH_UPSTREAM_ENV, type GatewayProcessOptions } from './protocol.js';
import { renderMarkdown, renderVkeys, TARGETS, type RunInfo } from './report.js';
import { FULL, QUICK, runPairedScenario, runScenario, type ScenarioResult } from './scenario.js';
import {
  checkBudgetAfter,
  checkBudgetPath,
  createBudgetedKey,
  dropPostgresSchema,
  flushRedisPrefix,
  keyBudget,
  postgresProblem,
  redactedRedisUrl,
  redisProblem,
  type BenchStore,
  type VkeyScenarioResult,
  type VkeyScenarioSkipped,
} from './vkeys.js';

/**
 * `npm run bench [-- --quick] [-- --cpu-prof] [-- --mcp] [-- --toolsearch]`: the fake upstream and this process (the load
 * generator) on core 1, the gateway alone on core 0; the same load against the upstream
 * directly, through a bare node:http + undici pass-through (the floor of any Node.js proxy,
 * on the gateway's core) and through the gateway (twice: quiet logging, then access log on); then a
 * budgeted virtual key against the master key, on SQLite and on Redis (REDIS_URL, default
 * redis://127.0.0.1:6379; skipped when unreachable); then cache hits against misses through the
 * upstream, on SQLite (bench/cache.ts); then the MCP rows (bench/mcp.ts). Writes
 * bench/results/<date>.json and, for full runs, bench/results/latest.md. `--mcp` runs the MCP
 * rows alone and writes bench/results/<date>-mcp.json (and, for full runs, latest-mcp.md).
 * The tool search row (bench/toolsearch.ts, in process) ends every run; `--toolsearch` runs it alone
 * and only prints it. `--workers` runs `smartflow serve --workers 1` against `--workers 2`
 * (bench/workers.ts, nothing pinned) and writes bench/results/<date>-workers.md. `--stores` runs the
 * virtual-key rows alone, on SQLite, Redis, PostgreSQL and PostgreSQL + Redis (POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/test; a schema of their own), and writes bench/results/<date>-stores.md.
 */

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, '..');
const RESULTS_DIR = join(BENCH_DIR, 'results');

const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (!['--quick', '--cpu-prof', '--mcp', '--toolsearch', '--workers', '--stores'].includes(a)) {
    process.stderr.write(`unknown option ${a}; use --quick, --cpu-prof, --mcp, --toolsearch, --workers and/or --stores\n`);
    process.exit(2);
  }
}
const quick = args.has('--quick');
const cpuProf = args.has('--cpu-prof');
const mcpOnly = args.has('--mcp');
const durations = quick ? QUICK : FULL;
const mcpSizes = quick ? MCP_QUICK : MCP_FULL;

const log = (line: string) => process.stderr.write(`${line}\n`);

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The PostgreSQL the virtual-key rows use (a schema of their own, dropped afterwards). */
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// Cleanup that must happen however we leave: children killed (and gone) before their temp dirs are removed.
const tempDirs = new Set<string>();
function removeTempDirs(): void {
  for (const d of tempDirs) {
    try {
      rmSync(d, { recursive: true, force: true, maxRetries: 3 });
      tempDirs.delete(d);
    } catch (err) {
      log(`could not remove ${d}: ${String(err)}`);
    }
  }
}
// Key prefixes the Redis-backed gateway wrote under: deleted once its process is gone.
const redisPrefixes = new Set<string>();
async function flushRedisPrefixes(): Promise<void> {
  for (const prefix of redisPrefixes) {
    try {
      const n = await flushRedisPrefix(REDIS_URL, prefix);
      log(`deleted ${n} Redis keys under ${prefix}`);
      redisPrefixes.delete(prefix);
    } catch (err) {
      log(`could not delete the Redis keys under ${prefix}: ${String(err)}`);
    }
  }
}
async function cleanup(): Promise<void> {
  await killAllChildren();
  removeTempDirs();
  await flushRedisPrefixes();
}
process.on('exit', () => {
  killAllChildrenSync();
  removeTempDirs();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`\n${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

function targets(url: string, key: string): { json: HttpTarget; stream: HttpTarget } {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  return {
    json: { url, path: '/v1/chat/completions', headers, body: JSON.stringify(CHAT_BODY) },
    stream: { url, path: '/v1/chat/completions', headers, body: JSON.stringify({ ...CHAT_BODY, stream: true }) },
  };
}

function startChild(name: string, script: string, cpu: number | null, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<BenchChild> {
  return BenchChild.start({ name, script: join(BENCH_DIR, script), cpu, env, nodeArgs, cwd: REPO_ROOT });
}

function stopChild(child: BenchChild): Promise<void> {
  return child.stop();
}

interface GatewayScenario {
  name: string;
  description: string;
  level: GatewayProcessOptions['level'];
  accessLog: boolean;
}

const GATEWAY_SCENARIOS: GatewayScenario[] = [
  { name: 'gateway', description: 'gateway (warn, no access log)', level: 'warn', accessLog: false },
  { name: 'gateway-access-log', description: 'gateway (info + access log → /dev/null)', level: 'info', accessLog: true },
];

interface VkeyScenario {
  name: string;
  description: string;
  store: BenchStore;
}

const VKEY_SCENARIOS: VkeyScenario[] = [
  { name: 'vkey-sqlite', description: 'virtual key + budget, SQLite', store: 'sqlite' },
  { name: 'vkey-redis', description: 'virtual key + budget, Redis', store: 'redis' },
  { name: 'vkey-postgres', description: 'virtual key + budget, PostgreSQL', store: 'postgres' },
  { name: 'vkey-postgres-redis', description: 'virtual key + budget, PostgreSQL + Redis', store: 'postgres+redis' },
];

/** Renames the gateway's main-thread profile (tid 0) to `name`; drops the loader worker's. */
function keepMainThreadProfile(pid: number, name: string): void {
  const mine = readdirSync(RESULTS_DIR).filter((f) => f.startsWith('CPU.') && f.endsWith('.cpuprofile') && f.includes(`.${pid}.`));
  for (const f of mine) {
    if (new RegExp(`\\.${pid}\\.0\\.\\d+\\.cpuprofile$`).test(f)) renameSync(join(RESULTS_DIR, f), join(RESULTS_DIR, name));
    else rmSync(join(RESULTS_DIR, f), { force: true });
  }
  if (!existsSync(join(RESULTS_DIR, name))) log(`no main-thread profile found for pid ${pid}`);
}

/**
 * One gateway process (quiet logging, like the `gateway` column) on the given store; a budgeted
 * virtual key created through the admin API; then the master key and that key measured
 * alternately (scenario.ts runPairedScenario). Throws when the budget path did not really run.
 */
async function runVkeyScenario(
  s: VkeyScenario,
  upstream: BenchChild,
  stamp: string,
  taskset: boolean,
): Promise<VkeyScenarioResult | VkeyScenarioSkipped> {
  let redis: GatewayProcessOptions['redis'];
  let postgres: GatewayProcessOptions['postgres'];
  if (s.store !== 'sqlite' && s.store !== 'postgres') {
    const problem = await redisProblem(REDIS_URL);
    if (problem) {
      log(`${s.description}: skipped, Redis at ${redactedRedisUrl(REDIS_URL)} is not reachable (${problem})`);
      return { name: s.name, description: s.description, store: s.store, skipped: `Redis at ${redactedRedisUrl(REDIS_URL)} not reachable` };
    }
    redis = { url: REDIS_URL, prefix: `sf-bench-${randomUUID()}:` };
    redisPrefixes.add(redis.prefix);
  }
  if (s.store === 'postgres' || s.store === 'postgres+redis') {
    const problem = await postgresProblem(POSTGRES_URL);
    if (problem) {
      log(`${s.description}: skipped, PostgreSQL is not reachable (${problem})`);
      return { name: s.name, description: s.description, store: s.store, skipped: 'PostgreSQL not reachable (POSTGRES_URL)' };
    }
    postgres = { url: POSTGRES_URL, schema: `sf_bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`, ...(redis ? { redis } : {}) };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'smartflow-bench-'));
  tempDirs.add(dataDir);
  const options: GatewayProcessOptions = {
    upstreamUrl: upstream.url,
    dataDir,
    level: 'warn',
    accessLog: false,
    ...(postgres ? { postgres } : redis ? { redis } : {}),
  };
  const profile = cpuProf ? `${s.name}-${stamp}.cpuprofile` : undefined;
  const nodeArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', RESULTS_DIR] : [];
  const gw = await startChild(s.name, 'gateway-process.ts', taskset ? 0 : null, { [GATEWAY_OPTIONS_ENV]: JSON.stringify(options) }, nodeArgs);
  log(`${s.description}${redis ? ` (${redactedRedisUrl(redis.url)}, prefix ${redis.prefix})` : ''}: ${gw.url} (pid ${gw.pid})`);
  try {
    const { id, key } = await createBudgetedKey(gw.url, BENCH_MASTER_KEY);
    const master = targets(gw.url, BENCH_MASTER_KEY).json;
    const vkey = targets(gw.url, key).json;
    const r = await runPairedScenario(
      s.name,
      s.description,
      gw,
      upstream,
      { description: 'master key', json: master },
      { description: 'virtual key + budget', json: vkey },
      durations,
      () => checkBudgetPath(master, vkey),
      log,
    );
    const budgetAfter = await keyBudget(gw.url, BENCH_MASTER_KEY, id);
    checkBudgetAfter(budgetAfter, r.subjectRequestsSent);
    return { ...r, store: s.store, budgetAfter, ...(profile ? { profile } : {}) };
  } finally {
    await stopChild(gw);
    rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
    if (profile) keepMainThreadProfile(gw.pid, profile);
    await flushRedisPrefixes();
    if (postgres) await dropPostgresSchema(POSTGRES_URL, postgres.schema).catch((err: unknown) => log(`could not drop schema ${postgres.schema}: ${String(err)}`));
  }
}

const CACHE_DESCRIPTION = 'response cache: hit vs miss, SQLite';

/**
 * One gateway process (quiet logging) with caching on for the bench model and a second, uncached
 * name for it; cache hits and misses measured alternately (bench/cache.ts). Throws when the hit
 * load was not answered from the cache.
 */
async function runCacheRows(upstream: BenchChild, stamp: string, taskset: boolean): Promise<CacheScenarioResult> {
  const name = 'cache';
  const dataDir = mkdtempSync(join(tmpdir(), 'smartflow-bench-'));
  tempDirs.add(dataDir);
  const options: GatewayProcessOptions = { upstreamUrl: upstream.url, dataDir, level: 'warn', accessLog: false, ...CACHE_GATEWAY_OPTIONS };
  const profile = cpuProf ? `${name}-${stamp}.cpuprofile` : undefined;
  const nodeArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', RESULTS_DIR] : [];
  const gw = await startChild(name, 'gateway-process.ts', taskset ? 0 : null, { [GATEWAY_OPTIONS_ENV]: JSON.stringify(options) }, nodeArgs);
  log(`${CACHE_DESCRIPTION}: ${gw.url} (pid ${gw.pid})`);
  try {
    const r = await runCacheScenario(name, CACHE_DESCRIPTION, gw, upstream, targets(gw.url, BENCH_MASTER_KEY).json, BENCH_MASTER_KEY, durations, log);
    return profile ? { ...r, profile } : r;
  } finally {
    await stopChild(gw);
    rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
    if (profile) keepMainThreadProfile(gw.pid, profile);
  }
}

/**
 * One gateway process (quiet logging, SQLite) whose config registers server-everything over
 * Streamable HTTP (a child pinned like the fake upstream) and over STDIO, and the bench's
 * 1,000-tool STDIO server; then the MCP rows (bench/mcp.ts).
 */
async function runMcpRows(stamp: string, taskset: boolean): Promise<McpScenarioResult> {
  const everything = await startEverythingHttp(REPO_ROOT, taskset ? 1 : null);
  const dataDir = mkdtempSync(join(tmpdir(), 'smartflow-bench-'));
  tempDirs.add(dataDir);
  // No LLM upstream is used here; the config only needs a provider URL.
  const options: GatewayProcessOptions = { upstreamUrl: 'http://127.0.0.1:9', dataDir, level: 'warn', accessLog: false, mcpServers: mcpGatewayServers(REPO_ROOT, everything.url) };
  const profile = cpuProf ? `mcp-${stamp}.cpuprofile` : undefined;
  const nodeArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', RESULTS_DIR] : [];
  let gw: BenchChild | undefined;
  try {
    gw = await startChild('mcp', 'gateway-process.ts', taskset ? 0 : null, { [GATEWAY_OPTIONS_ENV]: JSON.stringify(options) }, nodeArgs);
    log(`${MCP_DESCRIPTION}: ${gw.url} (pid ${gw.pid}); server-everything over Streamable HTTP at ${everything.url}`);
    const r = await runMcpScenario(gw, everything.url, REPO_ROOT, mcpSizes, log);
    return profile ? { ...r, profile } : r;
  } finally {
    if (gw) await stopChild(gw);
    await everything.stop();
    rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
    if (profile && gw) keepMainThreadProfile(gw.pid, profile);
  }
}

/** `--mcp`: the MCP rows alone, with their own results file. */
async function mainMcpOnly(date: Date, revision: string, stamp: string, taskset: boolean, pinning: string): Promise<void> {
  const mcp = await runMcpRows(stamp, taskset);
  const head = `# Smartflow benchmark: MCP rows — ${date.toISOString()}\n\nCommit ${revision} · Node ${process.version} · ${cpuModel()} · ${cpus().length} cores · ${pinning}${quick ? ' · **quick smoke run (numbers not meaningful)**' : ''}${cpuProf ? ' · **--cpu-prof on (gateway numbers inflated by the profiler)**' : ''}\n\n`;
  const markdown = head + renderMcp(mcp);
  process.stdout.write(`\n${markdown}\n`);
  const suffix = quick ? '-mcp-quick' : cpuProf ? '-mcp-cpu-prof' : '-mcp';
  const jsonPath = join(RESULTS_DIR, `${stamp}${suffix}.json`);
  writeFileSync(jsonPath, `${JSON.stringify({ info: { date: date.toISOString(), revision, node: process.version, cpuModel: cpuModel(), cores: cpus().length, taskset, pinning, quick, cpuProf }, mcp }, null, 2)}\n`);
  log(`wrote ${jsonPath}`);
  if (!quick && !cpuProf) {
    writeFileSync(join(RESULTS_DIR, 'latest-mcp.md'), markdown);
    log(`wrote ${join(RESULTS_DIR, 'latest-mcp.md')}`);
  }
  if (mcp.profile) log(`gateway profile: ${join(RESULTS_DIR, mcp.profile)}`);
}

/** `--stores`: the virtual-key rows alone, one gateway process per store, with their own results file. */
async function mainStoresOnly(date: Date, revision: string, stamp: string, taskset: boolean, pinning: string): Promise<void> {
  const upstream = await startChild('fake upstream', 'fake-upstream.ts', taskset ? 1 : null);
  const vkeys: Array<VkeyScenarioResult | VkeyScenarioSkipped> = [];
  try {
    for (const s of VKEY_SCENARIOS) vkeys.push(await runVkeyScenario(s, upstream, stamp, taskset));
  } finally {
    await stopChild(upstream);
  }
  const info: RunInfo = { date: date.toISOString(), revision, node: process.version, cpuModel: cpuModel(), cores: cpus().length, taskset, pinning, quick, cpuProf, durations: { ...durations } };
  const head = `# Smartflow benchmark: stores — ${date.toISOString()}\n\nCommit ${revision} · Node ${process.version} · ${cpuModel()} · ${cpus().length} cores · ${pinning}${quick ? ' · **quick smoke run (numbers not meaningful)**' : ''}\n\n`;
  const markdown = head + renderVkeys(info, undefined, vkeys).join('\n');
  process.stdout.write(`\n${markdown}\n`);
  const path = join(RESULTS_DIR, `${stamp}-stores${quick ? '-quick' : ''}.md`);
  writeFileSync(path, markdown);
  log(`wrote ${path}`);
}

async function main(): Promise<void> {
  const date = new Date();
  const revision = gitRevision(REPO_ROOT);
  const stamp = date.toISOString().replace(/[:.]/g, '-');
  if (args.has('--workers')) {
    mkdirSync(RESULTS_DIR, { recursive: true });
    const head = `# Smartflow benchmark: --workers — ${date.toISOString()}\n\nCommit ${revision} · Node ${process.version} · ${cpuModel()} · ${cpus().length} cores\n\n`;
    const markdown = head + renderWorkers(await runWorkersBench(REPO_ROOT, JSON.stringify(CHAT_BODY), log));
    process.stdout.write(`\n${markdown}\n`);
    writeFileSync(join(RESULTS_DIR, `${stamp}-workers.md`), markdown);
    return;
  }
  const taskset = tasksetAvailable();
  const selfPinned = taskset && pinSelf(1);
  const pinning = taskset ? `taskset: gateway and bare pass-through on core 0; upstream${selfPinned ? ' and load generator' : ''} on core 1` : 'taskset unavailable: nothing pinned';
  log(`smartflow bench${quick ? ' (quick)' : ''}${cpuProf ? ' (cpu-prof)' : ''}: ${pinning}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (mcpOnly) return mainMcpOnly(date, revision, stamp, taskset, pinning);
  if (args.has('--toolsearch')) {
    process.stdout.write(`\n${renderToolSearch(await runToolSearchBench(log))}\n`);
    return;
  }
  if (args.has('--stores')) return mainStoresOnly(date, revision, stamp, taskset, pinning);

  const upstream = await startChild('fake upstream', 'fake-upstream.ts', taskset ? 1 : null);
  log(`fake upstream ${upstream.url} (pid ${upstream.pid})`);

  log('direct to the upstream');
  const d = targets(upstream.url, 'sk-bench-upstream');
  const direct = await runScenario('direct', 'direct upstream', upstream, null, d.json, d.stream, durations, log);

  // Same upstream code on the gateway's core: a baseline whose round trip crosses cores, as the gateway's legs do.
  const extraBaselines: ScenarioResult[] = [];
  if (taskset) {
    const crossCore = await startChild('fake upstream (core 0)', 'fake-upstream.ts', 0);
    log(`direct to an upstream on core 0 (cross-core): ${crossCore.url} (pid ${crossCore.pid})`);
    try {
      const c = targets(crossCore.url, 'sk-bench-upstream');
      extraBaselines.push(await runScenario('direct-cross-core', 'direct upstream, cross-core', crossCore, null, c.json, c.stream, durations, log));
    } finally {
      await stopChild(crossCore);
    }
  }

  // The floor: a bare node:http + undici pass-through, alone on the gateway's core, measured the same way.
  const pt = await startChild('bare pass-through', 'passthrough-process.ts', taskset ? 0 : null, { [PASSTHROUGH_UPSTREAM_ENV]: upstream.url });
  log(`bare pass-through (node:http + undici Pool): ${pt.url} (pid ${pt.pid})`);
  let passthrough: ScenarioResult;
  try {
    const p = targets(pt.url, BENCH_MASTER_KEY);
    passthrough = await runScenario('passthrough', 'bare pass-through', pt, upstream, p.json, p.stream, durations, log);
  } finally {
    await stopChild(pt);
  }

  const gateways: Array<ScenarioResult & { profile?: string }> = [];
  for (const s of GATEWAY_SCENARIOS) {
    const dataDir = mkdtempSync(join(tmpdir(), 'smartflow-bench-'));
    tempDirs.add(dataDir);
    const options: GatewayProcessOptions = { upstreamUrl: upstream.url, dataDir, level: s.level, accessLog: s.accessLog };
    const profile = cpuProf ? `${s.name}-${stamp}.cpuprofile` : undefined;
    // Default file names (CPU.<date>.<time>.<pid>.<tid>.<seq>): each thread writes its own, and
    // tsx's loader runs on a worker thread, so a fixed --cpu-prof-name would be overwritten by it.
    const nodeArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', RESULTS_DIR] : [];
    const gw = await startChild(s.name, 'gateway-process.ts', taskset ? 0 : null, { [GATEWAY_OPTIONS_ENV]: JSON.stringify(options) }, nodeArgs);
    log(`${s.description}: ${gw.url} (pid ${gw.pid})`);
    try {
      const t = targets(gw.url, BENCH_MASTER_KEY);
      const r = await runScenario(s.name, s.description, gw, upstream, t.json, t.stream, durations, log);
      gateways.push(profile ? { ...r, profile } : r);
    } finally {
      await stopChild(gw);
      rmSync(dataDir, { recursive: true, force: true });
      tempDirs.delete(dataDir);
      if (profile) keepMainThreadProfile(gw.pid, profile);
    }
  }

  // Virtual key + budget, against the master key in the same process. A scenario that fails is
  // reported as such and fails the run once the results are written (the cache rows likewise).
  const vkeys: Array<VkeyScenarioResult | VkeyScenarioSkipped> = [];
  const rowFailures: string[] = [];
  for (const s of VKEY_SCENARIOS) {
    try {
      vkeys.push(await runVkeyScenario(s, upstream, stamp, taskset));
    } catch (err) {
      const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      log(`${s.description} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      rowFailures.push(`${s.description}: ${message}`);
      vkeys.push({ name: s.name, description: s.description, store: s.store, skipped: `failed (${message})` });
    }
  }

  // Response cache: hits against misses through the upstream, in one process.
  let cache: CacheScenarioResult | CacheScenarioSkipped;
  try {
    cache = await runCacheRows(upstream, stamp, taskset);
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    log(`${CACHE_DESCRIPTION} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    rowFailures.push(`${CACHE_DESCRIPTION}: ${message}`);
    cache = { name: 'cache', description: CACHE_DESCRIPTION, skipped: `failed (${message})` };
  }
  await stopChild(upstream);

  let mcp: McpScenarioResult | McpScenarioSkipped;
  try {
    mcp = await runMcpRows(stamp, taskset);
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    log(`${MCP_DESCRIPTION} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    rowFailures.push(`${MCP_DESCRIPTION}: ${message}`);
    mcp = { name: 'mcp', description: MCP_DESCRIPTION, skipped: `failed (${message})` };
  }

  let toolsearch: ToolSearchBenchResult | null = null;
  try {
    toolsearch = await runToolSearchBench(log);
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    log(`${TOOLSEARCH_DESCRIPTION} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    rowFailures.push(`${TOOLSEARCH_DESCRIPTION}: ${message}`);
  }

  const info: RunInfo = {
    date: date.toISOString(),
    revision,
    node: process.version,
    cpuModel: cpuModel(),
    cores: cpus().length,
    taskset,
    pinning,
    quick,
    cpuProf,
    durations: { ...durations },
  };
  // The guardrails stage in process (bench/guardrails.ts): four guardrails on a 1 KB prompt.
  const guardrails = await runGuardrailBench(quick);
  if (guardrails.addedUs > guardrails.target) rowFailures.push(`guardrails: ${guardrails.addedUs} µs added, target ${guardrails.target} µs`);
  const markdown = `${renderMarkdown(info, direct, extraBaselines, passthrough, gateways, vkeys, cache)}\n${renderMcp(mcp)}${toolsearch ? `\n${renderToolSearch(toolsearch)}` : ''}\n${renderGuardrails(guardrails)}`;
  process.stdout.write(`\n${markdown}\n`);

  const suffix = quick ? '-quick' : cpuProf ? '-cpu-prof' : '';
  const jsonPath = join(RESULTS_DIR, `${stamp}${suffix}.json`);
  writeFileSync(jsonPath, `${JSON.stringify({ info, targets: TARGETS, body: CHAT_BODY, direct, extraBaselines, passthrough, gateways, vkeys, cache, mcp, toolsearch, guardrails }, null, 2)}\n`);
  log(`wrote ${jsonPath}`);
  // Smoke and profiled runs, and runs whose virtual-key or cache rows failed, do not replace the reference table.
  if (!quick && !cpuProf && rowFailures.length === 0) {
    writeFileSync(join(RESULTS_DIR, 'latest.md'), markdown);
    log(`wrote ${join(RESULTS_DIR, 'latest.md')}`);
  }

  if (cpuProf) {
    const profiled = [
      ...gateways.map((g) => ({ profile: g.profile, description: g.description, window: g.measuredWindow })),
      ...vkeys.flatMap((v) => ('skipped' in v ? [] : [{ profile: v.profile, description: `${v.description}: the virtual key's ${durations.rpsConnections}-connection block`, window: v.measuredWindow }])),
      ...('skipped' in cache ? [] : [{ profile: cache.profile, description: `${cache.description}: the hits' ${durations.rpsConnections}-connection block`, window: cache.measuredWindow }]),
    ];
    for (const g of profiled) {
      if (!g.profile) continue;
      const path = join(RESULTS_DIR, g.profile);
      try {
        const profile = JSON.parse(readFileSync(path, 'utf8')) as Parameters<typeof summariseProfile>[0];
        process.stdout.write(`\n## ${g.description}: ${g.profile}\n\n\`\`\`\n${summariseProfile(profile, { window: g.window, requests: g.window.requests })}\n\`\`\`\n`);
      } catch (err) {
        log(`could not read ${path}: ${String(err)}`);
      }
    }
  }
  if (rowFailures.length) throw new Error(`virtual-key, cache, MCP or tool search rows failed (results written without them):\n  ${rowFailures.join('\n  ')}`);
}

main().then(
  async () => {
    await cleanup();
    process.exit(0);
  },
  async (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanup();
    process.exit(1);
  },
);
