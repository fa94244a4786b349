import { CACHE_HIT_CPU_RATIO_OF_MISS, renderCache, type CacheScenarioResult, type CacheScenarioSkipped } from './cache.js';
import type { KeyedLoad, ScenarioResult } from './scenario.js';
import { BENCH_KEY_BUDGET, BENCH_STORE_NAMES, type BenchStore, type VkeyScenarioResult, type VkeyScenarioSkipped } from './vkeys.js';

/** Targets the gateway is held to. */
export const TARGETS = {
  cpuPerRequestUs: 100,
  addedP50LatencyMs: 0.3,
  addedTtftMs: 0.3,
  /** CPU per request on PostgreSQL (alone or with Redis in front) ÷ the Redis store's, same run (issue 18). */
  postgresVsRedis: 1.1,
  /** CPU a virtual key with a budget may add to the master key's figure, SQLite store, many connections. */
  vkeyAddedCpuUsSqlite: 40,
  /** A cache hit's CPU per request below this fraction of a miss's through the fast upstream (same process, 1 and many connections). */
  cacheHitCpuRatioOfMiss: CACHE_HIT_CPU_RATIO_OF_MISS,
};

export interface RunInfo {
  date: string;
  /** git commit measured. */
  revision: string;
  node: string;
  cpuModel: string;
  cores: number;
  taskset: boolean;
  pinning: string;
  quick: boolean;
  cpuProf: boolean;
  durations: Record<string, number>;
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const us = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const pct = (v: number) => (Number.isFinite(v) ? `${Math.round(v * 100)}%` : 'n/a');
const mib = (b: number | undefined) => (b !== undefined && Number.isFinite(b) ? (b / 1024 / 1024).toFixed(1) : 'n/a');
const verdict = (ok: boolean) => (ok ? 'pass' : '**miss**');

/**
 * The markdown report: one column per scenario (direct baselines, the bare pass-through, the
 * gateways), targets and pass/miss (one verdict per gateway column, in column order; the
 * pass-through is a reference, not held to the targets).
 */
export function renderMarkdown(
  info: RunInfo,
  direct: ScenarioResult,
  extraBaselines: ScenarioResult[],
  passthrough: ScenarioResult,
  gateways: ScenarioResult[],
  vkeys: Array<VkeyScenarioResult | VkeyScenarioSkipped> = [],
  cache?: CacheScenarioResult | CacheScenarioSkipped,
): string {
  const cols = [direct, ...extraBaselines, passthrough, ...gateways];
  const isProxied = new Set([passthrough, ...gateways]);
  const rows: string[][] = [];
  const row = (metric: string, cell: (r: ScenarioResult, isBaseline: boolean) => string, target = '', check?: (g: ScenarioResult) => boolean) => {
    rows.push([metric, ...cols.map((r) => cell(r, !isProxied.has(r))), target, check ? gateways.map((g) => verdict(check(g))).join(' · ') : '']);
  };
  // "Added" rows: filled for the pass-through and the gateways, against the same-core direct column.
  const gwOnly = (f: (r: ScenarioResult) => string) => (r: ScenarioResult, isBaseline: boolean) => (isBaseline ? '–' : f(r));
  const addedP50 = (g: ScenarioResult) => g.latency.latencyMs.p50 - direct.latency.latencyMs.p50;
  const addedTtft = (g: ScenarioResult) => g.ttft.firstChunkMs.p50 - direct.ttft.firstChunkMs.p50;
  const n = direct.rps.connections;

  row('p50 latency, 1 connection (ms)', (r) => ms(r.latency.latencyMs.p50));
  row('p99 latency, 1 connection (ms)', (r) => ms(r.latency.latencyMs.p99));
  row('**added p50 latency, 1 connection (ms)**', gwOnly((g) => ms(addedP50(g))), `≤ ${TARGETS.addedP50LatencyMs}`, (g) => addedP50(g) <= TARGETS.addedP50LatencyMs);
  row('added p99 latency, 1 connection (ms)', gwOnly((g) => ms(g.latency.latencyMs.p99 - direct.latency.latencyMs.p99)));
  row(`throughput, ${n} connections (req/s)`, (r) => int(r.rps.rps));
  row(`p50 / p99 latency, ${n} connections (ms)`, (r) => `${ms(r.rps.latencyMs.p50)} / ${ms(r.rps.latencyMs.p99)}`);
  row('**CPU per request, 1 connection (µs)**', (r) => us(r.cpu.latency.target.usPerRequest), `≤ ${TARGETS.cpuPerRequestUs}`, (g) => g.cpu.latency.target.usPerRequest <= TARGETS.cpuPerRequestUs);
  row(`**CPU per request, ${n} connections (µs)**`, (r) => us(r.cpu.rps.target.usPerRequest), `≤ ${TARGETS.cpuPerRequestUs}`, (g) => g.cpu.rps.target.usPerRequest <= TARGETS.cpuPerRequestUs);
  row(`target process core busy, ${n} connections`, (r) => pct(r.cpu.rps.target.utilisation));
  row(`upstream CPU per request, ${n} connections (µs)`, (r) => us(r.cpu.rps.upstream?.usPerRequest ?? r.cpu.rps.target.usPerRequest));
  row(`load generator core busy, ${n} connections`, (r) => pct(r.cpu.rps.loadGenerator.utilisation));
  row('CPU per streamed request (µs)', (r) => us(r.cpu.ttft.target.usPerRequest));
  row('first stream chunk p50 (ms)', (r) => ms(r.ttft.firstChunkMs.p50));
  row('first stream chunk p99 (ms)', (r) => ms(r.ttft.firstChunkMs.p99));
  row('**added time to first chunk, p50 (ms)**', gwOnly((g) => ms(addedTtft(g))), `≤ ${TARGETS.addedTtftMs}`, (g) => addedTtft(g) <= TARGETS.addedTtftMs);
  row('added time to first chunk, p99 (ms)', gwOnly((g) => ms(g.ttft.firstChunkMs.p99 - direct.ttft.firstChunkMs.p99)));
  row('whole stream p50 (ms)', (r) => ms(r.ttft.totalMs.p50));
  row('RSS after start, no requests (MiB)', (r) => mib(r.memory?.startRssBytes));
  row('RSS after warm-up (MiB)', (r) => mib(r.memory?.afterWarmupRssBytes));
  row('RSS peak: polled every 100 ms / VmHWM (MiB)', (r) => `${mib(r.memory?.peakPolledRssBytes)} / ${mib(r.memory?.hwmBytes)}`);
  row(`RSS ${info.durations.afterLoadWaitMs! / 1000} s after load (MiB)`, (r) => mib(r.memory?.afterLoadRssBytes));
  row('idle CPU after load (µs/s)', (r) => us(r.cpu.idleAfterLoadUsPerS));

  const header = ['metric', ...cols.map((c) => c.description), 'target', 'pass/miss'];
  const lines = [
    `# Smartflow benchmark — ${info.date}`,
    '',
    `Commit ${info.revision} · Node ${info.node} · ${info.cpuModel} · ${info.cores} cores · ${info.pinning}${info.quick ? ' · **quick smoke run (numbers not meaningful)**' : ''}${info.cpuProf ? ' · **--cpu-prof on (gateway numbers inflated by the profiler)**' : ''}`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    ...(extraBaselines.length
      ? [
          'The cross-core baseline runs the same upstream on core 0 (where the gateway runs otherwise), so each round trip crosses cores as the two legs through the gateway do; it shows how much of the added latency is the wake-up of the other core rather than gateway work. "Added" is always against the same-core direct column.',
          '',
        ]
      : []),
    'The bare pass-through is about 20 lines of node:http + undici `Pool` (bench/passthrough-process.ts: request body piped to the upstream unchanged, status and content-type copied, response streamed back; no validation, auth, logging or metrics), pinned to the gateway\'s core and measured the same way: the floor any Node.js proxy pays on this machine. It gets no pass/miss verdict; the gap between it and a gateway column is the gateway\'s own work.',
    '',
    `Non-streaming \`POST /v1/chat/completions\` (~300-byte body: system + user message). Latency percentiles are computed from every response's own timing (autocannon's built-in percentiles are whole milliseconds). "Added" = pass-through or gateway − direct. pass/miss lists one verdict per gateway column, in column order. CPU per request = the process's own \`process.cpuUsage()\` delta over the phase ÷ responses. Phases: warm-up ${info.durations.warmupS} s at ${n} connections + ${info.durations.ttftWarmup} streams, 1 connection ${info.durations.latencyS} s, ${n} connections ${info.durations.rpsS} s, ${info.durations.ttftRequests} sequential streams.`,
    '',
    ...(vkeys.length ? renderVkeys(info, gateways.find((g) => g.name === 'gateway') ?? gateways[0], vkeys) : []),
    ...(cache ? renderCache(info.durations, cache, gateways.find((g) => g.name === 'gateway') ?? gateways[0]) : []),
  ];
  return lines.join('\n');
}

const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}` : 'n/a');

/**
 * The virtual-key rows: per store, the master key and a budgeted virtual key measured
 * alternately in one gateway process, and what the key adds to the master key's CPU per request
 * (in that process, and against the master-key gateway column of the main table).
 */
export function renderVkeys(info: RunInfo, masterColumn: ScenarioResult | undefined, vkeys: Array<VkeyScenarioResult | VkeyScenarioSkipped>): string[] {
  const n = masterColumn?.rps.connections ?? info.durations.rpsConnections ?? 32;
  const header = [
    'configuration',
    'CPU per request, 1 connection (µs)',
    `CPU per request, ${n} connections (µs)`,
    `**added CPU per request, ${n} connections, vs the master key in the same process (µs)**`,
    `added CPU per request, ${n} connections, vs the master-key gateway column above (µs)`,
    'added CPU per request, 1 connection, vs the master key in the same process (µs)',
    'p50 latency, 1 connection (ms)',
    `throughput, ${n} connections (req/s)`,
    'target',
    'pass/miss',
  ];
  const rows: string[][] = [];
  if (masterColumn) {
    rows.push([
      'master key, SQLite: the gateway (warn) column above',
      us(masterColumn.cpu.latency.target.usPerRequest),
      us(masterColumn.cpu.rps.target.usPerRequest),
      '–',
      '–',
      '–',
      ms(masterColumn.latency.latencyMs.p50),
      int(masterColumn.rps.rps),
      '',
      '',
    ]);
  }
  const storeName = (s: BenchStore) => BENCH_STORE_NAMES[s];
  const cells = (k: { latency: KeyedLoad; rps: KeyedLoad }) => [us(k.latency.cpu.target.usPerRequest), us(k.rps.cpu.target.usPerRequest)];
  const notes: string[] = [];
  for (const v of vkeys) {
    if ('skipped' in v) {
      rows.push([`**virtual key + budget, ${storeName(v.store)}**`, `skipped: ${v.skipped}`, '', '', '', '', '', '', '', '']);
      continue;
    }
    const store = storeName(v.store);
    const ref = v.reference;
    const sub = v.subject;
    const paired = sub.rps.cpu.target.usPerRequest - ref.rps.cpu.target.usPerRequest;
    const vsColumn = masterColumn ? sub.rps.cpu.target.usPerRequest - masterColumn.cpu.rps.target.usPerRequest : NaN;
    const pairedOne = sub.latency.cpu.target.usPerRequest - ref.latency.cpu.target.usPerRequest;
    rows.push([`master key, ${store} (same process as the next row)`, ...cells(ref), '–', '–', '–', ms(ref.latency.load.latencyMs.p50), int(ref.rps.load.rps), '', '']);
    const held = v.store === 'sqlite';
    const limit = TARGETS.vkeyAddedCpuUsSqlite;
    rows.push([
      `**virtual key + ${v.budgetAfter.budget_period} budget, ${store}**`,
      ...cells(sub),
      `**${signed(paired)}**`,
      signed(vsColumn),
      signed(pairedOne),
      ms(sub.latency.load.latencyMs.p50),
      int(sub.rps.load.rps),
      held ? `≤ +${limit} (same process · vs column above)` : '',
      held ? `${verdict(paired <= limit)} · ${masterColumn ? verdict(vsColumn <= limit) : 'n/a'}` : '',
    ]);
    const failures = [ref.latency, ref.rps, sub.latency, sub.rps].reduce((a, k) => a + k.load.non2xx + k.load.errors + k.load.timeouts, 0);
    if (failures) notes.push(`**${v.description}: ${failures} requests were refused, failed or timed out; its CPU figures are not those of answered requests.**`);
    notes.push(
      `${store}: after the run the key had spent $${v.budgetAfter.spent.toFixed(6)} for the ${int(v.subjectRequestsSent)} answers counted (plus up to ${n} per load run still in flight when it stopped, served but not counted), with $${v.budgetAfter.reserved} still reserved.`,
    );
  }
  const redisRow = vkeys.find((v): v is VkeyScenarioResult => !('skipped' in v) && v.store === 'redis');
  for (const v of vkeys) {
    if ('skipped' in v || !redisRow || (v.store !== 'postgres' && v.store !== 'postgres+redis')) continue;
    const ratio = (mine: KeyedLoad, theirs: KeyedLoad) => mine.cpu.target.usPerRequest / theirs.cpu.target.usPerRequest;
    const master = ratio(v.reference.rps, redisRow.reference.rps);
    const keyed = ratio(v.subject.rps, redisRow.subject.rps);
    const limit = TARGETS.postgresVsRedis;
    notes.push(
      `${storeName(v.store)} against Redis, CPU per request at ${n} connections (target ≤ ${limit.toFixed(2)}×): master key ${master.toFixed(2)}× ${verdict(master <= limit)}, virtual key + budget ${keyed.toFixed(2)}× ${verdict(keyed <= limit)}.`,
    );
  }
  return [
    '## Virtual key with a budget',
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `The same non-streaming request with \`Authorization: Bearer sk-sf-...\`: a virtual key created through \`POST /api/enterprise/vkeys\` with a $${int(BENCH_KEY_BUDGET.max_budget)} ${BENCH_KEY_BUDGET.budget_period} budget, so each request authenticates the key (cached lookup), reserves its worst-case cost in one atomic guarded increment before the provider call and settles to the actual cost after it. The model has a price (the built-in catalogue's gpt-4o-mini), so the reservation is real money; the run never comes near the budget. Each store gets its own gateway process (log level warn, no access log, like the gateway column above; Redis: a local server, unpinned, under a per-run key prefix deleted afterwards). In it the master key and the virtual key are measured alternately per phase (master half the time, virtual key the whole time, master the other half), warm-up ${info.durations.warmupS} s at ${n} connections for each key first, so "vs the master key in the same process" compares two loads on the same process and store a few seconds apart. "vs the master-key gateway column above" compares with another process measured earlier, so it also carries the run-to-run variation of this VM (about ±15 % between runs). The ≤ +${TARGETS.vkeyAddedCpuUsSqlite} µs target is SQLite's, at ${n} connections; both comparisons get a verdict. CPU per request is the gateway's only: Redis's own CPU is not counted.`,
    '',
    ...notes.flatMap((line) => [line, '']),
  ];
}
