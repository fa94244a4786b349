import { performance } from 'node:perf_hooks';
import { GatewayError, toGatewayError } from '../../errors/gateway-error.js';
import type { GatewayMetrics } from '../../metrics/metrics.js';
import { requestCostMicros } from '../../spend/request-cost.js';
import { costMicros } from '../../spend/pricing.js';
import type { SpendLog } from '../../spend/spend-log.js';
import type { SpendAttempt } from '../../spend/spend-record.js';
import type { GatewayContext, Stage } from '../types.js';

/** Distinct model label values before new names are counted as `other`. */
const MAX_MODEL_LABELS = 500;

/** Every attempt, when the request retried or fell back: the failed ones, then the one that ended it. */
function attemptsOf(ctx: GatewayContext, latencyMs: number): SpendAttempt[] | null {
  if (ctx.failedAttempts.length === 0) return null;
  const d = ctx.deployment;
  // No attempt answered: the failures are the whole story (the route stage recorded the last one too).
  if (ctx.responseHeaders['x-smartflow-route'] === undefined) return ctx.failedAttempts.length > 1 ? ctx.failedAttempts : null;
  // Its own time: from its start, so neither earlier attempts nor the waits between them count.
  const ownMs = latencyMs - (ctx.attemptStartedHr - ctx.startedHr);
  return [
    ...ctx.failedAttempts,
    {
      provider: d?.provider.name ?? 'none',
      upstream_model: d?.upstreamModel ?? '',
      status: ctx.status,
      error_code: ctx.error ? ctx.error.wireCode : null,
      latency_ms: Math.max(0, Math.round(ownMs * 1000) / 1000),
      cost_micros: costMicros(ctx.usage, d?.price),
    },
  ];
}

export interface RecordSpendDeps {
  spendLog: SpendLog;
  metrics: GatewayMetrics;
  accessLog: boolean;
}

/**
 * The outermost stage: whatever happens below, the request ends up in the spend log, the
 * metrics and the access log exactly once. For streams that is when the stream ends (done,
 * broken, or abandoned by the client), so usage and time to first token are known.
 */
export function createRecordSpendStage(deps: RecordSpendDeps): Stage {
  const { spendLog, metrics } = deps;
  // Model names come from clients (unknown names, `provider/anything`): past a bound, new ones
  // share one label so clients cannot blow up the metrics' cardinality.
  const seenModels = new Set<string>();
  const labelFor = (model: string): string => {
    if (seenModels.has(model)) return model;
    if (seenModels.size >= MAX_MODEL_LABELS) return 'other';
    seenModels.add(model);
    return model;
  };

  function finish(ctx: GatewayContext): void {
    const d = ctx.deployment;
    if (ctx.response?.kind === 'stream') ctx.usage = ctx.response.usage();
    ctx.costMicros = requestCostMicros(ctx, ctx.usage);
    const latencyMs = performance.now() - ctx.startedHr;
    const ttftMs = ctx.firstByteHr === null ? null : ctx.firstByteHr - ctx.startedHr;
    const model = ctx.requestedModel;
    const provider = d?.provider.name ?? 'none';
    // Responses API requests run as chat; the log and the metrics still say which API was called.
    const operation = ctx.operation;
    spendLog.record({
      id: ctx.id,
      time: ctx.startedAt,
      principal: ctx.principal?.id ?? 'anonymous',
      key_id: ctx.principal?.keyId ?? null,
      team_id: ctx.principal?.teamId ?? null,
      model,
      provider: d?.provider.name ?? null,
      upstream_model: d?.upstreamModel ?? null,
      operation,
      stream: ctx.stream,
      input_tokens: ctx.usage.input_tokens,
      cached_input_tokens: ctx.usage.cached_input_tokens,
      output_tokens: ctx.usage.output_tokens,
      cost_micros: ctx.costMicros,
      usage_estimated: ctx.usage.estimated === true,
      latency_ms: Math.round(latencyMs * 1000) / 1000,
      ttft_ms: ttftMs === null ? null : Math.round(ttftMs * 1000) / 1000,
      status: ctx.status,
      error_code: ctx.error ? ctx.error.wireCode : null,
      cache_status: ctx.cache?.status ?? null,
      saved_cost_micros: ctx.cache?.savedCostMicros ?? 0,
      fallback_chain: ctx.plan?.chainId ?? null,
      attempts: attemptsOf(ctx, latencyMs),
      loop_id: ctx.loop?.id ?? null,
      loop_step: ctx.loop?.step ?? null,
      trace_id: ctx.traceId ?? null,
      ...(ctx.guardrailHits ? { guardrails: ctx.guardrailHits } : {}),
    });
    const modelLabel = labelFor(d ? model : 'unknown');
    metrics.inFlight.value--;
    const status = ctx.status;
    // Label values joined with a byte no model or provider name holds: the tallies' key for this label set.
    const series = `${modelLabel}\u0000${provider}`;
    metrics.tallies.requests.add(`${series}\u0000${status}\u0000${operation}`, () => ({ model: modelLabel, provider, status: String(status), operation }), 1);
    metrics.latency.observe({ model: modelLabel, provider, operation }, latencyMs / 1000);
    if (ttftMs !== null) metrics.ttft.observe({ model: modelLabel, provider }, ttftMs / 1000);
    if (d) {
      const { tokens, cost } = metrics.tallies;
      if (ctx.usage.input_tokens) tokens.add(`${series}\u0000i`, () => ({ model: modelLabel, provider, type: 'input' }), ctx.usage.input_tokens);
      if (ctx.usage.cached_input_tokens) tokens.add(`${series}\u0000c`, () => ({ model: modelLabel, provider, type: 'cached_input' }), ctx.usage.cached_input_tokens);
      if (ctx.usage.output_tokens) tokens.add(`${series}\u0000o`, () => ({ model: modelLabel, provider, type: 'output' }), ctx.usage.output_tokens);
      if (ctx.costMicros) cost.add(series, () => ({ model: modelLabel, provider }), ctx.costMicros);
    }
    if (deps.accessLog) {
      ctx.log.info({ model, provider, status: ctx.status, latency_ms: Math.round(latencyMs), stream: ctx.stream, code: ctx.error?.wireCode }, 'request completed');
    }
  }

  function fail(ctx: GatewayContext, err: unknown): GatewayError {
    const gerr = toGatewayError(err);
    ctx.error = gerr;
    ctx.status = gerr.status;
    return gerr;
  }

  return {
    name: 'record-spend',
    async run(ctx, next) {
      metrics.inFlight.value++;
      try {
        await next();
      } catch (err) {
        const gerr = fail(ctx, err);
        finish(ctx);
        throw gerr;
      }
      const response = ctx.response;
      if (response?.kind !== 'stream') {
        ctx.status = response?.status ?? 200;
        finish(ctx);
        // Known before the body goes out, so clients can read what this call cost.
        ctx.responseHeaders['x-smartflow-cost-micros'] = String(ctx.costMicros);
        return;
      }
      ctx.status = response.status;
      const inner = response.frames;
      async function* observed(): AsyncGenerator<string> {
        let completed = false;
        try {
          for await (const frame of inner) {
            if (ctx.firstByteHr === null) ctx.firstByteHr = performance.now();
            yield frame;
          }
          completed = true;
        } catch (err) {
          throw fail(ctx, err);
        } finally {
          // Left early without an error: the consumer stopped reading because the client went away.
          if (!completed && !ctx.error) fail(ctx, new GatewayError('SF_ERR_CLIENT_CLOSED'));
          finish(ctx);
        }
      }
      ctx.response = { ...response, frames: observed() };
    },
  };
}
