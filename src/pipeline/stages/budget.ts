import { GatewayError } from '../../errors/gateway-error.js';
import { usdString } from '../../keys/budgets.js';
import type { Consumption, LimitEnforcer, Reservation } from '../../keys/limits.js';
import type { ProviderResponse } from '../../providers/adapter.js';
import type { Usage } from '../../providers/types.js';
import type { AccessPolicy } from '../../keys/access-policy.js';
import type { RoutePlan } from '../../routing/planner.js';
import { promptLimit, worstCaseTokens, type WorstCase, type WorstCaseLimits } from '../../spend/estimate.js';
import { DeliveredAnswer, unfinishedStreamUsage } from '../../spend/usage.js';
import { costMicros } from '../../spend/pricing.js';
import { requestCostMicros } from '../../spend/request-cost.js';
import type { ModelDeployment } from '../../providers/registry.js';
import type { GatewayRequest } from '../../providers/gateway-request.js';
import type { GatewayContext, Stage } from '../types.js';

export interface BudgetStageDeps {
  limits: LimitEnforcer;
  /** Output tokens reserved for a request without max_tokens to a model whose output limit is unknown. */
  defaultMaxOutputTokens: number;
  /** Calls reserved per billable server tool a request declares without `max_uses`. */
  maxServerToolCalls: number;
}

function consumed(usage: Usage, ctx: GatewayContext): Consumption {
  return { tokens: usage.input_tokens + usage.output_tokens, micros: requestCostMicros(ctx, usage) };
}

/**
 * Charges an unfinished stream by the shared rule (spend/usage.ts), by what it delivered: a
 * stream that ends normally keeps what it reported. One the client left before its first frame
 * was sent still had the prompt at the provider, so it is charged at least the input estimate.
 */
function withEstimatedUsage(response: Extract<ProviderResponse, { kind: 'stream' }>, ctx: GatewayContext, request: GatewayRequest): Extract<ProviderResponse, { kind: 'stream' }> {
  const delivered = new DeliveredAnswer(request.operation);
  let finished = false;
  async function* counted(): AsyncGenerator<string> {
    for await (const frame of response.frames) {
      delivered.add(frame);
      yield frame;
    }
    finished = true;
  }
  return {
    ...response,
    frames: counted(),
    usage() {
      const reported = response.usage();
      return finished ? reported : unfinishedStreamUsage(reported, ctx.request ?? request, delivered, ctx.deployment ? promptLimit(ctx.deployment) : undefined);
    },
  };
}

/** Anthropic bills prompt-cache writes above plain input: the dearer reading is the worst case. */
function worstCostMicros(worst: WorstCase, deployment: ModelDeployment): number {
  const asPlain: Usage = { input_tokens: worst.inputTokens, cached_input_tokens: 0, output_tokens: worst.outputTokens, server_tool_calls: worst.serverToolCalls };
  const asWrites: Usage = { input_tokens: worst.inputTokens, cached_input_tokens: 0, output_tokens: worst.outputTokens, server_tool_calls: worst.serverToolCalls, cache_creation_input_tokens: worst.inputTokens };
  return Math.max(costMicros(asPlain, deployment.price), costMicros(asWrites, deployment.price));
}

/** A budget with a limit cannot count a model without a price: refuse rather than let it run free. */
function unpriced(policy: AccessPolicy, plan: RoutePlan): GatewayError | null {
  if (!policy.budgets.some((b) => b.maxMicros !== null)) return null;
  const step = plan.steps.find((s) => s.deployment.price === undefined);
  if (!step) return null;
  const d = step.deployment;
  return new GatewayError('SF_ERR_MODEL_UNPRICED', {
    message:
      `The model "${d.name.slice(0, 200)}" (${d.id.slice(0, 200)}) has no price, so its cost cannot be counted against this key's budget. ` +
      `An operator can price it in the gateway config (models[].input_cost_per_mtok and output_cost_per_mtok) or set a default price for unpriced models (budgets.default_price, or providers.${d.provider.name}.default_price).`,
    param: 'model',
  });
}

/**
 * Budgets and rate limits of virtual keys and their teams: reserve the request's worst-case
 * cost and tokens before the provider is called (429 at once if they do not fit), settle to the
 * actual cost when the answer, the stream, or the error is in. The master key is not limited.
 */
export function createBudgetStage(deps: BudgetStageDeps): Stage {
  const { limits } = deps;
  const boundsOf = new WeakMap<ModelDeployment, WorstCaseLimits>();
  function bounds(d: ModelDeployment): WorstCaseLimits {
    let b = boundsOf.get(d);
    if (!b) {
      b = {
        maxOutputTokens: d.maxOutputTokens ?? deps.defaultMaxOutputTokens,
        inputLimit: promptLimit(d),
        maxServerToolCalls: deps.maxServerToolCalls,
        billableTools: new Set(Object.entries(d.price?.per_call ?? {}).filter(([, usd]) => usd > 0).map(([kind]) => kind)),
      };
      boundsOf.set(d, b);
    }
    return b;
  }

  async function settle(ctx: GatewayContext, reservation: Reservation, actual: Consumption): Promise<number | null> {
    try {
      return await limits.settle(reservation, actual);
    } catch (err) {
      // The request itself succeeded or failed on its own; a store hiccup here must not change
      // its answer. The reservation stays counted (the safe direction) until its period ends.
      ctx.log.error({ err }, 'could not settle a budget reservation');
      return null;
    }
  }

  return {
    name: 'budget',
    async run(ctx, next) {
      const policy = ctx.principal?.policy;
      if (!policy) return next();
      const request = ctx.request;
      const plan = ctx.plan;
      if (!plan || !request) throw new GatewayError('SF_ERR_INTERNAL', { message: 'The budget stage ran before the request was validated and resolved.' });
      const refusal = unpriced(policy, plan);
      if (refusal) throw refusal;
      // A fallback may land on a dearer deployment: reserve what the dearest one in the plan could cost.
      let worst: WorstCase = { inputTokens: 0, outputTokens: 0, serverToolCalls: {} };
      let micros = 0;
      for (const step of plan.steps) {
        const w = worstCaseTokens(request, bounds(step.deployment));
        const m = worstCostMicros(w, step.deployment);
        if (w.inputTokens + w.outputTokens > worst.inputTokens + worst.outputTokens) worst = w;
        micros = Math.max(micros, m);
      }
      const reservation = await limits.reserve(policy, { tokens: worst.inputTokens + worst.outputTokens, micros });
      Object.assign(ctx.responseHeaders, reservation.rateHeaders);
      if (reservation.remainingMicros !== null) ctx.responseHeaders['x-smartflow-budget-remaining'] = usdString(reservation.remainingMicros);

      try {
        await next();
      } catch (err) {
        await settle(ctx, reservation, consumed(ctx.usage, ctx));
        throw err;
      }
      const response = ctx.response;
      if (response?.kind !== 'stream') {
        const remaining = await settle(ctx, reservation, consumed(ctx.usage, ctx));
        if (remaining !== null) ctx.responseHeaders['x-smartflow-budget-remaining'] = usdString(remaining);
        return;
      }
      // Headers of a stream leave before it ends: they carry the remaining budget after the
      // reservation, which is the lower (safe) figure.
      // A replay from the cache reports no usage because it used none: nothing to estimate.
      const estimated = ctx.cache?.status === 'hit' ? response : withEstimatedUsage(response, ctx, request);
      async function* settling(): AsyncGenerator<string> {
        try {
          yield* estimated.frames;
        } finally {
          await settle(ctx, reservation, consumed(estimated.usage(), ctx));
        }
      }
      ctx.response = { ...estimated, frames: settling() };
    },
  };
}
