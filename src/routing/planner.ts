import type { GatewayConfig } from '../config/schema.js';
import type { ModelDeployment, ProviderRegistry } from '../providers/registry.js';
import type { Balancer } from './balancer.js';
import type { ChainTarget, FallbackChain, RetryPolicy } from './chain-schema.js';
import type { ChainRegistry } from './chains.js';
import type { Cooldowns } from './cooldown.js';
import { compileRetryOn } from './retry.js';

/** One deployment to try, with how often and how long. */
export interface RouteStep {
  deployment: ModelDeployment;
  /** Attempts on this deployment, the first included. */
  maxAttempts: number;
  /** Overrides the provider's timeout for this step. */
  timeoutMs: number | undefined;
  retry: RetryPolicy;
  retryOn: ReadonlySet<number | string>;
  /** The deployment shares its group with others: its load (in flight, latency) feeds the balancer. */
  balanced: boolean;
}

/**
 * A step on a deployment. Written out rather than `{ ...step, deployment, balanced }`: on Node 20
 * (V8 11.3) a literal that starts with a spread and adds keys the source lacks takes about 1 µs,
 * some 50 times a plain literal, and plans are built per request (docs/development.md).
 */
function routeStep(step: Omit<RouteStep, 'deployment' | 'balanced'>, deployment: ModelDeployment, balanced: boolean): RouteStep {
  return { maxAttempts: step.maxAttempts, timeoutMs: step.timeoutMs, retry: step.retry, retryOn: step.retryOn, deployment, balanced };
}

/** A deployment of the plan left out because it is cooling down. */
export interface SkippedStep {
  deployment: ModelDeployment;
  /** When its cooldown ends, epoch ms. */
  until: number;
  /** Where it stood: the index in `steps` of the step it came before (`steps.length` when it came last). */
  before: number;
}

/** The ordered deployments one request may use. */
export interface RoutePlan {
  /** The fallback chain walked, or null for a plain model name (or model group). */
  chainId: string | null;
  steps: RouteStep[];
  /** Deployments left out for cooling down, so the attempts list and the final error can name them. */
  skipped: SkippedStep[];
  streamResume: boolean;
}

/** Attempts per target in a chain that does not say (one try and two retries). */
const CHAIN_DEFAULT_ATTEMPTS = 3;

/**
 * Turns a requested model name into a route plan: a fallback chain's targets (nested chains walked
 * in place, model groups ordered by their balancing strategy), or a model group on its own.
 * Deployments in cooldown are left out, unless that would leave nothing to try.
 */
export class RoutePlanner {
  private readonly defaultRetryOn: ReadonlySet<number | string>;
  /**
   * Plans of plain models served by one deployment, which never change: reused rather than rebuilt
   * on every request. Bounded, as model names come from clients.
   */
  private readonly single = new Map<string, RoutePlan>();

  constructor(
    private readonly deps: { config: GatewayConfig['routing']; registry: ProviderRegistry; chains: ChainRegistry; balancer: Balancer; cooldowns: Cooldowns; random?: () => number },
  ) {
    this.defaultRetryOn = compileRetryOn(deps.config.retry_on);
  }

  plan(model: string): RoutePlan | undefined {
    const chain = this.deps.chains.forModel(model);
    if (!chain) {
      const reused = this.single.get(model);
      if (reused) return reused;
    }
    const steps = chain ? this.chainSteps(chain, new Set()) : this.groupSteps(model, this.plainStep());
    if (steps.length === 0) return undefined;
    if (!chain && steps.length === 1) {
      const plan: RoutePlan = Object.freeze({ chainId: null, steps, skipped: [], streamResume: false });
      if (this.single.size < 10_000) this.single.set(model, plan);
      return plan;
    }
    const warm: RouteStep[] = [];
    const skipped: SkippedStep[] = [];
    for (const step of steps) {
      const until = this.deps.cooldowns.coolingUntil(step.deployment.id);
      if (until === undefined) warm.push(step);
      else skipped.push({ deployment: step.deployment, until, before: warm.length });
    }
    // Every deployment cooling down: try them anyway, as an answer is better than a certain error.
    if (warm.length === 0) return { chainId: chain?.id ?? null, steps, skipped: [], streamResume: chain?.stream_resume ?? false };
    return { chainId: chain?.id ?? null, steps: warm, skipped, streamResume: chain?.stream_resume ?? false };
  }

  /** A model name the gateway does not know, sent as is to the first OpenAI-compatible provider (Cursor's default). */
  planOnDefaultProvider(model: string): RoutePlan | undefined {
    const provider = this.deps.registry.firstOfType('openai');
    const deployment = provider ? this.deps.registry.deploymentFor(provider.name, model) : undefined;
    return deployment ? { chainId: null, steps: [routeStep(this.plainStep(), deployment, false)], skipped: [], streamResume: false } : undefined;
  }

  private plainStep(): Omit<RouteStep, 'deployment' | 'balanced'> {
    const retry = this.deps.config.retry;
    return { maxAttempts: retry.max_attempts ?? 1, timeoutMs: undefined, retry, retryOn: this.defaultRetryOn };
  }

  private groupSteps(model: string, step: Omit<RouteStep, 'deployment' | 'balanced'>): RouteStep[] {
    const group = this.deps.registry.resolveGroup(model);
    const strategy = this.deps.config.groups[model]?.strategy ?? this.deps.config.strategy;
    const balanced = group.length > 1;
    return this.deps.balancer.order(model, group, strategy).map((deployment) => routeStep(step, deployment, balanced));
  }

  private chainSteps(chain: FallbackChain, walking: Set<string>): RouteStep[] {
    // Cycles are refused when chains are saved; this guard keeps a bad store document harmless.
    if (walking.has(chain.id)) return [];
    walking.add(chain.id);
    const retryOn = chain.retry_on ? compileRetryOn(chain.retry_on) : this.defaultRetryOn;
    const attempts = chain.retry.max_attempts ?? CHAIN_DEFAULT_ATTEMPTS;
    const steps: RouteStep[] = [];
    for (const target of this.targetOrder(chain)) {
      const step = { maxAttempts: target.max_retries === undefined ? attempts : target.max_retries + 1, timeoutMs: target.timeout_ms, retry: chain.retry, retryOn };
      if (target.chain !== undefined) {
        const inner = this.deps.chains.get(target.chain)?.chain;
        if (inner) steps.push(...this.chainSteps(inner, walking));
      } else if (target.provider !== undefined) {
        const deployment = this.deps.registry.deploymentFor(target.provider, target.model!);
        if (deployment) steps.push(routeStep(step, deployment, false));
      } else {
        steps.push(...this.groupSteps(target.model!, step));
      }
    }
    walking.delete(chain.id);
    return steps;
  }

  /** `loadbalance` chains pick their first target by weight; the rest follow in order. */
  private targetOrder(chain: FallbackChain): ChainTarget[] {
    if (chain.strategy !== 'loadbalance' || chain.targets.length < 2) return chain.targets;
    const random = this.deps.random ?? Math.random;
    let total = 0;
    for (const t of chain.targets) total += t.weight ?? 1;
    let point = random() * total;
    let first = chain.targets.length - 1;
    for (const [i, t] of chain.targets.entries()) {
      point -= t.weight ?? 1;
      if (point < 0) {
        first = i;
        break;
      }
    }
    return [chain.targets[first]!, ...chain.targets.filter((_, i) => i !== first)];
  }
}
