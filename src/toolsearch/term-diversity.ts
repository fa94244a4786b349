/** A candidate of the final ordering: its document index and relevance score. */
export interface Scored {
  i: number;
  score: number;
}

/**
 * Term-level diversification (after Dang & Croft, "Term level search result diversification",
 * SIGIR 2013): a request often asks for several tools ("create the note, then list the files"),
 * and by relevance alone the first places fill with tools that answer the same part of it. The
 * query's terms stand for its parts: the list is built greedily, the most relevant tool first, then
 * each next place goes to the tool whose relevance plus `weight` times the share of the query's
 * term weight (IDF) it matches and no tool already placed matched is highest. A tool matching only
 * covered terms competes on relevance alone, so a single-need query keeps its order unless a tool
 * brings words of the query the list lacks.
 *
 * `ranked` is best first; `hits[i]` has bit t set when document i holds query term t (terms past
 * the 32nd carry no bit and are never novel).
 */
export function diversify(ranked: readonly Scored[], k: number, hits: Uint32Array, termWeights: readonly number[], weight: number): Scored[] {
  if (weight <= 0 || ranked.length <= 1) return ranked.slice(0, k);
  const total = termWeights.reduce((sum, w) => sum + w, 0);
  if (total <= 0) return ranked.slice(0, k);
  const bits = Math.min(32, termWeights.length);
  const rest = ranked.slice(1);
  const picked = [ranked[0]!];
  let covered = hits[ranked[0]!.i]!;
  while (picked.length < k && rest.length > 0) {
    let best = 0;
    let bestValue = -Infinity;
    rest.forEach((candidate, at) => {
      const fresh = hits[candidate.i]! & ~covered;
      let novel = 0;
      for (let t = 0; t < bits && fresh >>> t !== 0; t++) if (fresh & (1 << t)) novel += termWeights[t]!;
      const value = candidate.score + (weight * novel) / total;
      if (value > bestValue) {
        bestValue = value;
        best = at;
      }
    });
    const [next] = rest.splice(best, 1);
    picked.push(next!);
    covered |= hits[next!.i]!;
  }
  return picked;
}
