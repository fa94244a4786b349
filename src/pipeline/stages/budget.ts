import { GatewayError } from '../../errors/gateway-error.js';
import { usdString } from '../../keys/budgets.js';
import type { Consumption, LimitEnforcer, Reservation } from '../../keys/limits.js';
import type { ProviderResponse } from '../../providers/adapter.js';
import type { Usage } from '../../providers/types.js';
import { worstCaseTokens, type WorstCase } from '../../spend/estimate.js';
import { costMicros } from '../../spend/pricing.js';
import { requestCostMicros } from '../../spend/request-cost.js';
import type { ModelDeployment } from '../../providers/registry.js';
import type { GatewayContext, Stage } from '../types.js';

export interface BudgetStageDeps {
  limits: LimitEnforcer;
  /** Output tokens reserved for a request without max_tokens to a model whose output limit is unknown. */
  defaultMaxOutputTokens: number;
}

function consumed(usage: Usage, ctx: GatewayContext): Consumption {
  return { tokens: usage.input_tokens + usage.output_tokens, micros: requestCostMicros(ctx, usage) };
}

/**
 * A stream cut off before the provider reported its final usage (the client went away, the
 * upstream broke) was still billed by the provider. Charging only what was reported so far
 * (nothing for OpenAI, one output token for Anthropic, whose message_start counts just the input)
 * would let a client that always disconnects just before the end spend almost for free, so an
 * unfinished stream is charged at least the input estimate and one output token per frame delivered.
 */
function withEstimatedUsage(response: Extract<ProviderResponse, { kind: 'stream' }>, worst: WorstCase): Extract<ProviderResponse, { kind: 'stream' }> {
  let frames = 0;
  let finished = false;
  async function* counted(): AsyncGenerator<string> {
    for await (const frame of response.frames) {
      frames += 1;
      yield frame;
    }
    finished = true;
  }
  return {
    ...response,
    frames: counted(),
    usage() {
      const reported = response.usage();
      if (finished || frames === 0) return reported;
      return {
        ...reported,
        input_tokens: reported.input_tokens > 0 ? reported.input_tokens : worst.inputTokens,
        output_tokens: Math.max(reported.output_tokens, frames),
      };
    },
  };
}

/** Anthropic bills prompt-cache writes above plain input: the dearer reading is the worst case. */
function worstCostMicros(worst: WorstCase, deployment: ModelDeployment): number {
  const asPlain = { input_tokens: worst.inputTokens, cached_input_tokens: 0, output_tokens: worst.outputTokens };
  return Math.max(costMicros(asPlain, deployment.price), costMicros({ ...asPlain, cache_creation_input_tokens: worst.inputTokens }, deployment.price));
}

/**
 * Budgets and rate limits of virtual keys and their teams: reserve the request's worst-case
 * cost and tokens before the provider is called (429 at once if they do not fit), settle to the
 * actual cost when the answer, the stream, or the error is in. The master key is not limited.
 */
export function createBudgetStage(deps: BudgetStageDeps): Stage {
  const { limits } = deps;

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
      // A fallback may land on a dearer deployment: reserve what the dearest one in the plan could cost.
      let worst: WorstCase = { inputTokens: 0, outputTokens: 0 };
      let micros = 0;
      for (const step of plan.steps) {
        const w = worstCaseTokens(request, step.deployment.maxOutputTokens ?? deps.defaultMaxOutputTokens);
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
      const estimated = ctx.cache?.status === 'hit' ? response : withEstimatedUsage(response, worst);
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
