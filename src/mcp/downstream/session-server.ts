import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '../../keys/principal.js';
import type { FeatureCatalog } from './feature-catalog.js';
import { forwarded, forwardedOf, upstreamMeta } from './forwarding.js';
import { registerSessionFeatures } from './session-features.js';
import type { SessionEvents } from './session-events.js';
import { decodeCursor, encodeCursor } from './tool-cursor.js';
import type { EndpointScope, ToolCaller, ToolCatalog } from './tool-catalog.js';
import type { UpstreamCallResult, UpstreamTool } from '../upstream/upstream-pool.js';

/**
 * Tools the gateway offers itself (tool search's `search_tools`, `call_tool`): they decide what a
 * session lists given the upstream tools, and answer calls to their own names (null: not theirs).
 */
export interface GatewayTools {
  list(upstream: UpstreamTool[]): UpstreamTool[];
  call(caller: ToolCaller, name: string, args: Record<string, unknown> | undefined, forward: (name: string, args: Record<string, unknown> | undefined) => Promise<UpstreamCallResult>): Promise<UpstreamCallResult> | null;
}

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
  /** Resources, prompts, completion, logging. */
  features: FeatureCatalog;
  /** List changes and log messages of the servers in scope, heard as `principal`. */
  events: SessionEvents;
  /** The principal that opened the session (each request still carries its own). */
  principal: Principal;
  scope: EndpointScope;
  version: string;
  /** Items per `tools/list` (and resources, templates, prompts) page. */
  pageSize: number;
  gatewayTools?: GatewayTools;
}

/**
 * The capabilities a session announces. Resource subscriptions are not offered: the gateway does
 * not relay `resources/updated` yet.
 */
const CAPABILITIES = { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, completions: {}, logging: {} };

/**
 * One SDK Server per session: tools, resources, prompts, completion and logging over the catalogs; `ping` is the SDK's own.
 * The SDK's server half is loaded with the first session, not at start (about 4 MiB of RSS with `ajv`).
 */
export async function createSessionServer(options: SessionServerOptions): Promise<Server> {
  const { Server } = await import('@modelcontextprotocol/sdk/server/index.js');
  const { catalog, scope } = options;
  const server = new Server({ name: scope.kind === 'one' ? `smartflow-${scope.alias}` : 'smartflow', version: options.version }, { capabilities: CAPABILITIES });

  server.setRequestHandler(ListToolsRequestSchema, async (request, extra) => {
    const offset = decodeCursor(request.params?.cursor);
    const upstream = await catalog.list(principalOf(extra.authInfo), scope, forwardedOf(extra));
    const tools = options.gatewayTools ? options.gatewayTools.list(upstream) : upstream;
    const page = tools.slice(offset, offset + options.pageSize);
    const next = offset + options.pageSize;
    return next < tools.length ? { tools: page, nextCursor: encodeCursor(next) } : { tools: page };
  });

  // The catalog records every call (spend log, metrics), refused ones included.
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args, _meta } = request.params;
    const forward = async (tool: string, toolArgs: Record<string, unknown> | undefined) => (await forwarded(extra, (o) => catalog.call(callerOf(extra.authInfo), scope, tool, toolArgs, upstreamMeta(_meta), o))).result;
    return (await options.gatewayTools?.call(callerOf(extra.authInfo), name, args, forward)) ?? forward(name, args);
  });
  registerSessionFeatures(server, { features: options.features, scope, pageSize: options.pageSize, principalOf: (authInfo) => principalOf(authInfo as AuthInfo | undefined), events: options.events, principal: options.principal });
  return server;
}
