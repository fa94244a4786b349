import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { RequestLog } from '../../core/request-log.js';
import type { Principal } from '../../keys/principal.js';
import type { McpServer, McpServerRegistry } from '../registry.js';
import type { UpstreamCallResult, UpstreamPool, UpstreamTool } from '../upstream/upstream-pool.js';
import { prefixedToolName, splitToolName } from './tool-names.js';

/** What one downstream endpoint serves: every server the caller may use (`/mcp`) or one (`/mcp/{alias}`). */
export type EndpointScope = { kind: 'all' } | { kind: 'one'; alias: string };

export interface ToolCatalogDeps {
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  log: RequestLog;
}

/** The tool name points at no registered server (recorded as 404 in the spend log). */
export class ToolNotFound extends McpError {
  constructor(message: string) {
    super(ErrorCode.InvalidParams, message);
  }
}

/** The caller's key or team may not use this server or tool (recorded as 403 in the spend log). */
export class ToolAccessDenied extends McpError {
  constructor(what: string) {
    super(ErrorCode.InvalidParams, `This key may not use ${what}.`);
  }
}

const allowsServer = (principal: Principal, server: McpServer) => principal.policy === null || principal.policy.allowMcpServer(server);
const allowsTool = (principal: Principal, server: McpServer, tool: string) => principal.policy === null || principal.policy.allowMcpTool(server, tool);

/**
 * The tools a caller sees through the gateway's own MCP endpoint, and the routing of its calls.
 * Access is checked on every list and every call against the caller's current policy (a key
 * changed or revoked mid-session takes effect on its next request).
 */
export class ToolCatalog {
  constructor(private readonly deps: ToolCatalogDeps) {}

  /** The servers of a scope the caller may use, sorted by alias so pages are stable. */
  private servers(principal: Principal, scope: EndpointScope): McpServer[] {
    if (scope.kind === 'one') {
      const server = this.deps.registry.get(scope.alias)?.server;
      return server && allowsServer(principal, server) ? [server] : [];
    }
    return this.deps.registry
      .list()
      .map((s) => s.server)
      .filter((s) => allowsServer(principal, s))
      .sort((a, b) => (a.alias < b.alias ? -1 : 1));
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

  /** Calls a tool by its scoped name; the upstream result comes back unchanged, failures as MCP errors naming the server. */
  async call(principal: Principal, scope: EndpointScope, name: string, args: Record<string, unknown> | undefined, meta: Record<string, unknown> | undefined): Promise<{ server: McpServer; result: UpstreamCallResult }> {
    const target = scope.kind === 'one' ? { alias: scope.alias, tool: name } : splitToolName(name);
    if (!target) throw new ToolNotFound(`Unknown tool "${name}": tool names here are "{server alias}_{tool}".`);
    const server = this.deps.registry.get(target.alias)?.server;
    if (!server || server.alias !== target.alias) throw new ToolNotFound(`Unknown tool "${name}": there is no MCP server "${target.alias}".`);
    if (!allowsServer(principal, server)) throw new ToolAccessDenied(`MCP server "${server.alias}"`);
    if (!allowsTool(principal, server, target.tool)) throw new ToolAccessDenied(`tool "${target.tool}" of MCP server "${server.alias}"`);
    try {
      return { server, result: await this.deps.upstreams.callTool(server.id, target.tool, args, meta) };
    } catch (err) {
      if (err instanceof McpError) throw err;
      throw new McpError(ErrorCode.InternalError, `MCP server "${server.alias}" failed the call to "${target.tool}".`);
    }
  }
}
