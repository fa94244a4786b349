import { performance } from 'node:perf_hooks';
import { withFirstFrame } from '../../core/first-frame.js';
import { GatewayError, toGatewayError } from '../../errors/gateway-error.js';
import type { ProviderResponse } from '../../providers/adapter.js';
import type { Balancer } from '../../routing/balancer.js';
import type { Cooldowns } from '../../routing/cooldown.js';
import type { RouteStep, SkippedStep } from '../../routing/planner.js';
import { isRetryable, retryDelay } from '../../routing/retry.js';
import { pause } from '../../core/cancellation.js';
import { promptLimit } from '../../spend/estimate.js';
import { costMicros } from '../../spend/pricing.js';
import { unansweredUsage } from '../../spend/usage.js';
import { resumableStream, type StreamResponse } from '../stream-resume.js';
import type { GatewayContext, Stage } from '../types.js';

export interface RouteStageDeps {
  balancer: Balancer;
  cooldowns: Cooldowns;
  now: () => number;
  random?: () => number;
}

/** The stream with its first frame already pulled: a failure before it still allows a fallback. */
async function primed(response: StreamResponse): Promise<StreamResponse> {
  return { ...response, frames: await withFirstFrame(response.frames) };
}

/** Calls `onEnd` once when the stream ends however it ends. */
function onStreamEnd(response: StreamResponse, onEnd: () => void): StreamResponse {
  async function* frames(): AsyncGenerator<string> {
    try {
      yield* response.frames;
    } finally {
      onEnd();
    }
  }
  return { ...response, frames: frames() };
}

/** Upstream calls made so far: skipped targets are listed with the attempts but were not called. */
function callsMade(ctx: GatewayContext): number {
  let calls = 0;
  for (const a of ctx.failedAttempts) if (a.skipped === undefined) calls += 1;
  return calls;
}

/** The error a request ends with when every attempt failed: the last one, with what was tried. */
function exhausted(last: GatewayError, ctx: GatewayContext): GatewayError {
  const calls = callsMade(ctx);
  if (ctx.failedAttempts.length <= 1 || (calls < 2 && calls === ctx.failedAttempts.length)) return last;
  const tried = ctx.failedAttempts.map((a) => `${a.provider}/${a.upstream_model} ${a.skipped !== undefined ? `skipped: ${a.skipped}` : `-> ${a.status}${a.error_code ? ` ${a.error_code}` : ''}`}`);
  const skipped = ctx.failedAttempts.length - calls;
  const skippedText = `${skipped} ${skipped === 1 ? 'target' : 'targets'} skipped`;
  const summary = calls === 0 ? skippedText : `${calls === 1 ? '1 attempt' : `all ${calls} attempts`} failed${skipped > 0 ? `, ${skippedText}` : ''}`;
  return new GatewayError(last.codeName, {
    message: `${last.message} (${summary}: ${tried.join('; ')})`,
    status: last.status,
    param: last.param,
    retryable: last.retryable,
    ...(last.upstreamType !== undefined ? { upstreamType: last.upstreamType } : {}),
    ...(last.upstreamCode !== undefined ? { upstreamCode: last.upstreamCode } : {}),
    headers: last.headers,
    cause: last,
  });
}

/**
 * Walks the route plan: each step's deployment up to its attempt limit, with exponential backoff
 * and jitter between retries (honouring Retry-After up to a cap), moving to the next step at once
 * on errors that another try at the same deployment would not fix. Streams fall over only before
 * their first byte; after that a break ends the stream with an error event.
 */
export function createRouteStage(deps: RouteStageDeps): Stage {
  const random = deps.random ?? Math.random;
  const { balancer, cooldowns } = deps;

  function begin(ctx: GatewayContext, step: RouteStep): void {
    ctx.deployment = step.deployment;
    ctx.attemptTimeoutMs = step.timeoutMs;
    ctx.attemptStartedHr = performance.now();
  }

  /**
   * Records a failed call, or a target the gateway refused to call (the error's skipReason).
   * Providers do not bill their error answers, but an attempt the gateway's timeout cut off had
   * its prompt at the provider, which bills it: its input estimate.
   */
  function failed(ctx: GatewayContext, err: GatewayError): void {
    const d = ctx.deployment!;
    if (err.skipReason !== undefined) {
      ctx.failedAttempts.push({ provider: d.provider.name, upstream_model: d.upstreamModel, status: 0, error_code: null, latency_ms: 0, cost_micros: 0, skipped: err.skipReason });
      return;
    }
    const billed = err.codeName === 'SF_ERR_UPSTREAM_TIMEOUT' && ctx.request !== null;
    ctx.failedAttempts.push({
      provider: d.provider.name,
      upstream_model: d.upstreamModel,
      status: err.status,
      error_code: err.wireCode,
      latency_ms: Math.round((performance.now() - ctx.attemptStartedHr) * 1000) / 1000,
      cost_micros: billed ? costMicros(unansweredUsage(ctx.request!, promptLimit(d)), d.price) : 0,
    });
  }

  /**
   * The client left while the provider had the request and had not answered: the prompt is
   * billed all the same, so the request is charged its input estimate rather than nothing.
   */
  function abandoned(ctx: GatewayContext): void {
    if (ctx.request && ctx.deployment) ctx.usage = unansweredUsage(ctx.request, promptLimit(ctx.deployment));
  }

  /** Names the targets the plan left out, where they stood, so the attempts list and the final error show them. */
  function recordSkipped(ctx: GatewayContext, skipped: readonly SkippedStep[], before: number): void {
    for (const s of skipped) {
      if (s.before !== before) continue;
      const d = s.deployment;
      const skippedBecause = `cooling down until ${new Date(s.until).toISOString()}`;
      ctx.failedAttempts.push({ provider: d.provider.name, upstream_model: d.upstreamModel, status: 0, error_code: null, latency_ms: 0, cost_micros: 0, skipped: skippedBecause });
    }
  }

  /** Takes steps off the front of `steps` until one answers with a first frame; records the failures. */
  async function firstThatStreams(ctx: GatewayContext, next: () => Promise<void>, steps: RouteStep[]): Promise<StreamResponse | null> {
    for (let step = steps.shift(); step !== undefined; step = steps.shift()) {
      begin(ctx, step);
      try {
        await next();
        const response = ctx.response as ProviderResponse | null;
        if (response?.kind === 'stream') return await primed(response);
      } catch (err) {
        const gerr = toGatewayError(err);
        if (ctx.abort.aborted) throw gerr;
        failed(ctx, gerr);
      }
    }
    return null;
  }

  return {
    name: 'route',
    async run(ctx, next) {
      const plan = ctx.plan;
      if (!plan) throw new GatewayError('SF_ERR_INTERNAL', { message: 'The route stage ran before the model was resolved.' });
      if (plan.chainId !== null) ctx.responseHeaders['x-smartflow-fallback-chain'] = plan.chainId;
      let last: GatewayError | null = null;
      for (const [index, step] of plan.steps.entries()) {
        recordSkipped(ctx, plan.skipped, index);
        const d = step.deployment;
        for (let attempt = 0; attempt < step.maxAttempts; attempt++) {
          begin(ctx, step);
          ctx.response = null;
          ctx.usage = { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 };
          // Only deployments that share a group need their load tracked: nothing chooses between the others.
          if (step.balanced) balancer.started(d.id);
          try {
            await next();
            let response = ctx.response as ProviderResponse | null;
            if (response?.kind === 'stream') response = await primed(response);
            const latency = performance.now() - ctx.attemptStartedHr;
            ctx.responseHeaders['x-smartflow-attempts'] = String(callsMade(ctx) + 1);
            ctx.responseHeaders['x-smartflow-route'] = d.id;
            if (response?.kind === 'stream') {
              const ended = step.balanced ? onStreamEnd(response, () => balancer.finished(d.id, latency)) : response;
              ctx.response = plan.streamResume ? resumableStream(ctx, ended, plan.steps.slice(index + 1), (later) => firstThatStreams(ctx, next, later)) : ended;
            } else if (step.balanced) balancer.finished(d.id, latency);
            return;
          } catch (err) {
            if (step.balanced) balancer.finished(d.id, null);
            const gerr = toGatewayError(err);
            // The client left: nobody is waiting for another attempt.
            if (ctx.abort.aborted || gerr.codeName === 'SF_ERR_CLIENT_CLOSED') {
              abandoned(ctx);
              throw gerr;
            }
            failed(ctx, gerr);
            // A skipped target says less about what went wrong than a call that failed before it.
            if (gerr.skipReason === undefined || last === null) last = gerr;
            const retry = isRetryable(gerr, step.retryOn);
            if (retry) {
              // Awaited: the next request on this instance must already see a tripped breaker.
              await cooldowns.recordFailure(d.id).catch((e: unknown) => ctx.log.warn({ err: e }, 'could not record a deployment failure'));
            }
            if (!retry || attempt + 1 >= step.maxAttempts) break;
            const delay = retryDelay(step.retry, attempt, gerr, deps.now(), random);
            if (delay === null) break;
            if (delay > 0) await pause(delay, ctx.abort);
          }
        }
      }
      recordSkipped(ctx, plan.skipped, plan.steps.length);
      ctx.responseHeaders['x-smartflow-attempts'] = String(callsMade(ctx));
      throw exhausted(last ?? new GatewayError('SF_ERR_INTERNAL', { message: 'The route plan had no deployment to try.' }), ctx);
    },
  };
}
