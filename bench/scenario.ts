import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchChild } from './children.js';
import { PidRssSampler } from './proc-stats.js';
import { measureTtft, runLoad, summarise, type HttpTarget, type LoadResult, type TtftResult } from './measure.js';
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

  const sampler = new PidRssSampler(target.pid);
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

/** One key's load in a paired scenario, over one phase. */
export interface KeyedLoad {
  load: LoadResult;
  cpu: PhaseCpu;
  /** The target's monotonic windows this load ran in: one block for the subject, two halves for the reference. */
  windows: ProfileWindow[];
}

export interface PairedSide {
  description: string;
  latency: KeyedLoad;
  rps: KeyedLoad;
}

/**
 * Two kinds of request against one gateway process: a reference (the master key) and a subject
 * (a virtual key with a budget), measured alternately so that both see the same process, store
 * and machine state.
 */
export interface PairedScenarioResult {
  name: string;
  description: string;
  reference: PairedSide;
  subject: PairedSide;
  /** Every request this scenario sent, warm-up included. */
  requestsSent: number;
  /** Requests sent with the subject's credentials, warm-up included. */
  subjectRequestsSent: number;
  /** The subject's many-connections block: what a .cpuprofile of this process is cut to. */
  measuredWindow: ProfileWindow;
  /** The subject's blocks per phase. */
  phaseWindows: { latency: ProfileWindow; rps: ProfileWindow };
}

function sumCpu(a: CpuPhase, b: CpuPhase, requests: number): CpuPhase {
  const cpuUs = a.cpuUs + b.cpuUs;
  const wallUs = a.wallUs + b.wallUs;
  return { cpuUs, wallUs, utilisation: cpuUs / wallUs, usPerRequest: cpuUs / Math.max(1, requests) };
}

function sumPhases(a: PhaseCpu, b: PhaseCpu, requests: number): PhaseCpu {
  return {
    target: sumCpu(a.target, b.target, requests),
    upstream: a.upstream && b.upstream ? sumCpu(a.upstream, b.upstream, requests) : null,
    loadGenerator: sumCpu(a.loadGenerator, b.loadGenerator, requests),
  };
}

/** Two runs of the same load as one: counts added, latency percentiles over both runs' responses. */
function sumLoads(a: LoadResult, b: LoadResult, times: number[]): LoadResult {
  const responses = a.responses + b.responses;
  const durationS = a.durationS + b.durationS;
  return {
    connections: a.connections,
    durationS,
    responses,
    non2xx: a.non2xx + b.non2xx,
    errors: a.errors + b.errors,
    timeouts: a.timeouts + b.timeouts,
    rps: responses / durationS,
    latencyMs: summarise(times),
    // Whole milliseconds, kept for reference only: the larger of the two.
    autocannonLatency: { p50: Math.max(a.autocannonLatency.p50, b.autocannonLatency.p50), p99: Math.max(a.autocannonLatency.p99, b.autocannonLatency.p99) },
  };
}

/**
 * The non-streaming load shape of {@link runScenario} (warm-up, one connection, many
 * connections) for two credentials against one process, in A-B-A order per phase: half the
 * reference's time, the subject's whole time, the reference's other half. A drift that is linear
 * over the phase (a neighbour's load coming or going, the store file growing) then weighs on both
 * sides equally, and the subject's time is one contiguous block a .cpuprofile can be cut to.
 * `validate` runs first, checks both credentials are answered as expected and says how many
 * requests it sent with each.
 */
export async function runPairedScenario(
  name: string,
  description: string,
  target: BenchChild,
  upstream: BenchChild | null,
  reference: { description: string; json: HttpTarget },
  subject: { description: string; json: HttpTarget },
  d: Durations,
  validate: () => Promise<{ referenceRequests: number; subjectRequests: number }>,
  log: (line: string) => void,
): Promise<PairedScenarioResult> {
  const checked = await validate();
  let subjectSent = checked.subjectRequests;
  let sent = checked.referenceRequests + checked.subjectRequests;

  log(`  warm-up ${d.warmupS}s at ${d.rpsConnections} connections, each key`);
  const warmRef = await runLoad(reference.json, d.rpsConnections, d.warmupS);
  const warmSub = await runLoad(subject.json, d.rpsConnections, d.warmupS);
  sent += warmRef.responses + warmSub.responses;
  subjectSent += warmSub.responses;

  const measure = async (connections: number, durationS: number, label: string): Promise<{ ref: KeyedLoad; sub: KeyedLoad }> => {
    log(`  ${label}, ${durationS}s each key: reference ${durationS / 2}s, subject ${durationS}s, reference ${durationS / 2}s`);
    const refTimes: number[] = [];
    const s0 = await snapshot(target, upstream);
    const r1 = await runLoad(reference.json, connections, durationS / 2, refTimes);
    const s1 = await snapshot(target, upstream);
    const sub = await runLoad(subject.json, connections, durationS);
    const s2 = await snapshot(target, upstream);
    const r2 = await runLoad(reference.json, connections, durationS / 2, refTimes);
    const s3 = await snapshot(target, upstream);
    sent += r1.responses + sub.responses + r2.responses;
    subjectSent += sub.responses;
    for (const [who, r] of [['reference', r1], ['subject', sub], ['reference', r2]] as const) {
      if (r.non2xx || r.errors || r.timeouts) log(`  WARNING ${name} ${label} ${who}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
    }
    const refLoad = sumLoads(r1, r2, refTimes);
    const window = (a: Snapshot, b: Snapshot, requests: number): ProfileWindow => ({ fromUs: a.target.monotonicUs, toUs: b.target.monotonicUs, requests });
    return {
      ref: { load: refLoad, cpu: sumPhases(phase(s0, s1, r1.responses), phase(s2, s3, r2.responses), refLoad.responses), windows: [window(s0, s1, r1.responses), window(s2, s3, r2.responses)] },
      sub: { load: sub, cpu: phase(s1, s2, sub.responses), windows: [window(s1, s2, sub.responses)] },
    };
  };

  const latency = await measure(1, d.latencyS, '1 connection');
  const rps = await measure(d.rpsConnections, d.rpsS, `${d.rpsConnections} connections`);
  return {
    name,
    description,
    reference: { description: reference.description, latency: latency.ref, rps: rps.ref },
    subject: { description: subject.description, latency: latency.sub, rps: rps.sub },
    requestsSent: sent,
    subjectRequestsSent: subjectSent,
    measuredWindow: rps.sub.windows[0]!,
    phaseWindows: { latency: latency.sub.windows[0]!, rps: rps.sub.windows[0]! },
  };
}
