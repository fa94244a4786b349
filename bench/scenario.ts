import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchChild } from './children.js';
import { measureTtft, RssSampler, runLoad, type HttpTarget, type LoadResult, type TtftResult } from './measure.js';
import type { ChildStats } from './protocol.js';

/** Phase lengths; `--quick` shortens all of them. */
export interface Durations {
  warmupS: number;
  latencyS: number;
  rpsS: number;
  rpsConnections: number;
  ttftRequests: number;
  ttftWarmup: number;
  afterLoadWaitMs: number;
}

export const FULL: Durations = { warmupS: 2, latencyS: 5, rpsS: 8, rpsConnections: 32, ttftRequests: 200, ttftWarmup: 20, afterLoadWaitMs: 3000 };
export const QUICK: Durations = { warmupS: 0.5, latencyS: 1, rpsS: 1, rpsConnections: 32, ttftRequests: 30, ttftWarmup: 5, afterLoadWaitMs: 500 };

/** CPU time of one process over one phase. */
export interface CpuPhase {
  cpuUs: number;
  wallUs: number;
  /** cpuUs / wallUs: 1.0 means one core fully busy. */
  utilisation: number;
  /** cpuUs / responses in that phase. */
  usPerRequest: number;
}

export interface PhaseCpu {
  /** The process the load goes to (gateway, or the upstream when measured directly). */
  target: CpuPhase;
  /** The fake upstream (only when the target is the gateway). */
  upstream: CpuPhase | null;
  /** This process: autocannon / undici client. */
  loadGenerator: CpuPhase;
}

export interface MemoryResult {
  /** After start, before any request. */
  startRssBytes: number;
  /** After the warm-up (JIT warm, pools open). */
  afterWarmupRssBytes: number;
  /** Highest VmRSS seen polling every 100 ms during the measured phases. */
  peakPolledRssBytes: number;
  /** VmHWM: the kernel's high-water mark over the whole process life. */
  hwmBytes: number;
  /** Some seconds after the last measured request (see durations.afterLoadWaitMs). */
  afterLoadRssBytes: number;
  heapUsedAfterLoadBytes: number;
}

export interface ScenarioResult {
  name: string;
  description: string;
  latency: LoadResult;
  rps: LoadResult;
  ttft: TtftResult;
  cpu: { latency: PhaseCpu; rps: PhaseCpu; ttft: PhaseCpu; idleAfterLoadUsPerS: number };
  memory: MemoryResult | null;
  /** Every request this scenario sent, warm-up included. */
  requestsSent: number;
  /** The target's monotonic clock (µs) around the measured phases, and the requests in between: to cut a .cpuprofile to them. */
  measuredWindow: ProfileWindow;
  /** The same per phase: 1 connection, many connections, sequential streams. */
  phaseWindows: { latency: ProfileWindow; rps: ProfileWindow; ttft: ProfileWindow };
}

export interface ProfileWindow {
  fromUs: number;
  toUs: number;
  requests: number;
}

interface Snapshot {
  at: bigint;
  target: ChildStats;
  upstream: ChildStats | null;
  self: NodeJS.CpuUsage;
}

async function snapshot(target: BenchChild, upstream: BenchChild | null): Promise<Snapshot> {
  const [t, u] = await Promise.all([target.stats(), upstream ? upstream.stats() : Promise.resolve(null)]);
  return { at: process.hrtime.bigint(), target: t, upstream: u, self: process.cpuUsage() };
}

function cpuOf(a: ChildStats | NodeJS.CpuUsage, b: ChildStats | NodeJS.CpuUsage, wallUs: number, requests: number): CpuPhase {
  const used = (s: ChildStats | NodeJS.CpuUsage) => ('userUs' in s ? s.userUs + s.systemUs : s.user + s.system);
  const cpuUs = used(b) - used(a);
  return { cpuUs, wallUs, utilisation: cpuUs / wallUs, usPerRequest: cpuUs / Math.max(1, requests) };
}

function phase(a: Snapshot, b: Snapshot, requests: number): PhaseCpu {
  const wallUs = Number(b.at - a.at) / 1000;
  return {
    target: cpuOf(a.target, b.target, wallUs, requests),
    upstream: a.upstream && b.upstream ? cpuOf(a.upstream, b.upstream, wallUs, requests) : null,
    loadGenerator: cpuOf(a.self, b.self, wallUs, requests),
  };
}

/** Checks the target answers both a JSON and a streamed completion before any timing starts. */
async function validate(json: HttpTarget, stream: HttpTarget): Promise<void> {
  const { request } = await import('undici');
  const a = await request(json.url + json.path, { method: 'POST', headers: json.headers, body: json.body });
  const text = await a.body.text();
  if (a.statusCode !== 200 || !text.includes('"usage"')) throw new Error(`${json.url}: chat completion answered ${a.statusCode}: ${text.slice(0, 300)}`);
  const b = await request(stream.url + stream.path, { method: 'POST', headers: stream.headers, body: stream.body });
  const sse = await b.body.text();
  if (b.statusCode !== 200 || !sse.includes('data: [DONE]')) throw new Error(`${stream.url}: streamed completion answered ${b.statusCode}: ${sse.slice(0, 300)}`);
}

/**
 * Warm-up, then: one connection (latency), many connections (throughput), sequential streams
 * (time to first chunk), then a quiet wait (memory after load, idle CPU). The target's CPU
 * time is sampled around each phase.
 */
export async function runScenario(
  name: string,
  description: string,
  target: BenchChild,
  upstream: BenchChild | null,
  json: HttpTarget,
  stream: HttpTarget,
  d: Durations,
  log: (line: string) => void,
): Promise<ScenarioResult> {
  const memStart = target.memory();
  await validate(json, stream);
  let sent = 2;

  log(`  warm-up ${d.warmupS}s at ${d.rpsConnections} connections`);
  const warm = await runLoad(json, d.rpsConnections, d.warmupS);
  sent += warm.responses;
  const warmTtft = await measureTtft(stream, d.ttftWarmup, 0);
  sent += warmTtft.requests;
  const memWarm = target.memory();

  const sampler = new RssSampler(target);
  sampler.start();
  const s0 = await snapshot(target, upstream);
  log(`  1 connection, ${d.latencyS}s`);
  const latency = await runLoad(json, 1, d.latencyS);
  const s1 = await snapshot(target, upstream);
  log(`  ${d.rpsConnections} connections, ${d.rpsS}s`);
  const rps = await runLoad(json, d.rpsConnections, d.rpsS);
  const s2 = await snapshot(target, upstream);
  log(`  ${d.ttftRequests} sequential streams`);
  const ttft = await measureTtft(stream, d.ttftRequests, d.ttftWarmup);
  const s3 = await snapshot(target, upstream);
  sent += latency.responses + rps.responses + ttft.requests + d.ttftWarmup;
  const peak = sampler.stop();

  await sleep(d.afterLoadWaitMs);
  const s4 = await snapshot(target, upstream);
  const memAfter = target.memory();
  for (const [label, r] of [['1 connection', latency], [`${d.rpsConnections} connections`, rps]] as const) {
    if (r.non2xx || r.errors || r.timeouts) log(`  WARNING ${name} ${label}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  }
  if (ttft.failures) log(`  WARNING ${name} streams: ${ttft.failures} failed`);

  const idleWallS = Number(s4.at - s3.at) / 1e9;
  const idleCpu = s4.target.userUs + s4.target.systemUs - (s3.target.userUs + s3.target.systemUs);
  return {
    name,
    description,
    latency,
    rps,
    ttft,
    cpu: {
      latency: phase(s0, s1, latency.responses),
      rps: phase(s1, s2, rps.responses),
      ttft: phase(s2, s3, ttft.requests + d.ttftWarmup),
      idleAfterLoadUsPerS: idleCpu / idleWallS,
    },
    memory:
      memStart && memWarm && memAfter
        ? {
            startRssBytes: memStart.rssBytes,
            afterWarmupRssBytes: memWarm.rssBytes,
            peakPolledRssBytes: peak,
            hwmBytes: memAfter.hwmBytes,
            afterLoadRssBytes: memAfter.rssBytes,
            heapUsedAfterLoadBytes: s4.target.heapUsedBytes,
          }
        : null,
    requestsSent: sent,
    measuredWindow: { fromUs: s0.target.monotonicUs, toUs: s3.target.monotonicUs, requests: latency.responses + rps.responses + ttft.requests + d.ttftWarmup },
    phaseWindows: {
      latency: { fromUs: s0.target.monotonicUs, toUs: s1.target.monotonicUs, requests: latency.responses },
      rps: { fromUs: s1.target.monotonicUs, toUs: s2.target.monotonicUs, requests: rps.responses },
      ttft: { fromUs: s2.target.monotonicUs, toUs: s3.target.monotonicUs, requests: ttft.requests + d.ttftWarmup },
    },
  };
}
