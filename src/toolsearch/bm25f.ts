import { FIELDS, fieldTexts, type Field, type ToolDoc } from './tool-doc.js';
import { terms } from './text.js';

/**
 * Field weights: a word in the tool name says more about what the tool does than one in a long
 * description; parameter names and the server's name and description add context.
 */
export const FIELD_WEIGHTS: Record<Field, number> = { name: 3, description: 1, params: 0.5, server: 1 };
const FIELD_B: Record<Field, number> = { name: 0.3, description: 0.75, params: 0.75, server: 0.5 };
const K1 = 1.2;

interface Posting {
  doc: number;
  /** Per field term frequency. */
  tf: Float32Array;
}

/**
 * BM25F (Robertson & Zaragoza): term frequencies from every field, each weighted and normalised by
 * its own length, are summed before the one saturation, so a word repeated across fields counts
 * once, more strongly, instead of as several independent hits.
 */
export class Bm25fIndex {
  private readonly postings = new Map<string, Posting[]>();
  private readonly lengths: Float32Array[] = [];
  private readonly avg = new Float32Array(FIELDS.length);
  private count = 0;

  constructor(docs: readonly ToolDoc[]) {
    const totals = new Float64Array(FIELDS.length);
    docs.forEach((doc, i) => {
      const texts = fieldTexts(doc);
      const lengths = new Float32Array(FIELDS.length);
      const perTerm = new Map<string, Float32Array>();
      FIELDS.forEach((field, f) => {
        const words = terms(texts[field]);
        lengths[f] = words.length;
        totals[f]! += words.length;
        for (const word of words) {
          let tf = perTerm.get(word);
          if (!tf) perTerm.set(word, (tf = new Float32Array(FIELDS.length)));
          tf[f]! += 1;
        }
      });
      this.lengths.push(lengths);
      for (const [word, tf] of perTerm) {
        let list = this.postings.get(word);
        if (!list) this.postings.set(word, (list = []));
        list.push({ doc: i, tf });
      }
    });
    this.count = docs.length;
    FIELDS.forEach((_, f) => (this.avg[f] = docs.length ? Math.max(1, totals[f]! / docs.length) : 1));
  }

  /** Scores of every document that shares a word with the query (index -> score), and which query words each matched. */
  score(query: string): { scores: Map<number, number>; matched: Map<number, Set<string>> } {
    const scores = new Map<number, number>();
    const matched = new Map<number, Set<string>>();
    const seen = new Set<string>();
    for (const word of terms(query)) {
      if (seen.has(word)) continue;
      seen.add(word);
      const list = this.postings.get(word);
      if (!list) continue;
      const idf = Math.log(1 + (this.count - list.length + 0.5) / (list.length + 0.5));
      for (const { doc, tf } of list) {
        const lengths = this.lengths[doc]!;
        let weighted = 0;
        for (let f = 0; f < FIELDS.length; f++) {
          if (tf[f] === 0) continue;
          const field = FIELDS[f]!;
          const norm = 1 - FIELD_B[field] + (FIELD_B[field] * lengths[f]!) / this.avg[f]!;
          weighted += (FIELD_WEIGHTS[field] * tf[f]!) / norm;
        }
        scores.set(doc, (scores.get(doc) ?? 0) + (idf * weighted) / (K1 + weighted));
        let words = matched.get(doc);
        if (!words) matched.set(doc, (words = new Set()));
        words.add(word);
      }
    }
    return { scores, matched };
  }
}
