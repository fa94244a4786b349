/** A candidate of the final ordering: its document index and score. */
export interface Scored {
  i: number;
  score: number;
}

/**
 * Term-level diversification (after Dang & Croft, "Term level search result diversification",
 * SIGIR 2013): a request often asks for several tools ("create the note, then list the files"),
 * and by relevance alone the first places fill with tools that answer the same part of it. The
 * query's terms stand for its parts: the list is built greedily, each place going to the tool
 * whose relevance plus `weight` times the share of the query's term weight (IDF) it matches and no
 * tool above it matched is highest. For the first place every term a tool matches is new, so that
 * place favours the tool that matches more of the query (coordination); after it, a tool that
 * matches only terms already covered competes on relevance alone.
 *
 * A tool's returned score is that value divided by 1 + weight: in [0, 1], and never above the
 * score of a tool placed before it (what a tool adds only shrinks as the list grows).
 *
 * `ranked` is best first by relevance; `hits[i]` has bit t set when document i holds query term t
 * (terms past the 32nd carry no bit and are never new).
 */
export function diversify(ranked: readonly Scored[], k: number, hits: Uint32Array, termWeights: readonly number[], weight: number): Scored[] {
  const total = termWeights.reduce((sum, w) => sum + w, 0);
  if (weight <= 0 || total <= 0) return ranked.slice(0, k);
  const bits = Math.min(32, termWeights.length);
  const rest = ranked.slice();
  const picked: Scored[] = [];
  let covered = 0;
  while (picked.length < k && rest.length > 0) {
    let best = 0;
    let bestValue = -Infinity;
    rest.forEach((candidate, at) => {
      const fresh = hits[candidate.i]! & ~covered;
      let novel = 0;
      for (let t = 0; t < bits && fresh >>> t !== 0; t++) if (fresh & (1 << t)) novel += termWeights[t]!;
      const value = candidate.score + (weight * novel) / total;
      // Strictly greater: among equal values the more relevant (earlier) tool stays ahead.
      if (value > bestValue) {
        bestValue = value;
        best = at;
      }
    });
    const [next] = rest.splice(best, 1);
    picked.push({ i: next!.i, score: bestValue / (1 + weight) });
    covered |= hits[next!.i]!;
  }
  return picked;
}
