import type { ColumnResult } from './compare-measure.js';

/**
 * The pure half of `npm run bench:compare`: the ratios each Smartflow column is held to, their
 * pass/miss, their spread over several runs, and the markdown. No I/O, so it is unit-tested.
 */

export const COMPARE_TARGETS = {
  /** CPU per request at many connections, ÷ the floor's (default config, budgeted key, policies not matching). */
  cpuRatio: 1.4,
  /** The same with one PII guardrail matching a 1 KB prompt. */
  cpuRatioPii: 1.6,
  throughputVsPeer: 10,
  /** Added p50 (over direct, 1 connection) ÷ the peer's. */
  addedP50VsPeer: 1 / 3,
  addedP50OverFloorMs: 0.1,
  addedTtftOverFloorMs: 0.1,
  p99VsFloor: 2,
  rssIdleMiB: 90,
  rssLoadMiB: 160,
  rssAfterOverIdleMiB: 10,
};

export interface CompareRun {
  columns: ColumnResult[];
  /** Why the peer column is missing, when it is. */
  peerSkipped?: string;
}

export interface MachineInfo {
  date: string;
  revision: string;
  node: string;
  cpuModel: string;
  cores: number;
  pinning: string;
  /** /proc/loadavg when the run started: other work on the machine. */
  loadAverage: string;
  quick: boolean;
  peer: string;
}

const MIB = 1024 * 1024;

/** One target, computed for a Smartflow column of a run. */
export interface Check {
  id: string;
  label: string;
  target: string;
  value: (run: CompareRun, col: ColumnResult) => number;
  pass: (value: number, col: ColumnResult) => boolean;
  format: (value: number) => string;
}

export function column(run: CompareRun, name: string): ColumnResult | undefined {
  return run.columns.find((c) => c.name === name);
}

function floorOf(run: CompareRun, col: ColumnResult): ColumnResult | undefined {
  return column(run, col.floor ?? 'floor');
}

/** p50 at 1 connection minus another column's; NaN when that column is missing. */
export function addedP50(col: ColumnResult | undefined, base: ColumnResult | undefined): number {
  return col && base ? col.json1.latencyMs.p50 - base.json1.latencyMs.p50 : NaN;
}

export function addedTtft(col: ColumnResult | undefined, base: ColumnResult | undefined): number {
  return col?.ttft && base?.ttft ? col.ttft.firstChunkMs.p50 - base.ttft.firstChunkMs.p50 : NaN;
}

/** a ÷ b, NaN unless both are finite and b is positive. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN;
}

const times = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const signedMs = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}` : 'n/a');
const mib = (v: number) => (Number.isFinite(v) ? (v / MIB).toFixed(1) : 'n/a');
const us = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const pct = (v: number) => (Number.isFinite(v) ? `${Math.round(v * 100)}%` : 'n/a');

export const CHECKS: Check[] = [
  {
    id: 'cpu-vs-floor',
    label: 'CPU per request ÷ the floor\'s, many connections',
    target: `≤ ${COMPARE_TARGETS.cpuRatio}x (PII guardrail: ≤ ${COMPARE_TARGETS.cpuRatioPii}x)`,
    value: (run, col) => ratio(col.cpu.jsonN.usPerRequest, floorOf(run, col)?.cpu.jsonN.usPerRequest ?? NaN),
    pass: (v, col) => v <= (col.cpuRatioLimit ?? COMPARE_TARGETS.cpuRatio),
    format: times,
  },
  {
    id: 'throughput-vs-peer',
    label: 'requests/s ÷ the peer\'s, many connections',
    target: `≥ ${COMPARE_TARGETS.throughputVsPeer}x`,
    value: (run, col) => ratio(col.jsonN.rps, column(run, 'peer')?.jsonN.rps ?? NaN),
    pass: (v) => v >= COMPARE_TARGETS.throughputVsPeer,
    format: times,
  },
  {
    id: 'added-p50-vs-peer',
    label: 'added p50 over direct ÷ the peer\'s, 1 connection',
    target: '≤ 0.33x (a third)',
    value: (run, col) => ratio(addedP50(col, column(run, 'direct')), addedP50(column(run, 'peer'), column(run, 'direct'))),
    pass: (v) => v <= COMPARE_TARGETS.addedP50VsPeer,
    format: times,
  },
  {
    id: 'added-p50-over-floor',
    label: 'added p50 over the floor, 1 connection (ms)',
    target: `≤ +${COMPARE_TARGETS.addedP50OverFloorMs}`,
    value: (run, col) => addedP50(col, floorOf(run, col)),
    pass: (v) => v <= COMPARE_TARGETS.addedP50OverFloorMs,
    format: signedMs,
  },
  {
    id: 'added-ttft-over-floor',
    label: 'added time to first streamed chunk over the floor, p50 (ms)',
    target: `≤ +${COMPARE_TARGETS.addedTtftOverFloorMs}`,
    value: (run, col) => addedTtft(col, floorOf(run, col)),
    pass: (v) => v <= COMPARE_TARGETS.addedTtftOverFloorMs,
    format: signedMs,
  },
  {
    id: 'p99-vs-floor',
    label: 'p99 ÷ the floor\'s, many connections',
    target: `≤ ${COMPARE_TARGETS.p99VsFloor}x`,
    value: (run, col) => ratio(col.jsonN.latencyMs.p99, floorOf(run, col)?.jsonN.latencyMs.p99 ?? NaN),
    pass: (v) => v <= COMPARE_TARGETS.p99VsFloor,
    format: times,
  },
  {
    id: 'rss-idle',
    label: 'RSS idle (MiB)',
    target: `≤ ${COMPARE_TARGETS.rssIdleMiB}`,
    value: (_run, col) => col.memory.idleRssBytes / MIB,
    pass: (v) => v <= COMPARE_TARGETS.rssIdleMiB,
    format: (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a'),
  },
  {
    id: 'rss-load',
    label: 'RSS under load, polled peak (MiB)',
    target: `≤ ${COMPARE_TARGETS.rssLoadMiB}`,
    value: (_run, col) => col.memory.loadPeakRssBytes / MIB,
    pass: (v) => v <= COMPARE_TARGETS.rssLoadMiB,
    format: (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a'),
  },
  {
    id: 'rss-after',
    label: 'RSS after load − RSS idle (MiB)',
    target: `≤ +${COMPARE_TARGETS.rssAfterOverIdleMiB}`,
    value: (_run, col) => (col.memory.afterLoadRssBytes - col.memory.idleRssBytes) / MIB,
    pass: (v) => v <= COMPARE_TARGETS.rssAfterOverIdleMiB,
    format: (v) => (Number.isFinite(v) ? `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}` : 'n/a'),
  },
];

export type Verdict = 'pass' | 'miss' | 'n/a';

export function verdictOf(check: Check, value: number, col: ColumnResult): Verdict {
  if (!Number.isFinite(value)) return 'n/a';
  return check.pass(value, col) ? 'pass' : 'miss';
}

export interface Spread {
  check: string;
  column: string;
  min: number;
  max: number;
  values: number[];
  passes: number;
  runs: number;
}

/** Each check's run-to-run spread per Smartflow column (NaN values, e.g. a run without the peer, left out). */
export function spreadOver(runs: CompareRun[]): Spread[] {
  const names = [...new Set(runs.flatMap((r) => r.columns.filter((c) => c.kind === 'smartflow').map((c) => c.name)))];
  const out: Spread[] = [];
  for (const check of CHECKS) {
    for (const name of names) {
      const values: number[] = [];
      let passes = 0;
      for (const run of runs) {
        const col = column(run, name);
        if (!col) continue;
        const v = check.value(run, col);
        if (!Number.isFinite(v)) continue;
        values.push(v);
        if (check.pass(v, col)) passes++;
      }
      out.push({ check: check.id, column: name, min: values.length ? Math.min(...values) : NaN, max: values.length ? Math.max(...values) : NaN, values, passes, runs: values.length });
    }
  }
  return out;
}

/** The run whose default-config CPU ratio is the median: the one whose full table is shown. */
export function representativeRun(runs: CompareRun[]): number {
  const keyed = runs.map((run, i) => {
    const col = column(run, 'smartflow-default');
    return { i, v: col ? CHECKS[0]!.value(run, col) : NaN };
  });
  const finite = keyed.filter((k) => Number.isFinite(k.v)).sort((a, b) => a.v - b.v);
  return finite.length ? finite[Math.floor((finite.length - 1) / 2)]!.i : runs.length - 1;
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** The main table: one row per configuration, as the issue shows it. */
export function renderColumns(run: CompareRun, n: number): string[] {
  const header = [
    'configuration',
    `CPU per request, ${n} conn (µs)`,
    '÷ floor',
    `req/s, ${n} conn`,
    'p50 / p99, 1 conn (ms)',
    'added p50 over floor, 1 conn (ms)',
    `p50 / p99, ${n} conn (ms)`,
    'first streamed chunk p50 (ms)',
    'added over floor (ms)',
    `streamed: CPU per request (µs) / req/s, ${n} conn`,
    'RSS idle / load / 3 s after (MiB)',
    `other core busy, ${n} conn`,
  ];
  const rows = run.columns.map((c) => {
    const f = column(run, c.floor ?? 'floor');
    const proxied = c.kind !== 'direct';
    const isFloor = c.kind === 'floor';
    const otherCore = c.otherCore.loadGenerator.utilisation + (c.otherCore.upstream?.utilisation ?? (c.kind === 'direct' ? c.cpu.jsonN.utilisation : 0));
    const label = c.kind === 'smartflow' ? `**${c.description}**` : c.description;
    return [
      label,
      us(c.cpu.jsonN.usPerRequest),
      proxied && !isFloor ? times(ratio(c.cpu.jsonN.usPerRequest, f?.cpu.jsonN.usPerRequest ?? NaN)) : '–',
      int(c.jsonN.rps),
      `${ms(c.json1.latencyMs.p50)} / ${ms(c.json1.latencyMs.p99)}`,
      proxied && !isFloor ? signedMs(addedP50(c, f)) : '–',
      `${ms(c.jsonN.latencyMs.p50)} / ${ms(c.jsonN.latencyMs.p99)}`,
      c.ttft ? ms(c.ttft.firstChunkMs.p50) : 'n/a',
      proxied && !isFloor ? signedMs(addedTtft(c, f)) : '–',
      c.streamN && c.cpu.streamN ? `${us(c.cpu.streamN.usPerRequest)} / ${int(c.streamN.rps)}` : 'n/a',
      `${mib(c.memory.idleRssBytes)} / ${mib(c.memory.loadPeakRssBytes)} / ${mib(c.memory.afterLoadRssBytes)}`,
      pct(otherCore),
    ];
  });
  return table(header, rows);
}

/** Targets × Smartflow columns: the value and pass/miss in this run. */
export function renderChecks(run: CompareRun): string[] {
  const cols = run.columns.filter((c) => c.kind === 'smartflow');
  const header = ['target', 'limit', ...cols.map((c) => c.description)];
  const rows = CHECKS.map((check) => [
    check.label,
    check.target,
    ...cols.map((c) => {
      const v = check.value(run, c);
      const verdict = verdictOf(check, v, c);
      return `${check.format(v)} ${verdict === 'miss' ? '**miss**' : verdict}`;
    }),
  ]);
  return table(header, rows);
}

/** Targets × Smartflow columns over all runs: min–max and how many runs passed. */
export function renderSpread(runs: CompareRun[]): string[] {
  const spreads = spreadOver(runs);
  const names = [...new Set(spreads.map((s) => s.column))];
  const descriptions = new Map(runs.flatMap((r) => r.columns).map((c) => [c.name, c.description]));
  const header = ['target', 'limit', ...names.map((n) => descriptions.get(n) ?? n)];
  const rows = CHECKS.map((check) => [
    check.label,
    check.target,
    ...names.map((n) => {
      const s = spreads.find((x) => x.check === check.id && x.column === n);
      if (!s || s.runs === 0) return 'n/a';
      const range = s.runs === 1 ? check.format(s.min) : `${check.format(s.min)} – ${check.format(s.max)}`;
      return `${range} (${s.passes}/${s.runs} pass)`;
    }),
  ]);
  return table(header, rows);
}
