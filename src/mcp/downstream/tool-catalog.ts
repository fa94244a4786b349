import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { RequestLog } from '../../core/request-log.js';
import type { Principal } from '../../keys/principal.js';
import type { McpServer, McpServerRegistry } from '../registry.js';
import type { UpstreamCallOptions, UpstreamCallResult, UpstreamPool, UpstreamTool } from '../upstream/upstream-pool.js';
import { ToolAccessDenied, ToolNotFound } from './downstream-errors.js';
import { mapResultUris } from './resource-uris.js';
import { allowsServer, serversInScope, type EndpointScope } from './scope-servers.js';
import { prefixedToolName, splitToolName } from './tool-names.js';

export { ToolAccessDenied, ToolNotFound } from './downstream-errors.js';
export type { EndpointScope } from './scope-servers.js';

export interface ToolCatalogDeps {
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  log: RequestLog;
}

const allowsTool = (principal: Principal, server: McpServer, tool: string) => principal.policy === null || principal.policy.allowMcpTool(server, tool);

/**
 * The tools a caller sees through the gateway's own MCP endpoint, and the routing of its calls.
 * Access is checked on every list and every call against the caller's current policy (a key
 * changed or revoked mid-session takes effect on its next request).
 */
export class ToolCatalog {
  constructor(private readonly deps: ToolCatalogDeps) {}

  private servers(principal: Principal, scope: EndpointScope): McpServer[] {
    return serversInScope(this.deps.registry, principal, scope);
  }

  /**
   * Every tool the caller may use, named for the scope. A server that cannot be reached and has
   * never listed its tools is left out (and logged) rather than failing the whole list.
   */
  async list(principal: Principal, scope: EndpointScope): Promise<UpstreamTool[]> {
    const servers = this.servers(principal, scope);
    const lists = await Promise.all(
      servers.map(async (server) => {
        try {
          const { tools } = await this.deps.upstreams.listTools(server.id);
          return tools
            .filter((t) => allowsTool(principal, server, t.name))
            .map((t) => (scope.kind === 'all' ? { ...t, name: prefixedToolName(server.alias, t.name) } : t));
        } catch (err) {
          this.deps.log.warn({ mcp_server: server.alias, err: err instanceof Error ? err.message : String(err) }, 'MCP server left out of tools/list: unreachable');
          return [];
        }
      }),
    );
    return lists.flat();
  }

  /**
   * Calls a tool by its scoped name; the upstream result comes back unchanged (on `/mcp`, with the
   * resource URIs it carries mapped so they route back), failures as MCP errors naming the server.
   */
  async call(principal: Principal, scope: EndpointScope, name: string, args: Record<string, unknown> | undefined, meta: Record<string, unknown> | undefined, options: UpstreamCallOptions = {}): Promise<{ server: McpServer; result: UpstreamCallResult }> {
    const target = scope.kind === 'one' ? { alias: scope.alias, tool: name } : splitToolName(name);
    if (!target) throw new ToolNotFound(`Unknown tool "${name}": tool names here are "{server alias}_{tool}".`);
    const server = this.deps.registry.get(target.alias)?.server;
    if (!server || server.alias !== target.alias) throw new ToolNotFound(`Unknown tool "${name}": there is no MCP server "${target.alias}".`);
    if (!allowsServer(principal, server)) throw new ToolAccessDenied(`MCP server "${server.alias}"`);
    if (!allowsTool(principal, server, target.tool)) throw new ToolAccessDenied(`tool "${target.tool}" of MCP server "${server.alias}"`);
    try {
      const result = await this.deps.upstreams.callTool(server.id, target.tool, args, meta, options);
      return { server, result: scope.kind === 'all' ? mapResultUris(server.alias, result) : result };
    } catch (err) {
      if (err instanceof McpError) throw err;
      throw new McpError(ErrorCode.InternalError, `MCP server "${server.alias}" failed the call to "${target.tool}".`);
    }
  }
}
