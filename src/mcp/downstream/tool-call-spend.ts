import { randomUUID } from 'node:crypto';
import type { SpendRecord } from '../../spend/spend-record.js';
import type { ToolCallRecord } from './tool-call-record.js';

const STATUS: Record<ToolCallRecord['status'], { status: number; error_code: string | null }> = {
  ok: { status: 200, error_code: null },
  tool_error: { status: 200, error_code: 'mcp_tool_error' },
  denied: { status: 403, error_code: 'mcp_tool_denied' },
  not_found: { status: 404, error_code: 'mcp_tool_not_found' },
  timeout: { status: 504, error_code: 'mcp_upstream_timeout' },
  // 499 as for an LLM request the client gave up on.
  cancelled: { status: 499, error_code: 'mcp_call_cancelled' },
  blocked: { status: 400, error_code: 'guardrail_blocked' },
  error: { status: 502, error_code: 'mcp_upstream_error' },
};

/**
 * A tool call as a spend-log row (operation `mcp.call`), in the columns LLM calls use: `model`
 * is the tool name as the client called it, `provider` the server alias, `upstream_model` the
 * upstream's own tool name; `mcp` adds the server id, the sizes and the trace id. Arguments and
 * results are never recorded here (a server's `log_payloads` writes them to the log).
 */
export function spendRecordOfToolCall(call: ToolCallRecord): SpendRecord {
  return {
    id: randomUUID(),
    time: call.startedAt,
    principal: call.principal.id,
    key_id: call.principal.keyId,
    team_id: call.principal.teamId,
    model: call.tool,
    provider: call.serverAlias,
    upstream_model: call.upstreamTool,
    operation: 'mcp.call',
    stream: false,
    input_tokens: 0,
    cached_input_tokens: 0,
    output_tokens: 0,
    cost_micros: 0,
    usage_estimated: false,
    latency_ms: call.latencyMs,
    ttft_ms: null,
    ...STATUS[call.status],
    cache_status: null,
    saved_cost_micros: 0,
    fallback_chain: null,
    attempts: null,
    mcp: { server_id: call.serverId, bytes_in: call.bytesIn, bytes_out: call.bytesOut },
    loop_id: call.loop?.id ?? null,
    loop_step: call.loop?.step ?? null,
    trace_id: call.traceId,
    ...(call.guardrails ? { guardrails: call.guardrails } : {}),
  };
}
