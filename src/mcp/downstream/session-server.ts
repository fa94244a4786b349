import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '../../keys/principal.js';
import type { FeatureCatalog } from './feature-catalog.js';
import { forwarded, upstreamMeta } from './forwarding.js';
import { registerSessionFeatures } from './session-features.js';
import type { SessionEvents } from './session-events.js';
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
  /** Resources, prompts, completion, logging; without it the session serves tools only. */
  features?: FeatureCatalog;
  /** List changes and log messages of the servers in scope, heard as `principal` (with `features`). */
  events?: SessionEvents;
  /** The principal that opened the session (each request still carries its own). */
  principal?: Principal;
  scope: EndpointScope;
  version: string;
  /** Items per `tools/list` (and resources, templates, prompts) page. */
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
  /** `tool_error`: the tool answered `isError: true`; `denied`: the key may not use it; `not_found`: no such server; `cancelled`: the client cancelled it; `error`: the call failed. */
  status: 'ok' | 'tool_error' | 'denied' | 'not_found' | 'cancelled' | 'error';
  /** Epoch ms when the call arrived. */
  startedAt: number;
  latencyMs: number;
  error: string | null;
}

/**
 * The capabilities a session announces. Resource subscriptions are not offered: the gateway does
 * not relay `resources/updated` yet.
 */
const FULL_CAPABILITIES = { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, completions: {}, logging: {} };

/** One SDK Server per session: tools, resources, prompts, completion and logging over the catalogs; `ping` is the SDK's own. */
export function createSessionServer(options: SessionServerOptions): Server {
  const { catalog, scope } = options;
  const capabilities = options.features ? FULL_CAPABILITIES : { tools: {} };
  const server = new Server({ name: scope.kind === 'one' ? `smartflow-${scope.alias}` : 'smartflow', version: options.version }, { capabilities });

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
    const started = performance.now();
    const startedAt = options.now();
    const target = scope.kind === 'one' ? { alias: scope.alias, tool: name } : splitToolName(name);
    const record = (status: ToolCallRecord['status'], error: string | null) =>
      options.onToolCall?.({ principal, serverAlias: target?.alias ?? null, tool: name, upstreamTool: target?.tool ?? name, status, startedAt, latencyMs: Math.round(performance.now() - started), error });
    try {
      const { result } = await forwarded(extra, (o) => catalog.call(principal, scope, name, args, upstreamMeta(_meta), o));
      record(result.isError === true ? 'tool_error' : 'ok', null);
      return result;
    } catch (err) {
      const status = err instanceof ToolAccessDenied ? 'denied' : err instanceof ToolNotFound ? 'not_found' : extra.signal.aborted ? 'cancelled' : 'error';
      record(status, err instanceof Error ? err.message : String(err));
      throw err;
    }
  });
  if (options.features) registerSessionFeatures(server, { features: options.features, scope, pageSize: options.pageSize, principalOf: (authInfo) => principalOf(authInfo as AuthInfo | undefined), events: options.events, principal: options.principal });
  return server;
}
