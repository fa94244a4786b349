/**
 * `npm run eval:toolsearch -- <file.json> [--lexical-only] [--lexical-weight=0.6] [--server-weight=0] [--name-weight=0] [--diversity=0]`: ranks every
 * query of an eval file with the gateway's tool search (offline embedder) and prints recall@1,
 * recall@5, nDCG@5, index build time and search latency as JSON.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { HashedEmbedder } from '../../src/toolsearch/hashed-embedder.js';
import { DEFAULT_RANKING, ToolRanking } from '../../src/toolsearch/ranking.js';
import { embeddingText, type ToolDoc } from '../../src/toolsearch/tool-doc.js';
import { evaluate } from './metrics.js';

const fileSchema = z.object({
  tools: z.array(z.object({ id: z.string(), server: z.string(), name: z.string(), description: z.string().default(''), params: z.array(z.string()).default([]) })),
  queries: z.array(z.object({ id: z.string(), q: z.string(), groups: z.array(z.array(z.string())) })),
});

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: npm run eval:toolsearch -- <file.json> [--lexical-only] [--lexical-weight=0.6] [--server-weight=0] [--name-weight=0] [--diversity=0]');
  process.exit(2);
}
const lexicalOnly = args.includes('--lexical-only');
const weightArg = args.find((a) => a.startsWith('--lexical-weight='));
const lexicalWeight = lexicalOnly ? 1 : weightArg ? Number(weightArg.split('=')[1]) : DEFAULT_RANKING.lexicalWeight;
const serverArg = args.find((a) => a.startsWith('--server-weight='));
const serverWeight = serverArg ? Number(serverArg.split('=')[1]) : DEFAULT_RANKING.serverWeight;
const nameArg = args.find((a) => a.startsWith('--name-weight='));
const nameWeight = nameArg ? Number(nameArg.split('=')[1]) : DEFAULT_RANKING.nameWeight;
const diversityArg = args.find((a) => a.startsWith('--diversity='));
const diversity = diversityArg ? Number(diversityArg.split('=')[1]) : DEFAULT_RANKING.diversity;

const data = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
const docs: ToolDoc[] = data.tools.map((t) => ({ key: t.id, serverId: t.server, server: t.server, serverDescription: '', tool: t.name, description: t.description, params: t.params.map((name) => ({ name, description: '' })) }));

const embedder = new HashedEmbedder();
const started = performance.now();
const ranking = new ToolRanking(docs, docs.map((d) => embedder.embedOne(embeddingText(d))), { lexicalWeight, serverWeight, nameWeight, diversity });
const buildMs = performance.now() - started;

const latencies: number[] = [];
const scores = evaluate(data.queries, (query) => {
  const t0 = performance.now();
  const results = ranking.search(query.q, lexicalOnly ? null : embedder.embedOne(query.q), 5);
  latencies.push(performance.now() - t0);
  return results.map((r) => r.doc.key);
});
latencies.sort((a, b) => a - b);
const round = (n: number, digits = 3) => Number(n.toFixed(digits));
console.log(
  JSON.stringify(
    {
      file,
      tools: docs.length,
      embedder: lexicalOnly ? null : embedder.id,
      lexical_weight: lexicalWeight,
      server_weight: serverWeight,
      name_weight: nameWeight,
      diversity,
      queries: scores.queries,
      recall_at_1: round(scores.recall_at_1),
      recall_at_5: round(scores.recall_at_5),
      ndcg_at_5: round(scores.ndcg_at_5),
      index_build_ms: round(buildMs, 1),
      search_p50_ms: round(latencies[Math.floor(latencies.length / 2)] ?? 0, 2),
      search_p95_ms: round(latencies[Math.floor(latencies.length * 0.95)] ?? 0, 2),
    },
    null,
    2,
  ),
);
