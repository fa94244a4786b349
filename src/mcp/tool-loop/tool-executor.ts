import { performance } from 'node:perf_hooks';
import type { Principal } from '../../keys/principal.js';
import type { SpendLog } from '../../spend/spend-log.js';
import { ToolAccessDenied, ToolNotFound, type ToolCatalog } from '../downstream/tool-catalog.js';
import type { ToolCallRecord } from '../downstream/session-server.js';
import { spendRecordOfToolCall } from '../downstream/tool-call-spend.js';
import type { LoopTool } from './expand-tools.js';
import type { LoopToolCall, LoopToolResult } from './tool-loop.js';

export interface LoopToolExecutorDeps {
  catalog: Pick<ToolCatalog, 'call'>;
  spendLog: Pick<SpendLog, 'record'>;
  principal: Principal;
  /** The tools offered to the model, by their `{alias}_{tool}` names. */
  tools: ReadonlyMap<string, LoopTool>;
  /** Links the `mcp.call` rows to the loop's LLM steps in the spend log. */
  loopId: string;
  now: () => number;
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
 * each call is an `mcp.call` row of the spend log, linked to the loop and the step that asked.
 */
export function createLoopToolExecutor(deps: LoopToolExecutorDeps): (call: LoopToolCall, step: number) => Promise<LoopToolResult> {
  return async (call, step) => {
    const tool = deps.tools.get(call.name);
    const startedAt = deps.now();
    const started = performance.now();
    const record = (status: ToolCallRecord['status']) =>
      deps.spendLog.record({
        ...spendRecordOfToolCall({ principal: deps.principal, serverAlias: tool?.server.alias ?? null, tool: call.name, upstreamTool: tool?.tool ?? call.name, status, startedAt, latencyMs: Math.round(performance.now() - started), error: null }),
        loop_id: deps.loopId,
        loop_step: step,
      });
    if (!tool) {
      record('not_found');
      return { callId: call.id, text: `There is no tool "${call.name}".`, isError: true };
    }
    const args = parseArguments(call.arguments);
    if (typeof args === 'string') {
      record('tool_error');
      return { callId: call.id, text: args, isError: true };
    }
    try {
      const { result } = await deps.catalog.call(deps.principal, { kind: 'one', alias: tool.server.alias }, tool.tool, args, undefined);
      const isError = result['isError'] === true;
      record(isError ? 'tool_error' : 'ok');
      return { callId: call.id, text: toolResultText(result), isError };
    } catch (err) {
      record(err instanceof ToolAccessDenied ? 'denied' : err instanceof ToolNotFound ? 'not_found' : 'error');
      return { callId: call.id, text: err instanceof Error ? err.message : String(err), isError: true };
    }
  };
}
