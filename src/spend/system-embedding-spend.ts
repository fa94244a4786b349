import type { ModelDeployment } from '../providers/registry.js';
import type { Usage } from '../providers/types.js';
import { costMicros } from './pricing.js';
import type { SpendRecord } from './spend-record.js';

/**
 * A spend row for an embeddings call the gateway makes for itself (the semantic cache, the tool
 * search index): no key pays, but the operator sees the tokens and what they cost, under a
 * principal of its own.
 */
export function systemEmbeddingSpendRow(call: {
  id: string;
  principal: string;
  time: number;
  deployment: ModelDeployment;
  usage: Usage;
  latencyMs: number;
  status: number;
  errorCode: string | null;
}): SpendRecord {
  const { deployment, usage } = call;
  return {
    id: call.id,
    time: call.time,
    principal: call.principal,
    key_id: null,
    team_id: null,
    model: deployment.name,
    provider: deployment.provider.name,
    upstream_model: deployment.upstreamModel,
    operation: 'embeddings',
    stream: false,
    input_tokens: usage.input_tokens,
    cached_input_tokens: usage.cached_input_tokens,
    output_tokens: usage.output_tokens,
    cost_micros: costMicros(usage, deployment.price),
    usage_estimated: usage.estimated === true,
    latency_ms: Math.round(call.latencyMs * 1000) / 1000,
    ttft_ms: null,
    status: call.status,
    error_code: call.errorCode,
    cache_status: null,
    saved_cost_micros: 0,
    fallback_chain: null,
    attempts: null,
    loop_id: null,
    loop_step: null,
    trace_id: null,
  };
}
