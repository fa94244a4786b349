import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { RequestLog } from '../core/request-log.js';
import { evaluateText, type CompiledGuardrail, type GuardrailHit } from '../guardrails/compile.js';
import { rewriteOutputTexts } from '../guardrails/text-fields.js';
import type { ToolCallGuard } from '../mcp/downstream/tool-catalog.js';
import type { SpendGuardrailHit } from '../spend/spend-record.js';
import type { PolicySnapshot } from './policy-snapshot.js';

const RANK = { flag: 0, mask: 1, block: 2 } as const;

/** A tool call refused by a guardrail: an MCP error whose data names the guardrail (`/api/mcp/tools/call` maps it to 400 guardrail_blocked). */
export class ToolGuardrailBlocked extends McpError {
  constructor(hit: GuardrailHit, where: 'arguments' | 'result') {
    super(ErrorCode.InvalidRequest, `The guardrail "${hit.guardrail}" blocked the tool call's ${where} (${hit.categories.join(', ')}).`, { code: 'guardrail_blocked', guardrail: hit.guardrail });
  }
}

/** Every string leaf of a JSON value, rewritten in place (tool arguments have no fixed prose fields). */
async function rewriteStrings(value: unknown, rewrite: (s: string) => Promise<string>, depth = 0): Promise<unknown> {
  if (typeof value === 'string') return rewrite(value);
  if (depth > 32 || value === null || typeof value !== 'object') return value;
  const entries = Array.isArray(value) ? value.entries() : Object.entries(value as Record<string, unknown>);
  for (const [key, child] of entries) {
    const next = await rewriteStrings(child, rewrite, depth + 1);
    if (next !== child) (value as Record<string | number, unknown>)[key] = next;
  }
  return value;
}

/**
 * Guardrail policies on MCP tool calls: the caller's team, key alias and tags, and the model name
 * `mcp:<server alias>`, pick the policies; pre-stage guardrails check every string of the
 * arguments, post-stage ones the result's text. Blocks throw ToolGuardrailBlocked; masks rewrite.
 */
export function createToolCallGuard(snapshot: () => PolicySnapshot, log: RequestLog): ToolCallGuard {
  async function run(value: unknown, guardrails: readonly CompiledGuardrail[], stage: 'pre' | 'post', context: Record<string, unknown>, report: (hit: SpendGuardrailHit) => void): Promise<void> {
    const texts: string[] = [];
    if (stage === 'post') rewriteOutputTexts(value, (t) => (texts.push(t), t));
    else await rewriteStrings(value, async (t) => (texts.push(t), t));
    const verdicts = await Promise.all(texts.map((t) => evaluateText(t, guardrails, stage)));
    const merged = new Map<string, GuardrailHit>();
    for (const verdict of verdicts) {
      for (const hit of verdict.hits) {
        const seen = merged.get(hit.guardrail);
        merged.set(hit.guardrail, seen ? { ...seen, action: RANK[hit.action] > RANK[seen.action] ? hit.action : seen.action, categories: [...new Set([...seen.categories, ...hit.categories])] } : hit);
      }
    }
    for (const hit of merged.values()) {
      report({ guardrail: hit.guardrail, stage, action: hit.action, categories: hit.categories });
      if (hit.action === 'flag') log.warn({ ...context, guardrail: hit.guardrail, stage, categories: hit.categories }, 'guardrail flagged an MCP tool call');
    }
    const blocked = verdicts.find((v) => v.blocked)?.blocked;
    if (blocked) throw new ToolGuardrailBlocked(blocked, stage === 'pre' ? 'arguments' : 'result');
    let i = 0;
    if (stage === 'post') rewriteOutputTexts(value, () => verdicts[i++]!.text);
    else await rewriteStrings(value, async () => verdicts[i++]!.text);
  }
  const resolve = (caller: Parameters<ToolCallGuard['arguments']>[0], alias: string) => {
    const snap = snapshot();
    if (!snap.hasAttachments) return null;
    const p = caller.principal;
    return snap.resolve({ team: p.teamId, key_alias: p.keyAlias ?? null, model: `mcp:${alias}`, tags: p.tags ?? [] });
  };
  return {
    async arguments(caller, server, tool, args, report) {
      const resolution = resolve(caller, server.alias);
      if (!resolution || resolution.pre.length === 0 || args === undefined) return args;
      const copy = structuredClone(args);
      await run(copy, resolution.pre, 'pre', { mcp_server: server.alias, tool }, report);
      return copy;
    },
    async result(caller, server, tool, result, report) {
      const resolution = resolve(caller, server.alias);
      if (!resolution || resolution.post.length === 0) return result;
      const copy = structuredClone(result);
      await run(copy, resolution.post, 'post', { mcp_server: server.alias, tool }, report);
      return copy;
    },
  };
}
