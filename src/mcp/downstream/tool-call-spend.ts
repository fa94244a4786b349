import { randomUUID } from 'node:crypto';
import type { SpendRecord } from '../../spend/spend-record.js';
import type { ToolCallRecord } from './session-server.js';

const STATUS: Record<ToolCallRecord['status'], { status: number; error_code: string | null }> = {
  ok: { status: 200, error_code: null },
  tool_error: { status: 200, error_code: 'mcp_tool_error' },
  denied: { status: 403, error_code: 'mcp_tool_denied' },
  not_found: { status: 404, error_code: 'mcp_tool_not_found' },
  error: { status: 502, error_code: 'mcp_upstream_error' },
};

/**
 * A tool call as a spend-log row (operation `mcp.call`), in the columns LLM calls use: `model`
 * is the tool name as the client called it, `provider` the server alias, `upstream_model` the
 * upstream's own tool name. Arguments and results are never recorded.
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
    loop_id: null,
    loop_step: null,
  };
}
