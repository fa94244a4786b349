import type { ForwardedHeaders } from '../auth/forwarded-headers.js';
import type { Principal } from '../../keys/principal.js';
import type { ToolCatalog } from '../downstream/tool-catalog.js';
import type { LoopTool } from './expand-tools.js';
import type { LoopToolCall, LoopToolResult } from './tool-loop.js';

export interface LoopToolExecutorDeps {
  catalog: Pick<ToolCatalog, 'call'>;
  principal: Principal;
  /** The tools offered to the model, by their `{alias}_{tool}` names. */
  tools: ReadonlyMap<string, LoopTool>;
  /** Links the `mcp.call` rows to the loop's LLM steps in the spend log (the client request's id). */
  loopId: string;
  /** The trace the calls belong to (an A2A task's `X-A2A-Trace-Id`); the loop id when none. */
  traceId?: string;
  /** Aborts the tool call in flight (an A2A task canceled); the server gets `notifications/cancelled`. */
  signal?: AbortSignal;
  /** The client request's `x-mcp-*` headers, for the servers the loop calls. */
  forwarded?: ForwardedHeaders;
}

/** What a tool result says, as text a model can read: text parts as they are, other parts as JSON. */
export function toolResultText(result: Record<string, unknown>): string {
  const content = Array.isArray(result['content']) ? (result['content'] as Array<Record<string, unknown>>) : [];
  const parts = content.map((c) => (c['type'] === 'text' && typeof c['text'] === 'string' ? c['text'] : JSON.stringify(c)));
  if (parts.length === 0 && result['structuredContent'] !== undefined) parts.push(JSON.stringify(result['structuredContent']));
  return parts.join('\n');
}

function parseArguments(text: string): Record<string, unknown> | string {
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported to the model below
  }
  return 'The tool arguments must be a JSON object.';
}

/**
 * Runs the model's tool calls through the ToolCatalog, so access is checked on every call and
 * each call is an `mcp.call` row of the spend log (the catalog records it), linked to the loop
 * and the step that asked. Arguments that are not a JSON object never reach a server: the model
 * is told so and may try again.
 */
export function createLoopToolExecutor(deps: LoopToolExecutorDeps): (call: LoopToolCall, step: number) => Promise<LoopToolResult> {
  return async (call, step) => {
    const tool = deps.tools.get(call.name);
    if (!tool) return { callId: call.id, text: `There is no tool "${call.name}".`, isError: true };
    const args = parseArguments(call.arguments);
    if (typeof args === 'string') return { callId: call.id, text: args, isError: true };
    try {
      const caller = { principal: deps.principal, traceId: deps.traceId ?? deps.loopId, loop: { id: deps.loopId, step }, ...(deps.forwarded ? { forwarded: deps.forwarded } : {}) };
      const { result } = await deps.catalog.call(caller, { kind: 'one', alias: tool.server.alias }, tool.tool, args, undefined, deps.signal ? { signal: deps.signal } : {});
      return { callId: call.id, text: toolResultText(result), isError: result['isError'] === true };
    } catch (err) {
      return { callId: call.id, text: err instanceof Error ? err.message : String(err), isError: true };
    }
  };
}
