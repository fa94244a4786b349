/**
 * Retrieval metrics of the tool search eval (see /work/shared/eval/README.md): a query has required
 * steps (`groups`), each satisfied by any one of its tools.
 */

/** Share of groups with at least one member in the first k results. */
export function recallAt(ranked: readonly string[], groups: readonly (readonly string[])[], k: number): number {
  if (groups.length === 0) return 0;
  const top = new Set(ranked.slice(0, k));
  return groups.filter((g) => g.some((id) => top.has(id))).length / groups.length;
}

/** nDCG@k with binary gain for each rank that covers a group not covered by an earlier rank. */
export function ndcgAt(ranked: readonly string[], groups: readonly (readonly string[])[], k: number): number {
  const covered = new Set<number>();
  let dcg = 0;
  ranked.slice(0, k).forEach((id, rank) => {
    const group = groups.findIndex((g, i) => !covered.has(i) && g.includes(id));
    if (group < 0) return;
    covered.add(group);
    dcg += 1 / Math.log2(rank + 2);
  });
  let ideal = 0;
  for (let rank = 0; rank < Math.min(k, groups.length); rank++) ideal += 1 / Math.log2(rank + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

export interface EvalQuery {
  id: string;
  q: string;
  groups: string[][];
}

export interface EvalScores {
  queries: number;
  recall_at_1: number;
  recall_at_5: number;
  ndcg_at_5: number;
}

/** Means over the queries of recall@1, recall@5 and nDCG@5, given each query's ranked tool ids. */
export function evaluate(queries: readonly EvalQuery[], rank: (q: EvalQuery) => string[]): EvalScores {
  let r1 = 0;
  let r5 = 0;
  let n5 = 0;
  for (const query of queries) {
    const ranked = rank(query);
    r1 += recallAt(ranked, query.groups, 1);
    r5 += recallAt(ranked, query.groups, 5);
    n5 += ndcgAt(ranked, query.groups, 5);
  }
  const n = queries.length || 1;
  return { queries: queries.length, recall_at_1: r1 / n, recall_at_5: r5 / n, ndcg_at_5: n5 / n };
}
