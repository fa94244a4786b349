import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Client } from 'undici';

/** Percentile by nearest rank over an ascending-sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface LatencySummary {
  samples: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarise(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { samples: sorted.length, mean, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
}

export interface HttpTarget {
  url: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Given to autocannon for each connection it opens (bench/cache.ts reads response headers with it). */
  setupClient?: (client: EventEmitter) => void;
}

export interface LoadResult {
  connections: number;
  durationS: number;
  /** Responses received (any status). */
  responses: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  rps: number;
  /**
   * Latency in ms from autocannon's per-response timings (float). Autocannon's own percentiles
   * come from an integer-millisecond HDR histogram, useless below 1 ms, so they are only kept
   * for reference in `autocannonLatency`.
   */
  latencyMs: LatencySummary;
  autocannonLatency: { p50: number; p99: number };
}

/**
 * One autocannon run; every response's latency is kept at full precision. `times`, when given,
 * collects the 2xx latencies too (to summarise several runs as one).
 */
export async function runLoad(target: HttpTarget, connections: number, durationS: number, times: number[] = []): Promise<LoadResult> {
  const first = times.length;
  let responses = 0;
  let non2xx = 0;
  const started = performance.now();
  const instance = autocannon({
    url: target.url + target.path,
    method: 'POST',
    headers: target.headers,
    body: target.body,
    connections,
    pipelining: 1,
    duration: durationS,
    timeout: 10,
    ...(target.setupClient ? { setupClient: target.setupClient } : {}),
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    responses++;
    if (status < 200 || status > 299) non2xx++;
    else times.push(ms);
  });
  const result = await instance;
  const elapsedS = (performance.now() - started) / 1000;
  return {
    connections,
    durationS: elapsedS,
    responses,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    rps: responses / elapsedS,
    latencyMs: summarise(times.slice(first)),
    autocannonLatency: { p50: result.latency.p50, p99: result.latency.p99 },
  };
}

export interface TtftResult {
  requests: number;
  failures: number;
  /** From sending the request to the first body chunk, ms. */
  firstChunkMs: LatencySummary;
  /** From sending the request to the end of the stream, ms. */
  totalMs: LatencySummary;
}

/**
 * Sequential streaming requests on one kept-alive connection: time to the first body chunk.
 * The first `warmup` requests are not counted; the counted timings are also appended to `collect`.
 */
export async function measureTtft(target: HttpTarget, count: number, warmup: number, collect: { first: number[]; total: number[] } = { first: [], total: [] }): Promise<TtftResult> {
  const client = new Client(target.url, { keepAliveTimeout: 60_000, pipelining: 1 });
  const first: number[] = [];
  const total: number[] = [];
  let failures = 0;
  try {
    for (let i = 0; i < warmup + count; i++) {
      const t0 = performance.now();
      const res = await client.request({ method: 'POST', path: target.path, headers: target.headers, body: target.body });
      let firstAt = -1;
      let text = '';
      for await (const chunk of res.body) {
        if (firstAt < 0) firstAt = performance.now();
        text += (chunk as Buffer).toString('utf8');
      }
      const endAt = performance.now();
      const ok = res.statusCode === 200 && firstAt >= 0 && text.includes('data: [DONE]');
      if (i < warmup) continue;
      if (!ok) {
        failures++;
        continue;
      }
      first.push(firstAt - t0);
      total.push(endAt - t0);
      collect.first.push(firstAt - t0);
      collect.total.push(endAt - t0);
    }
  } finally {
    await client.close();
  }
  return { requests: count, failures, firstChunkMs: summarise(first), totalMs: summarise(total) };
}

