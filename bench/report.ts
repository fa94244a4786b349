import type { ScenarioResult } from './scenario.js';

/** Targets the gateway is held to. */
export const TARGETS = {
  cpuPerRequestUs: 100,
  addedP50LatencyMs: 0.3,
  addedTtftMs: 0.3,
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
export function renderMarkdown(info: RunInfo, direct: ScenarioResult, extraBaselines: ScenarioResult[], passthrough: ScenarioResult, gateways: ScenarioResult[]): string {
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
  ];
  return lines.join('\n');
}
