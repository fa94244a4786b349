import type { ModelDeployment } from '../providers/registry.js';

export type BalanceStrategy = 'weighted' | 'round_robin' | 'least_in_flight' | 'lowest_latency';

/** How much one new latency sample moves the average (exponentially weighted). */
const EWMA_ALPHA = 0.3;
/** Deployment ids come partly from clients (`provider/anything`): latency is kept for this many at most. */
const MAX_TRACKED = 10_000;

/**
 * Orders the deployments of a model group for one request: the first is the pick, the rest are
 * the group's own fallbacks. Load figures (requests in flight, latency) are this instance's own:
 * they describe what this instance sees, and sharing them would cost a store round trip per request.
 */
export class Balancer {
  private readonly inFlight = new Map<string, number>();
  private readonly latencyMs = new Map<string, number>();
  private readonly turns = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  order(group: string, deployments: readonly ModelDeployment[], strategy: BalanceStrategy): ModelDeployment[] {
    if (deployments.length <= 1) return [...deployments];
    switch (strategy) {
      case 'weighted':
        return this.weightedShuffle(deployments);
      case 'round_robin': {
        const turn = this.turns.get(group) ?? 0;
        this.turns.set(group, (turn + 1) % deployments.length);
        return [...deployments.slice(turn % deployments.length), ...deployments.slice(0, turn % deployments.length)];
      }
      case 'least_in_flight':
        return this.sortedBy(deployments, (d) => this.inFlight.get(d.id) ?? 0);
      case 'lowest_latency':
        // Unmeasured deployments sort first, so each gets tried and measured.
        return this.sortedBy(deployments, (d) => this.latencyMs.get(d.id) ?? 0);
    }
  }

  /** A request to the deployment started. */
  started(id: string): void {
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
  }

  /** It ended; `latencyMs` (time to the answer's first byte) only for successes. */
  finished(id: string, latencyMs: number | null): void {
    const left = (this.inFlight.get(id) ?? 1) - 1;
    // Idle entries go, so the map holds only deployments with requests in flight.
    if (left <= 0) this.inFlight.delete(id);
    else this.inFlight.set(id, left);
    if (latencyMs === null) return;
    const previous = this.latencyMs.get(id);
    if (previous === undefined && this.latencyMs.size >= MAX_TRACKED) return;
    this.latencyMs.set(id, previous === undefined ? latencyMs : previous + EWMA_ALPHA * (latencyMs - previous));
  }

  /** Weighted sampling without replacement: the first pick follows the weights exactly. */
  private weightedShuffle(deployments: readonly ModelDeployment[]): ModelDeployment[] {
    const left = [...deployments];
    const out: ModelDeployment[] = [];
    while (left.length > 0) {
      let total = 0;
      for (const d of left) total += d.weight;
      let point = this.random() * total;
      let index = left.length - 1;
      for (let i = 0; i < left.length; i++) {
        point -= left[i]!.weight;
        if (point < 0) {
          index = i;
          break;
        }
      }
      out.push(left.splice(index, 1)[0]!);
    }
    return out;
  }

  /** Stable sort by score; equal scores keep a random rotation so ties spread the load. */
  private sortedBy(deployments: readonly ModelDeployment[], score: (d: ModelDeployment) => number): ModelDeployment[] {
    const offset = Math.floor(this.random() * deployments.length);
    const rotated = [...deployments.slice(offset), ...deployments.slice(0, offset)];
    return rotated.map((d) => ({ d, s: score(d) })).sort((a, b) => a.s - b.s).map((x) => x.d);
  }
}
