import type { Principal } from '../../keys/principal.js';
import type { McpServer, McpServerRegistry } from '../registry.js';
import { ToolAccessDenied, ToolNotFound } from './downstream-errors.js';

/** What one downstream endpoint serves: every server the caller may use (`/mcp`) or one (`/mcp/{alias}`). */
export type EndpointScope = { kind: 'all' } | { kind: 'one'; alias: string };

export const allowsServer = (principal: Principal, server: McpServer) => principal.policy === null || principal.policy.allowMcpServer(server);

/** Whether the caller's key or team lets it use one tool of a server (the server's own allowed/denied lists apply upstream). */
export const allowsTool = (principal: Principal, server: McpServer, tool: string) => principal.policy === null || principal.policy.allowMcpTool(server, tool);

/** Whether a server (as it is, or as it was before a change) belongs to a scope. */
export const scopeIncludes = (scope: EndpointScope, server: McpServer) => scope.kind === 'all' || scope.alias === server.alias;

/** The servers of a scope the caller may use, sorted by alias so pages are stable. */
export function serversInScope(registry: McpServerRegistry, principal: Principal, scope: EndpointScope): McpServer[] {
  if (scope.kind === 'one') {
    const server = registry.get(scope.alias)?.server;
    return server && allowsServer(principal, server) ? [server] : [];
  }
  return registry
    .list()
    .map((s) => s.server)
    .filter((s) => allowsServer(principal, s))
    .sort((a, b) => (a.alias < b.alias ? -1 : 1));
}

/** The server an alias names, if the caller may use it; otherwise the error saying why (`what` names the thing asked for). */
export function requireServer(registry: McpServerRegistry, principal: Principal, alias: string, what: string): McpServer {
  const server = registry.get(alias)?.server;
  if (!server || server.alias !== alias) throw new ToolNotFound(`Unknown ${what}: there is no MCP server "${alias}".`);
  if (!allowsServer(principal, server)) throw new ToolAccessDenied(`MCP server "${server.alias}"`);
  return server;
}
