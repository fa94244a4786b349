import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '../../keys/principal.js';
import { decodeCursor, encodeCursor } from './tool-cursor.js';
import type { EndpointScope, ToolCaller, ToolCatalog } from './tool-catalog.js';

/**
 * The route authenticates every HTTP request and hands the principal, and the request id that
 * traces the call, to the handlers through the SDK's `authInfo`.
 */
export function authInfoFor(principal: Principal, requestId: string): AuthInfo {
  return { token: '', clientId: principal.id, scopes: [], extra: { principal, requestId } };
}

function callerOf(authInfo: AuthInfo | undefined): ToolCaller {
  const principal = authInfo?.extra?.principal as Principal | undefined;
  if (!principal) throw new Error('MCP request without an authenticated principal');
  return { principal, traceId: String(authInfo?.extra?.requestId ?? '') };
}

function principalOf(authInfo: AuthInfo | undefined): Principal {
  return callerOf(authInfo).principal;
}

export interface SessionServerOptions {
  catalog: ToolCatalog;
  scope: EndpointScope;
  version: string;
  /** Tools per `tools/list` page. */
  pageSize: number;
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

  // The catalog records every call (spend log, metrics), refused ones included.
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args, _meta } = request.params;
    // Progress tokens belong to this session; the upstream connection has its own.
    const { progressToken: _progress, ...meta } = _meta ?? {};
    const { result } = await catalog.call(callerOf(extra.authInfo), scope, name, args, Object.keys(meta).length ? meta : undefined);
    return result;
  });
  return server;
}
