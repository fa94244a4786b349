import { FIELDS, fieldTexts, type Field, type ToolDoc } from './tool-doc.js';
import { terms } from './text.js';

/**
 * Field weights: a word in the tool name says more about what the tool does than one in a long
 * description; parameter names and the server's name and description add context.
 */
export const FIELD_WEIGHTS: Record<Field, number> = { name: 3, description: 1, params: 0.5, server: 1 };
/** Length normalisation per field: names are short and alike in length, descriptions vary. */
const FIELD_B: Record<Field, number> = { name: 0.3, description: 0.75, params: 0.75, server: 0.5 };
const K1 = 1.2;

/** Documents holding a term, and the term's weighted, length-normalised frequency in each. */
interface Postings {
  docs: Uint32Array;
  weights: Float32Array;
}

/** The lexical scores of one query: dense per document, and for each document the query terms it holds (bit i: term i). */
export interface LexicalScores {
  scores: Float32Array;
  best: number;
  /** The query's distinct terms, in order; `hits` bits index them. */
  terms: string[];
  hits: Uint32Array;
}

/**
 * BM25F (Robertson & Zaragoza): term frequencies from every field, each weighted and normalised by
 * its own length, are summed before the one saturation, so a word repeated across fields counts
 * once, more strongly, instead of as several independent hits. The per-field sum depends only on
 * the document, so it is computed at build time and a query only saturates and adds.
 */
export class Bm25fIndex {
  private readonly postings = new Map<string, Postings>();

  constructor(private readonly docs: readonly ToolDoc[]) {
    const perDoc: Array<Map<string, Float32Array>> = [];
    const lengths: Float32Array[] = [];
    const totals = new Float64Array(FIELDS.length);
    for (const doc of docs) {
      const texts = fieldTexts(doc);
      const tfs = new Map<string, Float32Array>();
      const length = new Float32Array(FIELDS.length);
      FIELDS.forEach((field, f) => {
        const words = terms(texts[field]);
        length[f] = words.length;
        totals[f]! += words.length;
        for (const word of words) {
          let tf = tfs.get(word);
          if (!tf) tfs.set(word, (tf = new Float32Array(FIELDS.length)));
          tf[f]! += 1;
        }
      });
      perDoc.push(tfs);
      lengths.push(length);
    }
    const avg = FIELDS.map((_, f) => (docs.length ? Math.max(1, totals[f]! / docs.length) : 1));
    const building = new Map<string, { docs: number[]; weights: number[] }>();
    perDoc.forEach((tfs, i) => {
      for (const [word, tf] of tfs) {
        let weighted = 0;
        FIELDS.forEach((field, f) => {
          if (tf[f] === 0) return;
          weighted += (FIELD_WEIGHTS[field] * tf[f]!) / (1 - FIELD_B[field] + (FIELD_B[field] * lengths[i]![f]!) / avg[f]!);
        });
        let list = building.get(word);
        if (!list) building.set(word, (list = { docs: [], weights: [] }));
        list.docs.push(i);
        list.weights.push(weighted);
      }
    });
    for (const [word, list] of building) this.postings.set(word, { docs: Uint32Array.from(list.docs), weights: Float32Array.from(list.weights) });
  }

  /** Inverse document frequency of a term over the indexed tools (BM25's, always positive). */
  idf(term: string): number {
    const n = this.postings.get(term)?.docs.length ?? 0;
    return Math.log(1 + (this.docs.length - n + 0.5) / (n + 0.5));
  }

  score(query: string): LexicalScores {
    const scores = new Float32Array(this.docs.length);
    const hits = new Uint32Array(this.docs.length);
    // At most 32 distinct terms carry a `matched` bit; later ones still score.
    const distinct = [...new Set(terms(query))];
    let best = 0;
    distinct.forEach((word, t) => {
      const list = this.postings.get(word);
      if (!list) return;
      const n = list.docs.length;
      const idf = this.idf(word);
      const bit = t < 32 ? 1 << t : 0;
      for (let j = 0; j < n; j++) {
        const doc = list.docs[j]!;
        const w = list.weights[j]!;
        const s = (scores[doc]! += (idf * w) / (K1 + w));
        if (s > best) best = s;
        hits[doc]! |= bit;
      }
    });
    return { scores, best, terms: distinct, hits };
  }
}
