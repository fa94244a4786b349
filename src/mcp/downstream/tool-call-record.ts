import type { Principal } from '../../keys/principal.js';
import type { SpendGuardrailHit } from '../../spend/spend-record.js';

/**
 * `ok`; `tool_error`: the tool answered `isError: true`; `denied`: the key may not use it;
 * `not_found`: no such server or tool; `timeout`: the server did not answer within its
 * `timeout_ms`; `cancelled`: the client cancelled it; `blocked`: a guardrail refused its arguments or result; `error`: any other failure (the server's error, an unreachable server).
 */
export type ToolCallStatus = 'ok' | 'tool_error' | 'denied' | 'not_found' | 'timeout' | 'cancelled' | 'blocked' | 'error';

/** One finished tool call, from `/mcp` or the REST API: what the spend log, the metrics and the log are told. */
export interface ToolCallRecord {
  principal: Principal;
  /** The alias the call pointed at (it may not exist). */
  serverAlias: string | null;
  /** Null when the call named no registered server. */
  serverId: string | null;
  /** The name the client called (`files_read_text_file` on `/mcp`, `read_text_file` on `/mcp/files` and the REST API). */
  tool: string;
  /** The upstream's own name for it. */
  upstreamTool: string;
  status: ToolCallStatus;
  /** Epoch ms when the call arrived. */
  startedAt: number;
  latencyMs: number;
  error: string | null;
  /** `arguments` as JSON, in bytes. */
  bytesIn: number;
  /** The result as JSON, in bytes; 0 without a result. */
  bytesOut: number;
  /** The id of the HTTP request that carried the call (`x-request-id`). */
  traceId: string;
  /** A call a tool loop made: the loop (the client request's id) and the LLM step that asked for it. */
  loop?: { id: string; step: number };
  /** Guardrails that blocked, masked or flagged the arguments (`pre`) or the result (`post`); absent when none did. */
  guardrails?: SpendGuardrailHit[];
  /** Only for servers with `log_payloads: true`: what went in and came out, unredacted (the recorder redacts). */
  payload?: { arguments: Record<string, unknown>; result: Record<string, unknown> | null };
}

/** Told about every finished tool call. */
export type ToolCallRecorder = (call: ToolCallRecord) => void;
