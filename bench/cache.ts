import type { EventEmitter } from 'node:events';
import { request } from 'undici';
import type { BenchChild } from './children.js';
import type { HttpTarget } from './measure.js';
import type { GatewayProcessOptions } from './protocol.js';
import { runPairedScenario, type Durations, type KeyedLoad, type PairedScenarioResult, type ScenarioResult } from './scenario.js';

/**
 * The response-cache rows of the benchmark: one gateway process on SQLite with caching switched
 * on for the bench model only, and a second name for the same upstream model with caching off.
 * The same body, primed once, is answered from the cache (the hit) and, alternately, sent to the
 * uncached name, which goes through the fake upstream (the miss). Every answer's
 * `x-smartflow-cache` header is counted, so the hit rows are known to be hits.
 */

/** The bench model: caching on (config `cache.models`). */
export const CACHED_MODEL = 'gpt-4o-mini';
/** The same upstream model under another name, caching off: the miss. */
export const UNCACHED_MODEL = 'gpt-4o-mini-uncached';

/** What the cache scenario's gateway process gets besides the usual options. */
export const CACHE_GATEWAY_OPTIONS: Required<Pick<GatewayProcessOptions, 'cache' | 'extraModels'>> = {
  cache: { models: { [CACHED_MODEL]: { enabled: true } } },
  extraModels: [UNCACHED_MODEL],
};

/** The target: a hit's CPU per request below this fraction of the miss's (strictly), at 1 and at many connections. */
export const CACHE_HIT_CPU_RATIO_OF_MISS = 1;
/** Below this share of `HIT` answers in the hit load's measured blocks, the scenario fails. */
export const MIN_HIT_RATIO = 0.99;

/** `x-smartflow-cache` values seen, by value; `(none)` when the answer had no such header, `HTTP <status>` for non-2xx answers. */
export type HeaderCounts = Record<string, number>;

const NONE = '(none)';

export interface LoadHeaders {
  warmup: HeaderCounts;
  latency: HeaderCounts;
  rps: HeaderCounts;
}

/** GET /api/cache/stats, the fields kept. */
export interface CacheStatsSnapshot {
  backend: string;
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

export interface CacheScenarioResult extends PairedScenarioResult {
  /** What the hit load sent and what the miss load sent. */
  hitModel: string;
  missModel: string;
  /** `x-smartflow-cache` on the hit load's answers (the subject) and the miss load's (the reference), per block. */
  hitHeaders: LoadHeaders;
  missHeaders: LoadHeaders;
  /** HIT answers ÷ answers over the hit load's two measured blocks. */
  hitRatio: number;
  statsBefore: CacheStatsSnapshot;
  statsAfter: CacheStatsSnapshot;
  profile?: string;
}

/** The cache scenario, when it failed. */
export interface CacheScenarioSkipped {
  name: string;
  description: string;
  skipped: string;
}

function cacheHeaderOf(raw: unknown): string {
  if (!Array.isArray(raw)) return NONE;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === 'x-smartflow-cache') return String(raw[i + 1]);
  }
  return NONE;
}

/**
 * Counts the `x-smartflow-cache` header of every answer autocannon receives with a target, per
 * connection in the order autocannon opened them (each load run opens its connections at its
 * start, so a run's answers are a contiguous range of connections).
 */
export class CacheHeaderTally {
  private readonly perClient: HeaderCounts[] = [];

  readonly setupClient = (client: EventEmitter): void => {
    const counts: HeaderCounts = {};
    this.perClient.push(counts);
    let value = NONE;
    client.on('headers', (info: { headers?: unknown }) => {
      value = cacheHeaderOf(info?.headers);
    });
    client.on('response', (status: number) => {
      const k = status >= 200 && status <= 299 ? value : `HTTP ${status}`;
      counts[k] = (counts[k] ?? 0) + 1;
      value = NONE;
    });
  };

  get connections(): number {
    return this.perClient.length;
  }

  /** The counts of connections [from, to). */
  counts(from: number, to: number): HeaderCounts {
    const out: HeaderCounts = {};
    for (const c of this.perClient.slice(from, to)) for (const [k, n] of Object.entries(c)) out[k] = (out[k] ?? 0) + n;
    return out;
  }
}

const total = (c: HeaderCounts) => Object.values(c).reduce((a, b) => a + b, 0);

/** "12,345 HIT" or "12,300 HIT, 45 (none)". */
export function describeCounts(c: HeaderCounts): string {
  const entries = Object.entries(c).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([k, n]) => `${n.toLocaleString('en-US')} ${k === NONE ? 'without the header' : k}`).join(', ') : 'no answers';
}

async function cacheStats(gatewayUrl: string, masterKey: string): Promise<CacheStatsSnapshot> {
  const res = await request(`${gatewayUrl}/api/cache/stats`, { headers: { authorization: `Bearer ${masterKey}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /api/cache/stats answered ${res.statusCode}: ${text.slice(0, 300)}`);
  const s = JSON.parse(text) as CacheStatsSnapshot;
  return { backend: s.backend, hits: s.hits, misses: s.misses, entries: s.entries, bytes: s.bytes };
}

async function send(t: HttpTarget): Promise<{ cache: string | undefined }> {
  const res = await request(t.url + t.path, { method: 'POST', headers: t.headers, body: t.body });
  const text = await res.body.text();
  if (res.statusCode !== 200 || !text.includes('"usage"')) throw new Error(`${t.url}: chat completion answered ${res.statusCode}: ${text.slice(0, 300)}`);
  const h = res.headers['x-smartflow-cache'];
  return { cache: Array.isArray(h) ? h.join(',') : h };
}

/**
 * Against a gateway started with {@link CACHE_GATEWAY_OPTIONS}: primes the cache with one request
 * (answered `STORED`), checks one hit and one uncached answer, then measures the miss (reference)
 * and the hit (subject) alternately (scenario.ts runPairedScenario). Throws when the hit load's
 * measured answers were not at least {@link MIN_HIT_RATIO} hits, or when an answer of the miss
 * load went through the cache.
 */
export async function runCacheScenario(
  name: string,
  description: string,
  gw: BenchChild,
  upstream: BenchChild,
  hitTarget: HttpTarget,
  masterKey: string,
  d: Durations,
  log: (line: string) => void,
): Promise<CacheScenarioResult> {
  const body = JSON.parse(hitTarget.body) as { model?: unknown };
  if (body.model !== CACHED_MODEL) throw new Error(`the cache scenario expects a ${CACHED_MODEL} request, got ${String(body.model)}`);
  const hitTally = new CacheHeaderTally();
  const missTally = new CacheHeaderTally();
  const hit: HttpTarget = { ...hitTarget, setupClient: hitTally.setupClient };
  const miss: HttpTarget = { ...hitTarget, body: JSON.stringify({ ...body, model: UNCACHED_MODEL }), setupClient: missTally.setupClient };

  const statsBefore = await cacheStats(gw.url, masterKey);
  const primed = await send(hit);
  if (primed.cache !== 'STORED') throw new Error(`the priming request was answered with x-smartflow-cache: ${String(primed.cache)}, not STORED`);
  log(`  primed: x-smartflow-cache ${primed.cache}; cache backend ${statsBefore.backend}`);

  const r = await runPairedScenario(
    name,
    description,
    gw,
    upstream,
    { description: `miss: ${UNCACHED_MODEL} (caching off) through the fake upstream`, json: miss },
    { description: `cache hit: ${CACHED_MODEL}, the primed body`, json: hit },
    d,
    async () => {
      const m = await send(miss);
      if (m.cache !== undefined) throw new Error(`the uncached model was answered with x-smartflow-cache: ${m.cache}: caching applies to it`);
      const h = await send(hit);
      if (h.cache !== 'HIT') throw new Error(`the primed request was answered with x-smartflow-cache: ${String(h.cache)}, not HIT`);
      return { referenceRequests: 1, subjectRequests: 1 };
    },
    log,
  );
  const statsAfter = await cacheStats(gw.url, masterKey);

  // runPairedScenario's loads per side, in order: warm-up (n connections), the 1-connection
  // phase (subject: one run; reference: two), the n-connection phase (likewise).
  const n = d.rpsConnections;
  const slices = (t: CacheHeaderTally, runsPerPhase: number): LoadHeaders => {
    const expected = n + runsPerPhase * (1 + n);
    if (t.connections !== expected) throw new Error(`autocannon opened ${t.connections} connections for one side, expected ${expected}: runPairedScenario's load shape changed, update bench/cache.ts`);
    return { warmup: t.counts(0, n), latency: t.counts(n, n + runsPerPhase), rps: t.counts(n + runsPerPhase, expected) };
  };
  const hitHeaders = slices(hitTally, 1);
  const missHeaders = slices(missTally, 2);

  const measuredHits = (hitHeaders.latency.HIT ?? 0) + (hitHeaders.rps.HIT ?? 0);
  const measured = total(hitHeaders.latency) + total(hitHeaders.rps);
  const hitRatio = measuredHits / Math.max(1, measured);
  log(`  hit load: 1 connection ${describeCounts(hitHeaders.latency)}; ${n} connections ${describeCounts(hitHeaders.rps)}`);
  log(`  miss load: 1 connection ${describeCounts(missHeaders.latency)}; ${n} connections ${describeCounts(missHeaders.rps)}`);
  if (hitRatio < MIN_HIT_RATIO) {
    throw new Error(`only ${measuredHits} of ${measured} measured answers of the hit load were HIT (${(hitRatio * 100).toFixed(2)} %, need ${MIN_HIT_RATIO * 100} %)`);
  }
  const throughCache = (c: HeaderCounts) => Object.entries(c).reduce((a, [k, v]) => (k === NONE || k.startsWith('HTTP ') ? a : a + v), 0);
  const missThroughCache = throughCache(missHeaders.warmup) + throughCache(missHeaders.latency) + throughCache(missHeaders.rps);
  if (missThroughCache) throw new Error(`${missThroughCache} answers of the miss load carried x-smartflow-cache: caching applied to ${UNCACHED_MODEL}`);

  return { ...r, hitModel: CACHED_MODEL, missModel: UNCACHED_MODEL, hitHeaders, missHeaders, hitRatio, statsBefore, statsAfter };
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const us = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const ratio = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a');
const verdict = (ok: boolean) => (ok ? 'pass' : '**miss**');

/** The report's "Response cache" section. `gatewayColumn`: the master-key gateway column of the main table, for scale. */
export function renderCache(durations: Record<string, number>, c: CacheScenarioResult | CacheScenarioSkipped, gatewayColumn: ScenarioResult | undefined): string[] {
  const n = durations.rpsConnections ?? 32;
  const header = [
    'request',
    'CPU per request, 1 connection (µs)',
    `CPU per request, ${n} connections (µs)`,
    'hit ÷ miss CPU, 1 connection',
    `hit ÷ miss CPU, ${n} connections`,
    'p50 latency, 1 connection (ms)',
    `p50 latency, ${n} connections (ms)`,
    `throughput, ${n} connections (req/s)`,
    '`x-smartflow-cache` on the measured answers',
    'target',
    'pass/miss',
  ];
  const table = (rows: string[][]) => [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
  const rows: string[][] = [];
  if (gatewayColumn) {
    rows.push([
      'for scale: the gateway (warn) column above, another process',
      us(gatewayColumn.cpu.latency.target.usPerRequest),
      us(gatewayColumn.cpu.rps.target.usPerRequest),
      '–',
      '–',
      ms(gatewayColumn.latency.latencyMs.p50),
      ms(gatewayColumn.rps.latencyMs.p50),
      int(gatewayColumn.rps.rps),
      'caching off',
      '',
      '',
    ]);
  }
  if ('skipped' in c) {
    rows.push([`**${c.description}**`, `skipped: ${c.skipped}`, '', '', '', '', '', '', '', '', '']);
    return ['## Response cache', '', ...table(rows), ''];
  }
  const missSide = c.reference;
  const hitSide = c.subject;
  const cpu = (k: KeyedLoad) => k.cpu.target.usPerRequest;
  const r1 = cpu(hitSide.latency) / cpu(missSide.latency);
  const rn = cpu(hitSide.rps) / cpu(missSide.rps);
  const seen = (h: LoadHeaders) => `${describeCounts(h.latency)} · ${describeCounts(h.rps)}`;
  rows.push([
    `miss: \`${c.missModel}\`, caching off, through the fake upstream (same process)`,
    us(cpu(missSide.latency)),
    us(cpu(missSide.rps)),
    '–',
    '–',
    ms(missSide.latency.load.latencyMs.p50),
    ms(missSide.rps.load.latencyMs.p50),
    int(missSide.rps.load.rps),
    seen(c.missHeaders),
    '',
    '',
  ]);
  rows.push([
    `**cache hit: \`${c.hitModel}\`, caching on, the primed body**`,
    us(cpu(hitSide.latency)),
    us(cpu(hitSide.rps)),
    `**${ratio(r1)}**`,
    `**${ratio(rn)}**`,
    ms(hitSide.latency.load.latencyMs.p50),
    ms(hitSide.rps.load.latencyMs.p50),
    int(hitSide.rps.load.rps),
    seen(c.hitHeaders),
    `hit CPU < miss CPU (1 · ${n} connections)`,
    `${verdict(r1 < CACHE_HIT_CPU_RATIO_OF_MISS)} · ${verdict(rn < CACHE_HIT_CPU_RATIO_OF_MISS)}`,
  ]);
  const notes: string[] = [];
  const failures = [missSide.latency, missSide.rps, hitSide.latency, hitSide.rps].reduce((a, k) => a + k.load.non2xx + k.load.errors + k.load.timeouts, 0);
  if (failures) notes.push(`**${failures} requests were refused, failed or timed out; the CPU figures are not those of answered requests only.**`);
  const warm = `Warm-up answers: hit load ${describeCounts(c.hitHeaders.warmup)}; miss load ${describeCounts(c.missHeaders.warmup)}.`;
  const stats = `\`GET /api/cache/stats\` after the run: backend \`${c.statsAfter.backend}\`, ${int(c.statsAfter.entries)} entr${c.statsAfter.entries === 1 ? 'y' : 'ies'} (${int(c.statsAfter.bytes)} bytes), ${int(c.statsAfter.hits - c.statsBefore.hits)} hits and ${int(c.statsAfter.misses - c.statsBefore.misses)} misses counted during the scenario (answers autocannon stopped waiting for at the end of each load run are served and counted there, not in the table).`;
  return [
    '## Response cache',
    '',
    ...table(rows),
    '',
    `One gateway process (SQLite store, log level warn, no access log, like the gateway column above) whose config switches caching on for \`${c.hitModel}\` only (\`cache: { models: { '${c.hitModel}': { enabled: true } } }\`; backend \`auto\`, which with the SQLite store is the in-memory LRU) and serves the same upstream model under a second name, \`${c.missModel}\`, with caching off. One request primes the cache (answered \`STORED\`); then the same non-streaming body as the main table is sent with \`model: ${c.hitModel}\` (every answer a cache hit: authentication, validation, the cache key's SHA-256, a memory lookup, the cached bytes written back, a spend-log row with cost 0) and with \`model: ${c.missModel}\` (the miss: the full path through the fake upstream, with no cache work at all: no key, no lookup, no store). The two loads are measured alternately per phase, as the virtual-key rows are (miss half the time, hit the whole time, miss the other half; warm-up ${durations.warmupS} s at ${n} connections for each first), so they compare two loads on one process a few seconds apart.`,
    '',
    `Why the uncached model and not \`Cache-Control: no-cache\` on the cached one: a no-cache request still computes the key and stores its answer, and a real miss also does a lookup, so either would add cache work to the miss side only. The uncached model is the cheapest way through the gateway to the upstream, so "hit CPU < miss CPU" here is the strict form of the target; a real miss costs a little more than this row. The upstream is the bench's fake one (precomputed answer, same machine), so the miss is as cheap as a miss can be: with a real provider a miss also waits for it. CPU per request is the gateway process's only; the fake upstream's CPU, spent on misses only, is not counted.`,
    '',
    `The header column lists the \`x-smartflow-cache\` values of every measured answer (1 connection · ${n} connections), read from each response by autocannon's connections; the scenario fails when under ${MIN_HIT_RATIO * 100} % of the hit load's measured answers say \`HIT\` (here ${(c.hitRatio * 100).toFixed(2)} %), or when any answer of the miss load carries the header. ${warm} ${stats}`,
    '',
    ...notes.flatMap((line) => [line, '']),
  ];
}
