import type { RequestLog } from '../../core/request-log.js';
import type { McpMetrics } from '../../metrics/metrics.js';
import type { SpendLog } from '../../spend/spend-log.js';
import { loggablePayload } from '../payload-redaction.js';
import type { ToolCallRecorder } from './tool-call-record.js';
import { spendRecordOfToolCall } from './tool-call-spend.js';

/** Arguments and results logged for `log_payloads` servers are cut at this size, each. */
export const PAYLOAD_LOG_MAX_BYTES = 8192;

export interface ToolCallRecorderDeps {
  spendLog: SpendLog;
  metrics: McpMetrics;
  log: RequestLog;
}

/**
 * Where a finished tool call goes, whichever surface it came through: a spend-log row, the
 * metrics (labelled by the registered server alias only), a warning when it failed, and, for
 * servers with `log_payloads: true`, a log line with its arguments and result, redacted.
 */
export function createToolCallRecorder(deps: ToolCallRecorderDeps): ToolCallRecorder {
  return (call) => {
    deps.spendLog.record(spendRecordOfToolCall(call));
    // A call naming no registered server carries a client-chosen alias: it must not become a label.
    const server = call.serverId === null ? 'unknown' : (call.serverAlias ?? 'unknown');
    deps.metrics.toolCalls.inc({ server, status: call.status });
    deps.metrics.toolCallDuration.observe({ server }, call.latencyMs / 1000);
    deps.metrics.toolCallBytes.inc({ server, direction: 'in' }, call.bytesIn);
    deps.metrics.toolCallBytes.inc({ server, direction: 'out' }, call.bytesOut);
    const where = { operation: 'mcp.call', mcp_server: call.serverAlias, tool: call.upstreamTool, trace_id: call.traceId };
    if (call.status === 'error' || call.status === 'timeout') deps.log.warn({ ...where, err: call.error }, 'MCP tool call failed');
    if (call.payload) {
      deps.log.info(
        {
          ...where,
          status: call.status,
          arguments: loggablePayload(call.payload.arguments, PAYLOAD_LOG_MAX_BYTES),
          result: call.payload.result === null ? null : loggablePayload(call.payload.result, PAYLOAD_LOG_MAX_BYTES),
        },
        'MCP tool call payload',
      );
    }
  };
}
