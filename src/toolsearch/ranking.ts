import { Bm25fIndex } from './bm25f.js';
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
}

export const DEFAULT_RANKING: RankingOptions = { lexicalWeight: 0.4 };

/**
 * The searchable form of a set of tools: a BM25F index and one unit vector per tool in one flat
 * array (a brute-force scan of 10,000 x 512 floats takes a few milliseconds, no ANN needed).
 * Immutable: a change builds a new one, so a search never sees half an update.
 */
export class ToolRanking {
  private readonly bm25: Bm25fIndex;
  private readonly matrix: Float32Array;
  readonly dimensions: number;

  constructor(
    readonly docs: readonly ToolDoc[],
    vectors: readonly Float32Array[],
    private readonly options: RankingOptions = DEFAULT_RANKING,
  ) {
    this.bm25 = new Bm25fIndex(docs);
    this.dimensions = vectors[0]?.length ?? 0;
    this.matrix = new Float32Array(docs.length * this.dimensions);
    vectors.forEach((v, i) => this.matrix.set(v, i * this.dimensions));
  }

  /**
   * The best `k` tools `allow` lets through. Scores blend BM25F normalised by the best lexical
   * score of the query with cosine similarity: both then lie in [0, 1], and a query no tool shares
   * a word with still ranks by meaning.
   */
  search(query: string, queryVector: Float32Array | null, k: number, allow: (doc: ToolDoc) => boolean = () => true): RankedTool[] {
    const { scores, matched } = this.bm25.score(query);
    let best = 0;
    for (const s of scores.values()) if (s > best) best = s;
    const lexical = best > 0 ? this.options.lexicalWeight : 0;
    const semantic = queryVector && this.dimensions === queryVector.length ? 1 - lexical : 0;
    const fused = new Float32Array(this.docs.length);
    if (semantic > 0) {
      const d = this.dimensions;
      for (let i = 0; i < this.docs.length; i++) {
        let dot = 0;
        const base = i * d;
        for (let j = 0; j < d; j++) dot += this.matrix[base + j]! * queryVector![j]!;
        fused[i] = semantic * Math.max(0, dot);
      }
    }
    if (lexical > 0) for (const [i, s] of scores) fused[i]! += (lexical * s) / best;
    return topK(fused, k, (i) => allow(this.docs[i]!)).map((i) => ({ doc: this.docs[i]!, score: fused[i]!, matched: [...(matched.get(i) ?? [])] }));
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
