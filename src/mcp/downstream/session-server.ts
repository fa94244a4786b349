import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '../../keys/principal.js';
import { decodeCursor, encodeCursor } from './tool-cursor.js';
import { ToolAccessDenied, ToolNotFound, type EndpointScope, type ToolCatalog } from './tool-catalog.js';
import { splitToolName } from './tool-names.js';

/** The route authenticates every HTTP request and hands the principal to the handlers through the SDK's `authInfo`. */
export function authInfoFor(principal: Principal): AuthInfo {
  return { token: '', clientId: principal.id, scopes: [], extra: { principal } };
}

function principalOf(authInfo: AuthInfo | undefined): Principal {
  const principal = authInfo?.extra?.principal as Principal | undefined;
  if (!principal) throw new Error('MCP request without an authenticated principal');
  return principal;
}

export interface SessionServerOptions {
  catalog: ToolCatalog;
  scope: EndpointScope;
  version: string;
  /** Tools per `tools/list` page. */
  pageSize: number;
  now: () => number;
  /** Told about every finished tool call (the spend log). */
  onToolCall?: (call: ToolCallRecord) => void;
}

export interface ToolCallRecord {
  principal: Principal;
  /** The alias the tool name points at (it may not exist). */
  serverAlias: string | null;
  /** The name the client called. */
  tool: string;
  /** The upstream's own name for it. */
  upstreamTool: string;
  /** `tool_error`: the tool answered `isError: true`; `denied`: the key may not use it; `not_found`: no such server; `error`: the call failed. */
  status: 'ok' | 'tool_error' | 'denied' | 'not_found' | 'error';
  /** Epoch ms when the call arrived. */
  startedAt: number;
  latencyMs: number;
  error: string | null;
}

/** One SDK Server per session: tools/list and tools/call over the catalog; `ping` is the SDK's own. */
export function createSessionServer(options: SessionServerOptions): Server {
  const { catalog, scope } = options;
  const server = new Server({ name: scope.kind === 'one' ? `smartflow-${scope.alias}` : 'smartflow', version: options.version }, { capabilities: { tools: {} } });

  server.setRequestHandler(ListToolsRequestSchema, async (request, extra) => {
    const offset = decodeCursor(request.params?.cursor);
    const tools = await catalog.list(principalOf(extra.authInfo), scope);
    const page = tools.slice(offset, offset + options.pageSize);
    const next = offset + options.pageSize;
    return next < tools.length ? { tools: page, nextCursor: encodeCursor(next) } : { tools: page };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const principal = principalOf(extra.authInfo);
    const { name, arguments: args, _meta } = request.params;
    // Progress tokens belong to this session; the upstream connection has its own.
    const { progressToken: _progress, ...meta } = _meta ?? {};
    const started = performance.now();
    const startedAt = options.now();
    const target = scope.kind === 'one' ? { alias: scope.alias, tool: name } : splitToolName(name);
    const record = (status: ToolCallRecord['status'], error: string | null) =>
      options.onToolCall?.({ principal, serverAlias: target?.alias ?? null, tool: name, upstreamTool: target?.tool ?? name, status, startedAt, latencyMs: Math.round(performance.now() - started), error });
    try {
      const { result } = await catalog.call(principal, scope, name, args, Object.keys(meta).length ? meta : undefined);
      record(result.isError === true ? 'tool_error' : 'ok', null);
      return result;
    } catch (err) {
      record(err instanceof ToolAccessDenied ? 'denied' : err instanceof ToolNotFound ? 'not_found' : 'error', err instanceof Error ? err.message : String(err));
      throw err;
    }
  });
  return server;
}
