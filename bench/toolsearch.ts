import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore } from '../src/storage/index.js';
import { HashedEmbedder } from '../src/toolsearch/hashed-embedder.js';
import { DEFAULT_RANKING, ToolRanking } from '../src/toolsearch/ranking.js';
import { embeddingText, type ToolDoc } from '../src/toolsearch/tool-doc.js';
import { VectorCache } from '../src/toolsearch/vector-cache.js';

/**
 * Tool search at fleet scale, in process: 10,000 synthetic tools on 1,000 servers (names,
 * descriptions and parameters drawn from a fixed vocabulary by a seeded generator). "Index" is
 * what the gateway does per server after listing its tools: text, vectors (embedded and stored
 * in a SQLite store), then one ranking over all of them; "warm" is a restart or second instance
 * reading the stored vectors. Search p50 is over 1,000 queries of 3-8 words, k = 10.
 */

export const TOOLSEARCH_DESCRIPTION = 'Tool search: 10,000 tools on 1,000 servers, offline embedder, SQLite store';
export const TOOLSEARCH_TARGETS = { indexMs: 10_000, searchP50Ms: 20 };

const VERBS = ['get', 'list', 'create', 'update', 'delete', 'search', 'send', 'read', 'write', 'run', 'fetch', 'upload', 'download', 'archive', 'approve', 'sync', 'export', 'import', 'schedule', 'cancel'];
const OBJECTS = ['file', 'issue', 'message', 'invoice', 'customer', 'order', 'repository', 'branch', 'ticket', 'event', 'calendar', 'contact', 'document', 'page', 'dataset', 'table', 'query', 'report', 'user', 'team', 'project', 'task', 'comment', 'deployment', 'container', 'bucket', 'secret', 'payment', 'subscription', 'playlist'];
const DOMAINS = ['github', 'slack', 'stripe', 'notion', 'jira', 'gmail', 'drive', 'postgres', 'kubernetes', 'spotify', 'shopify', 'salesforce', 'zendesk', 'figma', 'linear', 'airtable', 'dropbox', 'twilio', 'hubspot', 'sentry'];
const FILLER = ['quickly', 'with filters', 'by id', 'for the current user', 'across workspaces', 'in bulk', 'with pagination', 'and return details', 'as JSON', 'from the archive'];

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function syntheticFleet(servers: number, toolsPerServer: number): ToolDoc[] {
  const pick = random(42);
  const one = <T>(list: readonly T[]) => list[Math.floor(pick() * list.length)]!;
  const docs: ToolDoc[] = [];
  for (let s = 0; s < servers; s++) {
    const domain = one(DOMAINS);
    const alias = `${domain}-${s}`;
    for (let t = 0; t < toolsPerServer; t++) {
      const verb = one(VERBS);
      const object = one(OBJECTS);
      const tool = `${verb}_${object}_${t}`;
      docs.push({
        key: `mcp_${s}/${tool}`,
        serverId: `mcp_${s}`,
        server: alias,
        serverDescription: `${domain} integration`,
        tool,
        description: `${verb[0]!.toUpperCase()}${verb.slice(1)} a ${object} in ${domain} ${one(FILLER)}. Returns the ${object} ${one(FILLER)}.`,
        params: [{ name: `${object}_id`, description: `The ${object} identifier` }, { name: 'limit', description: 'At most this many items' }, { name: one(OBJECTS), description: '' }],
      });
    }
  }
  return docs;
}

export interface ToolSearchBenchResult {
  name: 'toolsearch';
  description: string;
  tools: number;
  servers: number;
  indexMs: number;
  warmIndexMs: number;
  searchP50Ms: number;
  searchP99Ms: number;
}

async function indexAll(cache: VectorCache, docs: ToolDoc[]): Promise<ToolRanking> {
  const byServer = new Map<string, ToolDoc[]>();
  for (const d of docs) (byServer.get(d.serverId) ?? byServer.set(d.serverId, []).get(d.serverId)!).push(d);
  const vectors: Float32Array[] = [];
  const ordered: ToolDoc[] = [];
  for (const [serverId, list] of byServer) {
    const { vectors: v } = await cache.vectorsFor(serverId, list.map(embeddingText));
    vectors.push(...v);
    ordered.push(...list);
  }
  return new ToolRanking(ordered, vectors, DEFAULT_RANKING);
}

export async function runToolSearchBench(log: (line: string) => void): Promise<ToolSearchBenchResult> {
  const docs = syntheticFleet(1000, 10);
  const dir = mkdtempSync(join(tmpdir(), 'smartflow-bench-toolsearch-'));
  const store = await createStore({ type: 'sqlite', path: join(dir, 'smartflow.db') });
  try {
    const embedder = new HashedEmbedder();
    let t0 = performance.now();
    await indexAll(new VectorCache(store, embedder), docs);
    const indexMs = performance.now() - t0;
    t0 = performance.now();
    const ranking = await indexAll(new VectorCache(store, embedder), docs);
    const warmIndexMs = performance.now() - t0;
    log(`toolsearch: ${docs.length} tools indexed in ${indexMs.toFixed(0)} ms (warm ${warmIndexMs.toFixed(0)} ms)`);

    const pick = random(7);
    const one = <T>(list: readonly T[]) => list[Math.floor(pick() * list.length)]!;
    const queries = Array.from({ length: 1100 }, () => `${one(VERBS)} the ${one(OBJECTS)} ${one(FILLER)} on ${one(DOMAINS)}`);
    const times: number[] = [];
    queries.forEach((q, i) => {
      const start = performance.now();
      ranking.search(q, embedder.embedOne(q), 10);
      if (i >= 100) times.push(performance.now() - start);
    });
    times.sort((a, b) => a - b);
    return { name: 'toolsearch', description: TOOLSEARCH_DESCRIPTION, tools: docs.length, servers: 1000, indexMs, warmIndexMs, searchP50Ms: times[Math.floor(times.length / 2)]!, searchP99Ms: times[Math.floor(times.length * 0.99)]! };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderToolSearch(r: ToolSearchBenchResult): string {
  const pass = (ok: boolean) => (ok ? 'pass' : '**miss**');
  return [
    '## Tool search',
    '',
    `| ${r.tools.toLocaleString('en-US')} tools on ${r.servers.toLocaleString('en-US')} servers | measured | target | pass/miss |`,
    '|---|---:|---:|---:|',
    `| index: text, embed, store, rank (cold) | ${r.indexMs.toFixed(0)} ms | < ${TOOLSEARCH_TARGETS.indexMs.toLocaleString('en-US')} ms | ${pass(r.indexMs < TOOLSEARCH_TARGETS.indexMs)} |`,
    `| index from stored vectors (restart, second instance) | ${r.warmIndexMs.toFixed(0)} ms | – | – |`,
    `| search p50, k = 10 (query embedding included) | ${r.searchP50Ms.toFixed(2)} ms | < ${TOOLSEARCH_TARGETS.searchP50Ms} ms | ${pass(r.searchP50Ms < TOOLSEARCH_TARGETS.searchP50Ms)} |`,
    `| search p99 | ${r.searchP99Ms.toFixed(2)} ms | – | – |`,
    '',
    `${TOOLSEARCH_DESCRIPTION}; in the bench process (no HTTP). Tools are synthetic (bench/toolsearch.ts: a seeded generator over a fixed vocabulary), queries 3-8 words; 100 warm-up searches, then 1,000 measured.`,
    '',
  ].join('\n');
}
