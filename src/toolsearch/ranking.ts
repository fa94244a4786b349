import { Bm25fIndex, type LexicalScores } from './bm25f.js';
import { NameCoverage } from './name-coverage.js';
import { diversify } from './term-diversity.js';
import type { ToolDoc } from './tool-doc.js';

/** One ranked tool: its fused score, and the query words it matched lexically. */
export interface RankedTool {
  doc: ToolDoc;
  score: number;
  matched: string[];
}

export interface RankingOptions {
  /** Share of the lexical score in the blend; the rest is embedding similarity. */
  lexicalWeight: number;
  /** Share of a tool's server's best score added to the tool's own (0: none); see `search`. */
  serverWeight: number;
  /** Weight of name coverage (see NameCoverage) added to the blend (0: none). */
  nameWeight: number;
  /** Weight of the query terms a tool matches that the tools above it do not (0: by relevance alone); see `diversify`. */
  diversity: number;
}

export const DEFAULT_RANKING: RankingOptions = { lexicalWeight: 0.4, serverWeight: 0.3, nameWeight: 0.1, diversity: 0.25 };

/** How many of the best allowed tools the server evidence re-ranks (at least `k`). */
const POOL = 50;

/**
 * The searchable form of a set of tools: a BM25F index and one unit vector per tool in one flat
 * array, scanned exactly (at 10,000 tools a scan takes milliseconds: no approximate index needed).
 * Immutable: a change builds a new one, so a search never sees half an update.
 */
export class ToolRanking {
  private readonly bm25: Bm25fIndex;
  private readonly names: NameCoverage;
  /** Tool vectors, dimension-major: `columns[j * tools + i]` is dimension j of tool i. */
  private readonly columns: Float32Array;
  readonly dimensions: number;

  constructor(
    readonly docs: readonly ToolDoc[],
    vectors: readonly Float32Array[],
    private readonly options: RankingOptions = DEFAULT_RANKING,
  ) {
    this.bm25 = new Bm25fIndex(docs);
    this.names = new NameCoverage(docs, (term) => this.bm25.idf(term));
    this.dimensions = vectors[0]?.length ?? 0;
    this.columns = new Float32Array(docs.length * this.dimensions);
    vectors.forEach((v, i) => {
      for (let j = 0; j < this.dimensions; j++) this.columns[j * docs.length + i] = v[j]!;
    });
  }

  /** Every tool's fused score for a query (dense, by document index), and the lexical pass it came from. */
  private scoreAll(query: string, queryVector: Float32Array | null): { fused: Float32Array; lexical: LexicalScores } {
    const lexical = this.bm25.score(query);
    const lexicalShare = lexical.best > 0 ? this.options.lexicalWeight : 0;
    const semanticShare = queryVector && this.dimensions === queryVector.length ? 1 - lexicalShare : 0;
    const fused = new Float32Array(this.docs.length);
    if (semanticShare > 0) {
      // Dimension by dimension over the transposed matrix: the offline embedder's query vectors
      // are sparse (a few dozen hashed features), so only their non-zero dimensions are read.
      const n = this.docs.length;
      for (let j = 0; j < this.dimensions; j++) {
        const w = queryVector![j]!;
        if (w === 0) continue;
        const column = this.columns.subarray(j * n, (j + 1) * n);
        for (let i = 0; i < n; i++) fused[i]! += w * column[i]!;
      }
      // Dissimilar (negative cosine) is no evidence against a tool the words match.
      for (let i = 0; i < n; i++) fused[i] = fused[i]! > 0 ? semanticShare * fused[i]! : 0;
    }
    if (lexicalShare > 0) {
      const scale = lexicalShare / lexical.best;
      for (let i = 0; i < fused.length; i++) fused[i]! += lexical.scores[i]! * scale;
    }
    const nameWeight = this.options.nameWeight;
    if (nameWeight > 0) {
      const coverage = this.names.score(query);
      // Divided by 1 + nameWeight so a fused score stays in [0, 1].
      for (let i = 0; i < fused.length; i++) fused[i] = (fused[i]! + nameWeight * (coverage?.[i] ?? 0)) / (1 + nameWeight);
    }
    return { fused, lexical };
  }

  /**
   * The best `k` tools `allow` lets through. Scores blend BM25F normalised by the best lexical
   * score of the query with cosine similarity: both then lie in [0, 1], and a query no tool shares
   * a word with still ranks by meaning. The query's coverage of each tool's name (NameCoverage)
   * is added with `nameWeight`.
   *
   * Then the tools of one server are treated as a cluster (cluster-based score smoothing): each of
   * the best allowed tools gains `serverWeight` times the best score among its server's allowed
   * tools. A server that clearly matches the query (it is named, or several of its tools match)
   * lifts its other matching tools above near-misses scattered over other servers, which is what
   * a request for several tools of one platform needs. The best tool keeps its place (its server's
   * best score is its own), and only allowed tools give evidence, so hidden tools cannot reorder a
   * caller's results. Scores are divided by 1 + serverWeight to stay in [0, 1].
   *
   * Last, the order weighs the query terms each tool matches that the tools above it do not
   * (`diversify`), and the scores are those of that ordering, still best first in [0, 1].
   */
  search(query: string, queryVector: Float32Array | null, k: number, allow: (doc: ToolDoc) => boolean = () => true): RankedTool[] {
    const { fused, lexical } = this.scoreAll(query, queryVector);
    const pool = topK(fused, Math.max(k, POOL), (i) => allow(this.docs[i]!));
    const serverBest = new Map<string, number>();
    // `pool` is best first: a server's first tool in it holds its best score.
    for (const i of pool) if (!serverBest.has(this.docs[i]!.serverId)) serverBest.set(this.docs[i]!.serverId, fused[i]!);
    const weight = this.options.serverWeight;
    const ranked = pool
      .map((i) => ({ i, score: (fused[i]! + weight * serverBest.get(this.docs[i]!.serverId)!) / (1 + weight) }))
      .sort((a, b) => b.score - a.score || a.i - b.i);
    const termWeights = lexical.terms.map((term) => this.bm25.idf(term));
    return diversify(ranked, k, lexical.hits, termWeights, this.options.diversity).map(({ i, score }) => ({
        doc: this.docs[i]!,
        score,
        matched: lexical.terms.filter((_, t) => t < 32 && (lexical.hits[i]! & (1 << t)) !== 0),
      }));
  }
}

/** Indexes of the k highest positive scores that pass `allow`, best first (ties by index). */
function topK(scores: Float32Array, k: number, allow: (i: number) => boolean): number[] {
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s <= 0) continue;
    if (best.length === k && s <= scores[best[k - 1]!]!) continue;
    if (!allow(i)) continue;
    let at = best.length;
    while (at > 0 && scores[best[at - 1]!]! < s) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}
