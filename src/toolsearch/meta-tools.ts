import { z } from 'zod';
import type { GatewayTools } from '../mcp/downstream/session-server.js';
import type { ToolSearchIndex } from './tool-search-index.js';
import { K_MAX, QUERY_MAX } from './search-input.js';

/** What `/mcp` lists: every tool plus `search_tools` (`all`), or only `search_tools` and `call_tool` (`search`). */
export type Toolset = 'all' | 'search';

export const SEARCH_TOOLS = 'search_tools';
export const CALL_TOOL = 'call_tool';

const searchArgs = z.strictObject({ query: z.string().trim().min(1).max(QUERY_MAX), k: z.number().int().min(1).max(K_MAX).default(10) });
const callArgs = z.strictObject({ name: z.string().min(1).max(300), arguments: z.record(z.string(), z.unknown()).optional() });

const SEARCH_DEFINITION = {
  name: SEARCH_TOOLS,
  title: 'Search tools',
  description: 'Finds the tools of this gateway that fit a task described in plain words, best first. Each result names the tool as it is called here (`name`), its server and its description.',
  inputSchema: {
    type: 'object',
    properties: {
      query: { type: 'string', description: 'What you want to do, e.g. "read a file" or "create a GitHub issue".', minLength: 1, maxLength: QUERY_MAX },
      k: { type: 'integer', description: 'How many tools to return (default 10).', minimum: 1, maximum: K_MAX },
    },
    required: ['query'],
    additionalProperties: false,
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

const CALL_DEFINITION = {
  name: CALL_TOOL,
  title: 'Call a tool',
  description: `Calls a tool found with ${SEARCH_TOOLS}: \`name\` is the result's name ("{server}_{tool}"), \`arguments\` the tool's input.`,
  inputSchema: {
    type: 'object',
    properties: { name: { type: 'string', description: `A tool name from ${SEARCH_TOOLS}.` }, arguments: { type: 'object', description: "The tool's arguments." } },
    required: ['name'],
    additionalProperties: false,
  },
};

const errorResult = (text: string) => ({ content: [{ type: 'text', text }], isError: true });

/**
 * The tool search meta-tools of one `/mcp` session. Arguments that do not fit are a tool error the
 * model can read and correct, like any tool's; `call_tool` goes through the catalog exactly as a
 * direct call would (access checks, spend record).
 */
export function searchMetaTools(index: ToolSearchIndex, toolset: Toolset): GatewayTools {
  return {
    list: (upstream) => (toolset === 'search' ? [SEARCH_DEFINITION, CALL_DEFINITION] : [...upstream, SEARCH_DEFINITION]),
    call: (caller, name, args, forward) => {
      if (name === SEARCH_TOOLS) {
        const parsed = searchArgs.safeParse(args ?? {});
        if (!parsed.success) return Promise.resolve(errorResult(`Invalid arguments: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ')}`));
        return index.search(caller.principal, parsed.data.query, parsed.data.k).then((results) => ({ content: [{ type: 'text', text: JSON.stringify({ results }) }], structuredContent: { results } }));
      }
      if (name === CALL_TOOL && toolset === 'search') {
        const parsed = callArgs.safeParse(args ?? {});
        if (!parsed.success) return Promise.resolve(errorResult(`Invalid arguments: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ')}`));
        return forward(parsed.data.name, parsed.data.arguments);
      }
      return null;
    },
  };
}
