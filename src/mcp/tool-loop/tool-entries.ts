import { z } from 'zod';
import { invalidRequest } from '../../errors/from-zod.js';

/**
 * The tool entries that ask the gateway to run an MCP tool loop (docs/mcp.md, "Tool loop"):
 * `{"type":"mcp","server":"<alias>"|"*"}` on both OpenAI surfaces, and on `/v1/responses` also
 * OpenAI's hosted-MCP shape when its `server_label` names a registered alias and it has no
 * `server_url` (with one, the provider itself runs the tool, and the entry passes through).
 */

const ALIAS = /^[a-z][a-z0-9-]{0,31}$/;
const serverName = z.string().refine((s) => s === '*' || ALIAS.test(s), 'an MCP server alias (lower-case letters, digits, "-") or "*" for every server this key may use');
const toolName = z.string().min(1).max(256);

const entrySchema = z.looseObject({
  type: z.literal('mcp'),
  server: serverName.optional(),
  server_label: serverName.optional(),
  /** A list of tool names, or OpenAI's `{tool_names: [...]}` filter. */
  allowed_tools: z.union([z.array(toolName).max(1000), z.looseObject({ tool_names: z.array(toolName).max(1000).optional() })]).optional(),
  /** LLM calls this loop may make, the first included (docs/mcp.md). */
  max_steps: z.number().int().min(1).max(100).optional(),
});

/** One validated entry: which server (or `*`), and which of its tools (all when absent). */
export interface McpToolEntry {
  server: string;
  allowedTools: string[] | undefined;
  maxSteps: number | undefined;
  /** Where the entry sits in `tools`, for error messages naming the field. */
  index: number;
}

/** True for an entry the gateway runs itself, false for one it leaves to the provider. */
function isGatewayEntry(tool: unknown): boolean {
  if (typeof tool !== 'object' || tool === null) return false;
  const t = tool as Record<string, unknown>;
  return t['type'] === 'mcp' && t['server_url'] === undefined && t['connector_id'] === undefined;
}

/** True when a request body asks for the gateway's tool loop (cheap: no validation). */
export function hasMcpToolEntries(body: unknown): boolean {
  const tools = (body as { tools?: unknown } | null)?.tools;
  return Array.isArray(tools) && tools.some(isGatewayEntry);
}

/**
 * Splits `tools` into the gateway's MCP entries (validated, 400 naming the field on a bad one)
 * and the rest, which go to the model as the client sent them.
 */
export function splitMcpToolEntries(tools: unknown[]): { entries: McpToolEntry[]; rest: unknown[] } {
  const entries: McpToolEntry[] = [];
  const rest: unknown[] = [];
  tools.forEach((tool, index) => {
    if (!isGatewayEntry(tool)) {
      rest.push(tool);
      return;
    }
    const parsed = entrySchema.safeParse(tool);
    if (!parsed.success) {
      const err = invalidRequest(new z.ZodError(parsed.error.issues.map((i) => ({ ...i, path: ['tools', index, ...i.path] }))));
      throw err;
    }
    const server = parsed.data.server ?? parsed.data.server_label;
    if (server === undefined) throw invalidRequest(new z.ZodError([{ code: 'custom', path: ['tools', index, 'server'], message: 'an MCP tool entry needs "server" (an alias, or "*")', input: tool }]));
    const allowed = parsed.data.allowed_tools;
    entries.push({ server, allowedTools: Array.isArray(allowed) ? allowed : allowed?.tool_names, maxSteps: parsed.data.max_steps, index });
  });
  return { entries, rest };
}
