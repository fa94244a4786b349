import { splitWords, terms } from './text.js';
import type { ToolDoc } from './tool-doc.js';

/** Shortest name word that counts as an abbreviation of a longer query word ("info", "repo", "config"). */
const MIN_PREFIX = 3;

/**
 * How much of each tool's name a query covers: the IDF-weighted share of the name's distinct terms
 * the query contains, in [0, 1]. A tool name is a short title of what the tool does, so a query
 * that says all of it ("list the storage pools" → `list_pools`) is strong evidence, beyond the
 * term-by-term BM25F sum, which cannot tell a fully matched short name from a long description
 * that shares the same words (`delete_team_note` covers "team note" but not "delete"). IDF weights
 * keep the common verbs (get, list) from counting as much as the nouns.
 *
 * A name term also counts as matched when it is a prefix of a query word (at least three letters):
 * identifiers abbreviate by truncation (info / information, repo / repository, config / configuration).
 */
export class NameCoverage {
  /** Distinct name terms of all tools, numbered. */
  private readonly ids = new Map<string, number>();
  private readonly idf: number[] = [];
  /** Tool i's name terms are `termIds[offsets[i]] … termIds[offsets[i + 1] - 1]`. */
  private readonly offsets: Uint32Array;
  private readonly termIds: Uint32Array;
  /** Each tool's sum of its name terms' IDF (0: a name of stop words or numbers). */
  private readonly totals: Float32Array;

  constructor(docs: readonly ToolDoc[], idf: (term: string) => number) {
    this.offsets = new Uint32Array(docs.length + 1);
    this.totals = new Float32Array(docs.length);
    const flat: number[] = [];
    docs.forEach((doc, i) => {
      for (const term of new Set(terms(doc.tool))) {
        let id = this.ids.get(term);
        if (id === undefined) {
          id = this.idf.length;
          this.ids.set(term, id);
          this.idf.push(idf(term));
        }
        flat.push(id);
        this.totals[i]! += this.idf[id]!;
      }
      this.offsets[i + 1] = flat.length;
    });
    this.termIds = Uint32Array.from(flat);
  }

  /** Every tool's coverage by `query` (dense, by document index); null when no name term matches. */
  score(query: string): Float32Array | null {
    // The IDF of each matched name term, by id (0: not matched): a tool's loop then only adds.
    const matched = new Float32Array(this.idf.length);
    let any = false;
    const look = (term: string) => {
      const id = this.ids.get(term);
      if (id === undefined) return;
      matched[id] = this.idf[id]!;
      any = true;
    };
    const queryTerms = new Set(terms(query));
    for (const term of queryTerms) look(term);
    // Proper prefixes of the query's words, stemmed and as typed, meet abbreviated name terms.
    for (const word of new Set([...queryTerms, ...splitWords(query)])) {
      for (let length = MIN_PREFIX; length < word.length; length++) look(word.slice(0, length));
    }
    if (!any) return null;
    const coverage = new Float32Array(this.totals.length);
    for (let i = 0; i < coverage.length; i++) {
      if (this.totals[i] === 0) continue;
      let sum = 0;
      for (let at = this.offsets[i]!; at < this.offsets[i + 1]!; at++) sum += matched[this.termIds[at]!]!;
      coverage[i] = sum / this.totals[i]!;
    }
    return coverage;
  }
}
