/**
 * MCP access lists of a key or a team. `mcp_servers` holds aliases, server ids (`mcp_…`, which
 * survive renames) or `*`; an empty list allows no MCP server at all, the secure default.
 * `mcp_tools` holds `server/tool` patterns (server: alias, id or `*`; tool: a name with `*`
 * matching any run of characters); an empty list allows every tool of the allowed servers.
 */

/** Which server a check is about: access lists may name it by alias or by id. */
export interface McpServerRef {
  id: string;
  alias: string;
}

export interface McpAccess {
  server(server: McpServerRef): boolean;
  tool(server: McpServerRef, tool: string): boolean;
}

/** `*`, an alias (no `_`) or a server id (`mcp_…`). */
export const MCP_SERVER_ENTRY = /^(?:\*|[a-z][a-z0-9-]{0,31}|mcp_[a-z0-9_-]{1,60})$/;
/** `<server entry>/<tool pattern>`. */
export const MCP_TOOL_ENTRY = /^(?:\*|[a-z][a-z0-9-]{0,31}|mcp_[a-z0-9_-]{1,60})\/[A-Za-z0-9_.:*-]{1,128}$/;

const names = (list: ReadonlySet<string>, server: McpServerRef) => list.has('*') || list.has(server.alias) || list.has(server.id);

function glob(pattern: string): (name: string) => boolean {
  if (!pattern.includes('*')) return (name) => name === pattern;
  const re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return (name) => re.test(name);
}

export function compileMcpAccess(servers: readonly string[] = [], tools: readonly string[] = []): McpAccess {
  const serverSet = new Set(servers);
  const toolRules = tools.map((entry) => {
    const slash = entry.indexOf('/');
    return { server: entry.slice(0, slash), tool: glob(entry.slice(slash + 1)) };
  });
  const server = (ref: McpServerRef) => names(serverSet, ref);
  return {
    server,
    tool: (ref, tool) =>
      server(ref) && (toolRules.length === 0 || toolRules.some((r) => (r.server === '*' || r.server === ref.alias || r.server === ref.id) && r.tool(tool))),
  };
}
