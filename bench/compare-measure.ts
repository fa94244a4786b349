import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { measureTtft, runLoad, summarise, type HttpTarget, type LoadResult, type TtftResult } from './measure.js';
import { PidRssSampler, processCpuUs, processMemory } from './proc-stats.js';

/**
 * The measurement of `npm run bench:compare`: every column (the fake upstream itself, the floor,
 * the Smartflow configurations, the peer) is a running process; each load point is cut into
 * `rounds` slices and the columns take turns slice by slice (one loaded at a time, the order
 * rotated each round), so a neighbour's load that comes and goes on this shared machine weighs
 * on every column alike instead of on whichever ran at that moment. CPU time is read from /proc
 * around each slice and memory polled, so every process is measured by one method.
 */

export interface CompareDurations {
  warmupS: number;
  /** Each load point per column, in total: 1 connection, many connections, many connections streamed. */
  pointS: number;
  /** Slices each point is cut into, the columns taking turns. */
  rounds: number;
  connections: number;
  /** Sequential streamed requests for the time to first chunk, after `ttftWarmup` uncounted ones. */
  ttftRequests: number;
  ttftWarmup: number;
  afterLoadWaitMs: number;
}

export const COMPARE_FULL: CompareDurations = { warmupS: 2, pointS: 10, rounds: 5, connections: 64, ttftRequests: 300, ttftWarmup: 20, afterLoadWaitMs: 3000 };
export const COMPARE_QUICK: CompareDurations = { warmupS: 0.5, pointS: 1, rounds: 1, connections: 64, ttftRequests: 40, ttftWarmup: 5, afterLoadWaitMs: 3000 };

export interface CpuPoint {
  cpuUs: number;
  wallUs: number;
  utilisation: number;
  usPerRequest: number;
}

/** What a column is; Smartflow columns also say which floor column they are held against, and how close. */
export interface ColumnSpec {
  name: string;
  description: string;
  kind: 'direct' | 'floor' | 'smartflow' | 'peer';
  /** The floor column measured with the same request body. */
  floor?: string;
  /** CPU per request allowed, as a multiple of that floor's. */
  cpuRatioLimit?: number;
}

export interface ColumnResult extends ColumnSpec {
  json1: LoadResult;
  jsonN: LoadResult;
  streamN: LoadResult | null;
  ttft: TtftResult | null;
  /** Why the streamed points were not measured (the target does not answer a streamed request). */
  streamProblem?: string;
  cpu: { json1: CpuPoint; jsonN: CpuPoint; streamN: CpuPoint | null; ttft: CpuPoint | null };
  /** The other core during the many-connection point: the fake upstream's CPU and the load generator's (this process). */
  otherCore: { upstream: CpuPoint | null; loadGenerator: CpuPoint };
  memory: { idleRssBytes: number; loadPeakRssBytes: number; hwmBytes: number; afterLoadRssBytes: number };
  /** Non-2xx answers, errors and timeouts over all points: a column with any is not a measurement of answered requests. */
  failures: number;
}

/** A running column: its process, the fake upstream's pid when that is another process, and its requests. */
export interface Contender {
  spec: ColumnSpec;
  pid: number;
  upstreamPid: number | null;
  json: HttpTarget;
  stream: HttpTarget;
}

interface Mark {
  at: bigint;
  target: number;
  upstream: number | null;
  self: number;
}

function mark(c: Contender): Mark {
  const self = process.cpuUsage();
  const target = processCpuUs(c.pid);
  if (target === null) throw new Error(`${c.spec.name} (pid ${c.pid}) is gone`);
  return { at: process.hrtime.bigint(), target, upstream: c.upstreamPid === null ? null : processCpuUs(c.upstreamPid), self: self.user + self.system };
}

/** CPU time and wall time summed over a column's slices of one point. */
class CpuSum {
  cpuUs = 0;
  wallUs = 0;
  upstreamUs = 0;
  selfUs = 0;
  requests = 0;

  add(a: Mark, b: Mark, requests: number): void {
    this.cpuUs += b.target - a.target;
    this.wallUs += Number(b.at - a.at) / 1000;
    this.upstreamUs += a.upstream !== null && b.upstream !== null ? b.upstream - a.upstream : 0;
    this.selfUs += b.self - a.self;
    this.requests += requests;
  }

  point(cpuUs = this.cpuUs): CpuPoint {
    return { cpuUs, wallUs: this.wallUs, utilisation: cpuUs / this.wallUs, usPerRequest: cpuUs / Math.max(1, this.requests) };
  }
}

/** Several slices of one load as one result: counts added, percentiles over every response. */
function combine(parts: LoadResult[], times: number[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => parts.reduce((a, r) => a + f(r), 0);
  const durationS = sum((r) => r.durationS);
  return {
    connections: parts[0]!.connections,
    durationS,
    responses: sum((r) => r.responses),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    rps: sum((r) => r.responses) / durationS,
    latencyMs: summarise(times),
    autocannonLatency: { p50: Math.max(...parts.map((r) => r.autocannonLatency.p50)), p99: Math.max(...parts.map((r) => r.autocannonLatency.p99)) },
  };
}

/** One request; throws unless it is answered 200 with a whole completion (JSON with usage, or a stream ending in [DONE]). */
export async function probe(t: HttpTarget): Promise<Record<string, string | string[] | undefined>> {
  const res = await request(t.url + t.path, { method: 'POST', headers: t.headers, body: t.body });
  const text = await res.body.text();
  const streamed = t.body.includes('"stream":true');
  const ok = res.statusCode === 200 && (streamed ? text.includes('data: [DONE]') : text.includes('"usage"'));
  if (!ok) throw new Error(`${streamed ? 'streamed' : 'JSON'} chat completion answered ${res.statusCode}: ${text.slice(0, 200)}`);
  return res.headers;
}

const failuresOf = (r: LoadResult) => r.non2xx + r.errors + r.timeouts;

type LoadPoint = 'json1' | 'jsonN' | 'streamN';

/** Each column's slices of one point, the columns taking turns, the order rotated each round. */
async function interleave(cs: Contender[], rounds: number, slice: (c: Contender, i: number) => Promise<number>): Promise<CpuSum[]> {
  const sums = cs.map(() => new CpuSum());
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cs.length; k++) {
      const i = (k + r) % cs.length;
      const a = mark(cs[i]!);
      const requests = await slice(cs[i]!, i);
      sums[i]!.add(a, mark(cs[i]!), requests);
    }
  }
  return sums;
}

/**
 * Idle RSS and a check that each column answers (a column whose streamed requests fail gets no
 * streamed points); a warm-up per column; then the points, interleaved: 1 connection, N
 * connections, N connections streamed, sequential streams. RSS is polled throughout and read
 * again `afterLoadWaitMs` after the last point.
 */
export async function measureInterleaved(cs: Contender[], d: CompareDurations, log: (line: string) => void): Promise<ColumnResult[]> {
  const idle = cs.map((c) => processMemory(c.pid)?.rssBytes ?? NaN);
  const streamProblems: Array<string | undefined> = [];
  for (const c of cs) {
    await probe(c.json);
    try {
      await probe(c.stream);
      streamProblems.push(undefined);
    } catch (err) {
      const problem = err instanceof Error ? err.message : String(err);
      streamProblems.push(problem);
      log(`  ${c.spec.name}: streamed requests fail, its streamed points are skipped: ${problem}`);
    }
  }
  for (const [i, c] of cs.entries()) {
    log(`  warm-up ${c.spec.name}: ${d.warmupS}s at ${d.connections} connections`);
    await runLoad(c.json, d.connections, d.warmupS);
    if (!streamProblems[i]) await measureTtft(c.stream, d.ttftWarmup, 0);
  }
  const samplers = cs.map((c) => new PidRssSampler(c.pid));
  for (const s of samplers) s.start();

  const sliceS = d.pointS / d.rounds;
  const loads: Record<LoadPoint, LoadResult[][]> = { json1: cs.map(() => []), jsonN: cs.map(() => []), streamN: cs.map(() => []) };
  const times: Record<LoadPoint, number[][]> = { json1: cs.map(() => []), jsonN: cs.map(() => []), streamN: cs.map(() => []) };
  const loadPoint = async (point: LoadPoint, connections: number, streamed: boolean, label: string) => {
    log(`  ${label}: ${d.rounds} × ${sliceS}s per column, taking turns`);
    const active = cs.map((_, i) => !streamed || !streamProblems[i]);
    return interleave(cs, d.rounds, async (c, i) => {
      if (!active[i]) return 0;
      const r = await runLoad(streamed ? c.stream : c.json, connections, sliceS, times[point][i]);
      loads[point][i]!.push(r);
      return r.responses;
    });
  };
  const cpuJson1 = await loadPoint('json1', 1, false, '1 connection');
  const cpuJsonN = await loadPoint('jsonN', d.connections, false, `${d.connections} connections`);
  const cpuStreamN = await loadPoint('streamN', d.connections, true, `${d.connections} connections streamed`);
  log(`  ${d.ttftRequests} sequential streams per column, ${d.rounds} turns`);
  const ttftTimes = cs.map(() => ({ first: [] as number[], total: [] as number[] }));
  const ttftFailures = cs.map(() => 0);
  const perTurn = Math.max(1, Math.round(d.ttftRequests / d.rounds));
  const cpuTtft = await interleave(cs, d.rounds, async (c, i) => {
    if (streamProblems[i]) return 0;
    const r = await measureTtft(c.stream, perTurn, 0, ttftTimes[i]);
    ttftFailures[i]! += r.failures;
    return r.requests;
  });
  const peaks = samplers.map((s) => s.stop());
  await sleep(d.afterLoadWaitMs);

  return cs.map((c, i) => {
    const after = processMemory(c.pid);
    const json1 = combine(loads.json1[i]!, times.json1[i]!);
    const jsonN = combine(loads.jsonN[i]!, times.jsonN[i]!);
    const streamed = !streamProblems[i];
    const streamN = streamed ? combine(loads.streamN[i]!, times.streamN[i]!) : null;
    const ttft: TtftResult | null = streamed ? { requests: cpuTtft[i]!.requests, failures: ttftFailures[i]!, firstChunkMs: summarise(ttftTimes[i]!.first), totalMs: summarise(ttftTimes[i]!.total) } : null;
    const failures = failuresOf(json1) + failuresOf(jsonN) + (streamN ? failuresOf(streamN) : 0) + ttftFailures[i]!;
    if (failures) log(`  WARNING ${c.spec.name}: ${failures} requests failed, were refused or timed out`);
    const n = cpuJsonN[i]!;
    return {
      ...c.spec,
      json1,
      jsonN,
      streamN,
      ttft,
      ...(streamProblems[i] ? { streamProblem: streamProblems[i] } : {}),
      cpu: { json1: cpuJson1[i]!.point(), jsonN: n.point(), streamN: streamed ? cpuStreamN[i]!.point() : null, ttft: streamed ? cpuTtft[i]!.point() : null },
      otherCore: { upstream: c.upstreamPid === null ? null : n.point(n.upstreamUs), loadGenerator: n.point(n.selfUs) },
      memory: { idleRssBytes: idle[i]!, loadPeakRssBytes: peaks[i]!, hwmBytes: after?.hwmBytes ?? NaN, afterLoadRssBytes: after?.rssBytes ?? NaN },
      failures,
    };
  });
}
