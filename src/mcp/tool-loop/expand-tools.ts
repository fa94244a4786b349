import type { ForwardedHeaders } from '../auth/forwarded-headers.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { RequestLog } from '../../core/request-log.js';
import type { Principal } from '../../keys/principal.js';
import type { McpServer, McpServerRegistry } from '../registry.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import { prefixedToolName } from '../downstream/tool-names.js';
import type { McpToolEntry } from './tool-entries.js';

/** An MCP tool offered to the model as a function tool named `{alias}_{tool}`. */
export interface LoopTool {
  name: string;
  description: string | undefined;
  /** The tool's inputSchema: the function's JSON Schema parameters. */
  parameters: Record<string, unknown>;
  server: McpServer;
  /** The upstream's own name for it. */
  tool: string;
}

export interface ExpandToolsDeps {
  registry: Pick<McpServerRegistry, 'get' | 'list'>;
  upstreams: Pick<UpstreamPool, 'listTools'>;
  log: RequestLog;
  /** The client request's `x-mcp-*` headers. */
  forwarded?: ForwardedHeaders;
}

const param = (entry: McpToolEntry, field: string) => `tools[${entry.index}].${field}`;

function mayUse(principal: Principal, server: McpServer): boolean {
  return principal.policy === null || principal.policy.allowMcpServer(server);
}

function mayCall(principal: Principal, server: McpServer, tool: string): boolean {
  return principal.policy === null || principal.policy.allowMcpTool(server, tool);
}

/** The servers an entry names: one alias (404 unknown, 403 denied), or every server the key may use. */
function serversOf(principal: Principal, entry: McpToolEntry, deps: ExpandToolsDeps): McpServer[] {
  if (entry.server === '*') {
    return deps.registry
      .list()
      .map((s) => s.server)
      .filter((s) => mayUse(principal, s))
      .sort((a, b) => (a.alias < b.alias ? -1 : 1));
  }
  const server = deps.registry.get(entry.server)?.server;
  if (!server || server.alias !== entry.server) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `There is no MCP server "${entry.server}".`, param: param(entry, 'server') });
  if (!mayUse(principal, server)) throw new GatewayError('SF_ERR_FORBIDDEN', { message: `This key may not use MCP server "${server.alias}".`, param: param(entry, 'server') });
  return [server];
}

/**
 * The function tools a request's MCP entries stand for, with access checked now (and again on
 * every call). A named server that cannot list its tools fails the request (the client asked
 * for it); under `*` such a server is left out and logged, as `/mcp` does.
 */
export async function expandMcpTools(principal: Principal, entries: McpToolEntry[], deps: ExpandToolsDeps): Promise<LoopTool[]> {
  const byName = new Map<string, LoopTool>();
  for (const entry of entries) {
    for (const server of serversOf(principal, entry, deps)) {
      let tools;
      try {
        tools = (await deps.upstreams.listTools(server.id, { forwarded: deps.forwarded, userId: principal.userId })).tools;
      } catch (err) {
        if (entry.server === '*') {
          deps.log.warn({ mcp_server: server.alias, err: err instanceof Error ? err.message : String(err) }, 'MCP server left out of the tool loop: unreachable');
          continue;
        }
        throw new GatewayError('SF_ERR_UPSTREAM_UNREACHABLE', { message: `MCP server "${server.alias}" could not list its tools.`, param: param(entry, 'server') });
      }
      let offered = tools.filter((t) => mayCall(principal, server, t.name));
      if (entry.allowedTools !== undefined) {
        // Under "*" the names filter (plain or `{alias}_{tool}`); for one server each must exist and be allowed.
        for (const name of entry.server === '*' ? [] : entry.allowedTools) {
          if (!mayCall(principal, server, name)) throw new GatewayError('SF_ERR_FORBIDDEN', { message: `This key may not use tool "${name}" of MCP server "${server.alias}".`, param: param(entry, 'allowed_tools') });
          if (!tools.some((t) => t.name === name)) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `MCP server "${server.alias}" has no tool "${name}".`, param: param(entry, 'allowed_tools') });
        }
        const allowed = new Set(entry.allowedTools);
        offered = offered.filter((t) => allowed.has(t.name) || allowed.has(prefixedToolName(server.alias, t.name)));
      }
      for (const t of offered) {
        const name = prefixedToolName(server.alias, t.name);
        const schema = t['inputSchema'];
        byName.set(name, {
          name,
          description: typeof t['description'] === 'string' ? t['description'] : undefined,
          parameters: typeof schema === 'object' && schema !== null ? (schema as Record<string, unknown>) : { type: 'object', properties: {} },
          server,
          tool: t.name,
        });
      }
    }
  }
  return [...byName.values()];
}
