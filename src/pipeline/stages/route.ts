import { performance } from 'node:perf_hooks';
import { GatewayError, toGatewayError } from '../../errors/gateway-error.js';
import { costMicros } from '../../spend/pricing.js';
import { unfinishedStreamUsage } from '../../spend/usage.js';
import type { ProviderResponse } from '../../providers/adapter.js';
import type { Balancer } from '../../routing/balancer.js';
import type { Cooldowns } from '../../routing/cooldown.js';
import type { RouteStep } from '../../routing/planner.js';
import { decide, retryDelay } from '../../routing/retry.js';
import { pause } from '../../core/cancellation.js';
import type { GatewayContext, Stage } from '../types.js';

type StreamResponse = Extract<ProviderResponse, { kind: 'stream' }>;

export interface RouteStageDeps {
  balancer: Balancer;
  cooldowns: Cooldowns;
  now: () => number;
  random?: () => number;
}

/**
 * Pulls a stream's first frame before the stream is handed on. An upstream that fails before
 * sending anything fails here, where falling over to the next target is still invisible to the
 * client; send-response pulls the first frame before writing the status line anyway, so this
 * adds no latency.
 */
async function withFirstFrame(response: StreamResponse): Promise<StreamResponse> {
  const iterator = response.frames[Symbol.asyncIterator]();
  const first = await iterator.next();
  async function* frames(): AsyncGenerator<string> {
    let done = false;
    try {
      let step = first;
      while (!step.done) {
        yield step.value;
        step = await iterator.next();
      }
      done = true;
    } finally {
      if (!done) await iterator.return?.();
    }
  }
  return { ...response, frames: frames() };
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

/** The text a chat chunk frame adds to the answer; null when the frame carries a tool call (which a prefill cannot continue). */
function contentOf(frame: string): string | null {
  if (!frame.startsWith('data: {')) return '';
  if (frame.includes('"tool_calls"')) return null;
  try {
    const chunk = JSON.parse(frame.slice(6)) as { choices?: Array<{ delta?: { content?: unknown } }> };
    const content = chunk.choices?.[0]?.delta?.content;
    return typeof content === 'string' ? content : '';
  } catch {
    return '';
  }
}

/** The error a request ends with when every attempt failed: the last one, with what was tried. */
function exhausted(last: GatewayError, ctx: GatewayContext): GatewayError {
  const tried = ctx.failedAttempts.map((a) => `${a.provider}/${a.upstream_model} -> ${a.status}${a.error_code ? ` ${a.error_code}` : ''}`);
  if (tried.length < 2) return last;
  return new GatewayError(last.codeName, {
    message: `${last.message} (all ${tried.length} attempts failed: ${tried.join('; ')})`,
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

  function failed(ctx: GatewayContext, err: GatewayError, startedHr: number): void {
    const d = ctx.deployment!;
    ctx.failedAttempts.push({
      provider: d.provider.name,
      upstream_model: d.upstreamModel,
      status: err.status,
      error_code: err.wireCode,
      latency_ms: Math.round((performance.now() - startedHr) * 1000) / 1000,
      cost_micros: 0,
    });
  }

  /** Takes steps off the front of `steps` until one answers with a first frame; records the failures. */
  async function firstThatStreams(ctx: GatewayContext, next: () => Promise<void>, steps: RouteStep[]): Promise<StreamResponse | null> {
    for (let step = steps.shift(); step !== undefined; step = steps.shift()) {
      const startedHr = performance.now();
      ctx.deployment = step.deployment;
      ctx.attemptTimeoutMs = step.timeoutMs;
      try {
        await next();
        const response = ctx.response as ProviderResponse | null;
        if (response?.kind === 'stream') return await withFirstFrame(response);
      } catch (err) {
        const gerr = toGatewayError(err);
        if (ctx.abort.aborted) throw gerr;
        failed(ctx, gerr, startedHr);
      }
    }
    return null;
  }

  /**
   * `stream_resume`: when the stream breaks after content went out, the next targets are asked
   * to continue it, with the text so far as an assistant prefill. The client sees one stream; an
   * SSE comment line marks where it was resumed (SDKs ignore comments). Answers that were making a
   * tool call are not resumed: half a tool call cannot be prefilled.
   */
  function resumable(ctx: GatewayContext, next: () => Promise<void>, first: StreamResponse, later: RouteStep[], startedHr: number): StreamResponse {
    let current = first;
    const request = ctx.request;
    async function* frames(): AsyncGenerator<string> {
      let partial = '';
      // A Responses stream cannot take a prefill: the next target would start a second response.
      let resumable = request?.operation === 'chat' && !ctx.responses;
      let attemptStartedHr = startedHr;
      let frameCount = 0;
      for (;;) {
        try {
          for await (const frame of current.frames) {
            frameCount += 1;
            const content = resumable ? contentOf(frame) : '';
            if (content === null) resumable = false;
            else partial += content;
            yield frame;
          }
          return;
        } catch (err) {
          const gerr = toGatewayError(err);
          if (!resumable || later.length === 0 || ctx.abort.aborted || request?.operation !== 'chat') throw gerr;
          const broken = ctx.deployment!;
          failed(ctx, gerr, attemptStartedHr);
          ctx.failedAttempts[ctx.failedAttempts.length - 1]!.cost_micros = costMicros(unfinishedStreamUsage(current.usage(), ctx.request ?? request, frameCount), broken.price);
          frameCount = 0;
          ctx.request = { operation: 'chat', body: { ...request.body, messages: [...request.body.messages, { role: 'assistant', content: partial }] } };
          attemptStartedHr = performance.now();
          const resumed = await firstThatStreams(ctx, next, later);
          if (!resumed) throw gerr;
          yield `: smartflow stream_resume: ${broken.id} broke after ${partial.length} characters; continued on ${ctx.deployment!.id}\n\n`;
          current = resumed;
        }
      }
    }
    return { ...first, frames: frames(), usage: () => current.usage() };
  }

  return {
    name: 'route',
    async run(ctx, next) {
      const plan = ctx.plan;
      if (!plan) throw new GatewayError('SF_ERR_INTERNAL', { message: 'The route stage ran before the model was resolved.' });
      if (plan.chainId !== null) ctx.responseHeaders['x-smartflow-fallback-chain'] = plan.chainId;
      let last: GatewayError | null = null;
      for (const [index, step] of plan.steps.entries()) {
        const d = step.deployment;
        for (let attempt = 0; attempt < step.maxAttempts; attempt++) {
          ctx.deployment = d;
          ctx.attemptTimeoutMs = step.timeoutMs;
          ctx.response = null;
          ctx.usage = { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 };
          const startedHr = performance.now();
          // Only deployments that share a group need their load tracked: nothing chooses between the others.
          if (step.balanced) balancer.started(d.id);
          try {
            await next();
            let response = ctx.response as ProviderResponse | null;
            if (response?.kind === 'stream') response = await withFirstFrame(response);
            const latency = performance.now() - startedHr;
            ctx.responseHeaders['x-smartflow-attempts'] = String(ctx.failedAttempts.length + 1);
            ctx.responseHeaders['x-smartflow-route'] = d.id;
            if (response?.kind === 'stream') {
              const ended = step.balanced ? onStreamEnd(response, () => balancer.finished(d.id, latency)) : response;
              ctx.response = plan.streamResume ? resumable(ctx, next, ended, plan.steps.slice(index + 1), startedHr) : ended;
            } else if (step.balanced) balancer.finished(d.id, latency);
            return;
          } catch (err) {
            if (step.balanced) balancer.finished(d.id, null);
            const gerr = toGatewayError(err);
            // The client left: nobody is waiting for another attempt.
            if (ctx.abort.aborted || gerr.codeName === 'SF_ERR_CLIENT_CLOSED') throw gerr;
            failed(ctx, gerr, startedHr);
            last = gerr;
            const decision = decide(gerr, step.retryOn);
            if (decision === 'retry') {
              // Awaited: the next request on this instance must already see a tripped breaker.
              await cooldowns.recordFailure(d.id).catch((e: unknown) => ctx.log.warn({ err: e }, 'could not record a deployment failure'));
            }
            if (decision !== 'retry' || attempt + 1 >= step.maxAttempts) break;
            const delay = retryDelay(step.retry, attempt, gerr, deps.now(), random);
            if (delay === null) break;
            if (delay > 0) await pause(delay, ctx.abort);
          }
        }
      }
      ctx.responseHeaders['x-smartflow-attempts'] = String(ctx.failedAttempts.length);
      throw exhausted(last ?? new GatewayError('SF_ERR_INTERNAL', { message: 'The route plan had no deployment to try.' }), ctx);
    },
  };
}
