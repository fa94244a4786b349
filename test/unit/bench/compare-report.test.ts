import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ColumnResult } from '../../../bench/compare-measure.js';
import { CHECKS, ratio, renderChecks, renderSpread, representativeRun, spreadOver, verdictOf, type CompareRun } from '../../../bench/compare-report.js';
import type { LoadResult } from '../../../bench/measure.js';
import { parseStatCpuTicks, parseStatusMemory } from '../../../bench/proc-stats.js';

const MIB = 1024 * 1024;

function load(rps: number, p50: number, p99: number): LoadResult {
  const latencyMs = { samples: 100, mean: p50, p50, p90: p99, p99, max: p99 };
  return { connections: 64, durationS: 10, responses: rps * 10, non2xx: 0, errors: 0, timeouts: 0, rps, latencyMs, autocannonLatency: { p50: 0, p99: 0 } };
}

interface Shape {
  cpuUs: number;
  rps: number;
  p50: number;
  p99N: number;
  ttft: number | null;
  rssMiB?: [number, number, number];
}

function col(name: string, kind: ColumnResult['kind'], s: Shape, extra: Partial<ColumnResult> = {}): ColumnResult {
  const cpu = (usPerRequest: number) => ({ cpuUs: 0, wallUs: 1, utilisation: 0.5, usPerRequest });
  const [idle, peak, after] = s.rssMiB ?? [80, 120, 85];
  return {
    name,
    description: name,
    kind,
    json1: load(1000, s.p50, s.p50 * 2),
    jsonN: load(s.rps, s.p50 * 10, s.p99N),
    streamN: null,
    ttft: s.ttft === null ? null : { requests: 10, failures: 0, firstChunkMs: { samples: 10, mean: s.ttft, p50: s.ttft, p90: s.ttft, p99: s.ttft, max: s.ttft }, totalMs: { samples: 10, mean: 1, p50: 1, p90: 1, p99: 1, max: 1 } },
    cpu: { json1: cpu(s.cpuUs), jsonN: cpu(s.cpuUs), streamN: null, ttft: null },
    otherCore: { upstream: null, loadGenerator: cpu(0) },
    memory: { idleRssBytes: idle * MIB, loadPeakRssBytes: peak * MIB, hwmBytes: peak * MIB, afterLoadRssBytes: after * MIB },
    failures: 0,
    ...extra,
  };
}

/** direct 0.10 ms; floor 70 µs, 0.40 ms; Smartflow `sfCpu` µs; peer 1,400 µs, 700 req/s, 1.60 ms. */
function run(sfCpu: number, opts: { peer?: boolean } = {}): CompareRun {
  const columns = [
    col('direct', 'direct', { cpuUs: 20, rps: 30000, p50: 0.1, p99N: 5, ttft: 0.2 }),
    col('floor', 'floor', { cpuUs: 70, rps: 14000, p50: 0.4, p99N: 10, ttft: 0.5 }),
    col('floor-1k', 'floor', { cpuUs: 80, rps: 12000, p50: 0.45, p99N: 11, ttft: 0.55 }),
    col('smartflow-default', 'smartflow', { cpuUs: sfCpu, rps: 8000, p50: 0.48, p99N: 25, ttft: 0.65, rssMiB: [95, 150, 110] }, { floor: 'floor', cpuRatioLimit: 1.4 }),
    col('smartflow-pii', 'smartflow', { cpuUs: 120, rps: 7000, p50: 0.5, p99N: 18, ttft: 0.6 }, { floor: 'floor-1k', cpuRatioLimit: 1.6 }),
  ];
  if (opts.peer !== false) columns.push(col('peer', 'peer', { cpuUs: 1400, rps: 700, p50: 1.6, p99N: 90, ttft: null }));
  return { columns };
}

const check = (id: string) => CHECKS.find((c) => c.id === id)!;
const valueOf = (r: CompareRun, id: string, name: string) => check(id).value(r, r.columns.find((c) => c.name === name)!);

describe('bench:compare ratios and verdicts', () => {
  test('CPU ÷ the floor measured with the same body, against each column\'s own limit', () => {
    const r = run(98);
    assert.equal(valueOf(r, 'cpu-vs-floor', 'smartflow-default'), 98 / 70);
    assert.equal(valueOf(r, 'cpu-vs-floor', 'smartflow-pii'), 120 / 80);
    const sf = r.columns.find((c) => c.name === 'smartflow-default')!;
    const pii = r.columns.find((c) => c.name === 'smartflow-pii')!;
    assert.equal(verdictOf(check('cpu-vs-floor'), 98 / 70, sf), 'pass');
    assert.equal(verdictOf(check('cpu-vs-floor'), 1.5, sf), 'miss');
    assert.equal(verdictOf(check('cpu-vs-floor'), 1.5, pii), 'pass', 'the PII column may use 1.6x');
  });

  test('throughput and added p50 against the peer; added p50 and time to first chunk over the floor', () => {
    const r = run(100);
    assert.ok(Math.abs(valueOf(r, 'throughput-vs-peer', 'smartflow-default') - 8000 / 700) < 1e-9);
    // (0.48 - 0.10) / (1.60 - 0.10), both over direct
    assert.ok(Math.abs(valueOf(r, 'added-p50-vs-peer', 'smartflow-default') - 0.38 / 1.5) < 1e-9);
    assert.ok(Math.abs(valueOf(r, 'added-p50-over-floor', 'smartflow-default') - 0.08) < 1e-9);
    assert.ok(Math.abs(valueOf(r, 'added-p50-over-floor', 'smartflow-pii') - 0.05) < 1e-9, 'over the 1 KB floor');
    assert.ok(Math.abs(valueOf(r, 'added-ttft-over-floor', 'smartflow-default') - 0.15) < 1e-9);
    assert.equal(valueOf(r, 'p99-vs-floor', 'smartflow-default'), 2.5);
  });

  test('memory targets: idle, under load, and back within idle + 10 MiB', () => {
    const r = run(100);
    const sf = r.columns.find((c) => c.name === 'smartflow-default')!;
    assert.equal(verdictOf(check('rss-idle'), valueOf(r, 'rss-idle', 'smartflow-default'), sf), 'miss');
    assert.equal(verdictOf(check('rss-load'), valueOf(r, 'rss-load', 'smartflow-default'), sf), 'pass');
    assert.equal(valueOf(r, 'rss-after', 'smartflow-default'), 15);
    assert.equal(verdictOf(check('rss-after'), 15, sf), 'miss');
  });

  test('without the peer its ratios are n/a, not a pass or a miss', () => {
    const r = run(100, { peer: false });
    const sf = r.columns.find((c) => c.name === 'smartflow-default')!;
    const v = valueOf(r, 'throughput-vs-peer', 'smartflow-default');
    assert.ok(Number.isNaN(v));
    assert.equal(verdictOf(check('throughput-vs-peer'), v, sf), 'n/a');
    assert.match(renderChecks(r).join('\n'), /n\/a n\/a/);
  });

  test('ratio refuses a zero or missing divisor', () => {
    assert.ok(Number.isNaN(ratio(1, 0)));
    assert.ok(Number.isNaN(ratio(1, NaN)));
    assert.ok(Number.isNaN(ratio(NaN, 2)));
    assert.equal(ratio(3, 2), 1.5);
  });
});

describe('bench:compare over several runs', () => {
  test('spread is min and max per check and column, with the runs that passed', () => {
    const runs = [run(91), run(105), run(98, { peer: false })];
    const cpu = spreadOver(runs).find((s) => s.check === 'cpu-vs-floor' && s.column === 'smartflow-default')!;
    assert.equal(cpu.min, 91 / 70);
    assert.equal(cpu.max, 105 / 70);
    assert.equal(cpu.runs, 3);
    assert.equal(cpu.passes, 2, '1.30x and 1.40x pass, 1.50x misses');
    const peer = spreadOver(runs).find((s) => s.check === 'throughput-vs-peer' && s.column === 'smartflow-default')!;
    assert.equal(peer.runs, 2, 'the run without the peer is left out');
    assert.match(renderSpread(runs).join('\n'), /1\.30x – 1\.50x \(2\/3 pass\)/);
  });

  test('the run shown is the median by the default config\'s CPU ratio', () => {
    assert.equal(representativeRun([run(120), run(90), run(100)]), 2);
    assert.equal(representativeRun([run(100)]), 0);
    assert.equal(representativeRun([run(100), run(80)]), 1, 'the lower middle of an even count');
  });
});

describe('/proc parsing', () => {
  test('utime + stime counted from the last parenthesis, whatever the command name holds', () => {
    assert.equal(parseStatCpuTicks('4242 (node (worker) x) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 11 0 300 1000 5000'), 300);
    assert.throws(() => parseStatCpuTicks('garbage'));
  });

  test('VmRSS and VmHWM in bytes', () => {
    const m = parseStatusMemory('Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n');
    assert.equal(m.rssBytes, 100 * MIB);
    assert.equal(m.hwmBytes, 200 * MIB);
  });
});
