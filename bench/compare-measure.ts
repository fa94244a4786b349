import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { measureTtft, runLoad, type HttpTarget, type LoadResult, type TtftResult } from './measure.js';
import { PidRssSampler, processCpuUs, processMemory } from './proc-stats.js';

/**
 * One column of `npm run bench:compare`: the same load against one target process (the fake
 * upstream itself, the floor, a Smartflow configuration or the peer), its CPU time read from
 * /proc around each point and its memory polled, so every proxy is measured by one method.
 */

export interface CompareDurations {
  warmupS: number;
  /** Each load point: 1 connection, many connections, many connections streamed. */
  pointS: number;
  connections: number;
  /** Sequential streamed requests for the time to first chunk, after `ttftWarmup` uncounted ones. */
  ttftRequests: number;
  ttftWarmup: number;
  afterLoadWaitMs: number;
}

export const COMPARE_FULL: CompareDurations = { warmupS: 2, pointS: 10, connections: 64, ttftRequests: 300, ttftWarmup: 20, afterLoadWaitMs: 3000 };
export const COMPARE_QUICK: CompareDurations = { warmupS: 0.5, pointS: 1, connections: 64, ttftRequests: 40, ttftWarmup: 5, afterLoadWaitMs: 3000 };

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

interface Mark {
  at: bigint;
  target: number;
  upstream: number | null;
  self: number;
}

function mark(targetPid: number, upstreamPid: number | null): Mark {
  const self = process.cpuUsage();
  const target = processCpuUs(targetPid);
  if (target === null) throw new Error(`process ${targetPid} is gone`);
  return { at: process.hrtime.bigint(), target, upstream: upstreamPid === null ? null : processCpuUs(upstreamPid), self: self.user + self.system };
}

function point(cpuUs: number, wallUs: number, requests: number): CpuPoint {
  return { cpuUs, wallUs, utilisation: cpuUs / wallUs, usPerRequest: cpuUs / Math.max(1, requests) };
}

function between(a: Mark, b: Mark, requests: number): { target: CpuPoint; upstream: CpuPoint | null; self: CpuPoint } {
  const wallUs = Number(b.at - a.at) / 1000;
  return {
    target: point(b.target - a.target, wallUs, requests),
    upstream: a.upstream !== null && b.upstream !== null ? point(b.upstream - a.upstream, wallUs, requests) : null,
    self: point(b.self - a.self, wallUs, requests),
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

/**
 * Warm-up, then 1 connection, N connections and N connections streamed (each `pointS`), then
 * sequential streams for the time to first chunk; RSS before any request (idle), polled
 * during the points (under load) and `afterLoadWaitMs` after the last one. `upstreamPid` is
 * the fake upstream's when it is not the target itself.
 */
export async function measureColumn(
  column: ColumnSpec,
  targetPid: number,
  upstreamPid: number | null,
  json: HttpTarget,
  stream: HttpTarget,
  d: CompareDurations,
  log: (line: string) => void,
): Promise<ColumnResult> {
  const idleRssBytes = processMemory(targetPid)?.rssBytes ?? NaN;
  await probe(json);
  let streamProblem: string | undefined;
  try {
    await probe(stream);
  } catch (err) {
    streamProblem = err instanceof Error ? err.message : String(err);
    log(`  streamed requests fail, streamed points skipped: ${streamProblem}`);
  }

  log(`  warm-up ${d.warmupS}s at ${d.connections} connections`);
  await runLoad(json, d.connections, d.warmupS);
  if (!streamProblem) await measureTtft(stream, d.ttftWarmup, 0);

  const sampler = new PidRssSampler(targetPid);
  sampler.start();
  const m0 = mark(targetPid, upstreamPid);
  log(`  1 connection, ${d.pointS}s`);
  const json1 = await runLoad(json, 1, d.pointS);
  const m1 = mark(targetPid, upstreamPid);
  log(`  ${d.connections} connections, ${d.pointS}s`);
  const jsonN = await runLoad(json, d.connections, d.pointS);
  const m2 = mark(targetPid, upstreamPid);
  let streamN: LoadResult | null = null;
  let ttft: TtftResult | null = null;
  let streamCpu: CpuPoint | null = null;
  let ttftCpu: CpuPoint | null = null;
  if (!streamProblem) {
    log(`  ${d.connections} connections streamed, ${d.pointS}s`);
    streamN = await runLoad(stream, d.connections, d.pointS);
    const m3 = mark(targetPid, upstreamPid);
    log(`  ${d.ttftRequests} sequential streams`);
    ttft = await measureTtft(stream, d.ttftRequests, d.ttftWarmup);
    const m4 = mark(targetPid, upstreamPid);
    streamCpu = between(m2, m3, streamN.responses).target;
    ttftCpu = between(m3, m4, ttft.requests + d.ttftWarmup).target;
  }
  const loadPeakRssBytes = sampler.stop();
  await sleep(d.afterLoadWaitMs);
  const after = processMemory(targetPid);

  const failures = failuresOf(json1) + failuresOf(jsonN) + (streamN ? failuresOf(streamN) : 0) + (ttft?.failures ?? 0);
  if (failures) log(`  WARNING ${column.name}: ${failures} requests failed, were refused or timed out`);
  const n = between(m1, m2, jsonN.responses);
  return {
    ...column,
    json1,
    jsonN,
    streamN,
    ttft,
    ...(streamProblem ? { streamProblem } : {}),
    cpu: { json1: between(m0, m1, json1.responses).target, jsonN: n.target, streamN: streamCpu, ttft: ttftCpu },
    otherCore: { upstream: n.upstream, loadGenerator: n.self },
    memory: { idleRssBytes, loadPeakRssBytes, hwmBytes: after?.hwmBytes ?? NaN, afterLoadRssBytes: after?.rssBytes ?? NaN },
    failures,
  };
}
