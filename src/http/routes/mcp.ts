import { newSessionId } from '../../cluster/session-id.js';
import type { IncomingMessage } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { McpConfig } from '../../mcp/server-schema.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Authenticator } from '../../keys/authenticator.js';
import type { RequestLog } from '../../core/request-log.js';
import { GATEWAY_VERSION } from '../../core/version.js';
import { ACTION_WITHOUT_BODY, authenticatedScope, principalOf } from '../plugins/authenticate.js';
import type { McpServerRegistry } from '../../mcp/registry.js';
import { SessionEventStore } from '../../mcp/downstream/event-store.js';
import { LeanHttpServerTransport } from '../../mcp/downstream/lean-http-server-transport.js';
import { createHostCheck } from '../../mcp/downstream/host-check.js';
import { createOriginCheck } from '../../mcp/downstream/origin-check.js';
import { authInfoFor, createSessionServer } from '../../mcp/downstream/session-server.js';
import { ownsSession, SessionTable } from '../../mcp/downstream/session-table.js';
import type { EndpointScope, ToolCatalog } from '../../mcp/downstream/tool-catalog.js';
import { registerLegacySseRoutes, type McpEndpointContext } from './mcp-legacy-sse.js';
import { rpcError } from './mcp-rpc-error.js';
import { FeatureCatalog } from '../../mcp/downstream/feature-catalog.js';
import type { Principal } from '../../keys/principal.js';
import { searchMetaTools, type Toolset } from '../../toolsearch/meta-tools.js';
import type { ToolSearchIndex } from '../../toolsearch/tool-search-index.js';
import { z } from 'zod';
import { parseInput } from '../parse.js';
import { SessionEvents } from '../../mcp/downstream/session-events.js';
import type { UpstreamPool } from '../../mcp/upstream/upstream-pool.js';

export interface McpRouteDeps {
  authenticator: Authenticator;
  registry: McpServerRegistry;
  /** Shared with the REST tool API, so both record calls the same way. */
  catalog: ToolCatalog;
  upstreams: UpstreamPool;
  config: McpConfig;
  log: RequestLog;
  now: () => number;
  /** Adds `search_tools` to `/mcp`, and `?toolset=search` (only `search_tools` and `call_tool`). */
  toolSearch?: ToolSearchIndex;
}

const toolsetSchema = z.object({ toolset: z.enum(['all', 'search'], 'toolset must be "all" or "search"').default('all') });

const SESSION_HEADER = 'mcp-session-id';
/**
 * An answer ready this soon after its POST goes back as plain JSON; a slower one gets an SSE
 * stream (primed, so a client that loses it can resume), as do calls that ask for progress.
 */
const JSON_WINDOW_MS = 50;

/**
 * The gateway's own MCP endpoint (Streamable HTTP): `/mcp` aggregates the tools of every server
 * the caller may use as `{alias}_{tool}`; `/mcp/{alias}` serves one server unprefixed. The
 * legacy HTTP+SSE transport (`/sse`) shares the session table and checks (mcp-legacy-sse.ts).
 * Every HTTP request is authenticated and Host- and Origin-checked before the SDK sees it;
 * access is checked again on every list and call. Sessions live in this instance's memory.
 */
export function registerMcpRoutes(app: FastifyInstance, deps: McpRouteDeps): void {
  const { catalog } = deps;
  const features = new FeatureCatalog({ registry: deps.registry, upstreams: deps.upstreams, log: deps.log });
  const events = new SessionEvents({ registry: deps.registry, upstreams: deps.upstreams, log: deps.log });
  app.addHook('onClose', async () => events.close());
  const sessions = new SessionTable({ maxSessions: deps.config.max_sessions, idleMs: deps.config.session_idle_ms, now: deps.now });
  const originAllowed = createOriginCheck(deps.config.allowed_origins);
  const hostAllowed = createHostCheck(deps.config.host_check, deps.config.allowed_hosts);
  // preClose, not onClose: open GET streams would otherwise hold app.close() until the grace period ends.
  app.addHook('preClose', async () => sessions.closeAll());

  const newServer = (scope: EndpointScope, principal: Principal, toolset: Toolset) => {
    // Search spans servers: its meta-tools belong on the aggregated endpoint only.
    const gatewayTools = deps.toolSearch && scope.kind === 'all' ? searchMetaTools(deps.toolSearch, toolset) : undefined;
    return createSessionServer({ catalog, features, events, principal, scope, version: GATEWAY_VERSION, pageSize: deps.config.tools_page_size, gatewayTools });
  };
  const context: McpEndpointContext = {
    sessions,
    log: deps.log,
    now: deps.now,
    newServer: (scope, principal) => newServer(scope, principal, 'all'),
    checkEndpoint: (principal, endpoint) => {
      if (endpoint.kind === 'all') return;
      const server = deps.registry.get(endpoint.alias)?.server;
      if (!server || server.alias !== endpoint.alias) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No MCP server "${endpoint.alias}".` });
      if (principal.policy !== null && !principal.policy.allowMcpServer(server)) throw new GatewayError('SF_ERR_FORBIDDEN', { message: `This key may not use MCP server "${server.alias}".` });
    },
  };

  authenticatedScope(app, { authenticator: deps.authenticator, admin: false }, (scope) => {
    // After authentication (the scope's own hook runs first): strangers learn nothing, not even the Host and Origin rules.
    scope.addHook('onRequest', async (request) => {
      if (!hostAllowed(request.headers.host, request.socket.localAddress)) {
        throw new GatewayError('SF_ERR_FORBIDDEN', { message: 'This Host may not use the MCP endpoint; add it to mcp.allowed_hosts.' });
      }
      const origin = request.headers.origin;
      if (!originAllowed(typeof origin === 'string' ? origin : undefined, request.headers.host)) {
        throw new GatewayError('SF_ERR_FORBIDDEN', { message: 'This Origin may not use the MCP endpoint; add it to mcp.allowed_origins.' });
      }
    });

    const handle = async (request: FastifyRequest, reply: FastifyReply, endpoint: EndpointScope) => {
      const principal = principalOf(request);
      context.checkEndpoint(principal, endpoint);
      const sessionHeader = request.headers[SESSION_HEADER];
      const sessionId = typeof sessionHeader === 'string' ? sessionHeader : undefined;
      const raw = request.raw as IncomingMessage & { auth?: AuthInfo };
      raw.auth = authInfoFor(principal, request.id);

      const serve = async (transport: LeanHttpServerTransport) => {
        reply.hijack();
        try {
          await transport.handleRequest(raw, reply.raw, request.body);
        } catch (err) {
          // The reply is hijacked: fastify's error handler can no longer answer for us.
          deps.log.error({ err }, 'MCP transport failed a request');
          if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null }));
          else reply.raw.end();
        }
      };

      if (sessionId !== undefined) {
        const session = sessions.touch(sessionId);
        // Another key presenting a session id learns nothing: the session does not exist for it.
        if (!ownsSession(session, 'streamable-http', endpoint, principal.id)) return rpcError(reply, 404, -32001, 'Session not found');
        await serve(session.transport);
        return reply;
      }
      if (request.method !== 'POST') return rpcError(reply, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');

      const { toolset } = parseInput(toolsetSchema, request.query);
      if (toolset === 'search' && (!deps.toolSearch || endpoint.kind !== 'all')) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'toolset=search is only offered on /mcp', param: 'toolset' });
      const server = await newServer(endpoint, principal, toolset);
      const { resume_max_events: maxEvents, resume_max_bytes: maxBytes } = deps.config;
      const transport: LeanHttpServerTransport = new LeanHttpServerTransport({
        sessionId: newSessionId,
        jsonWindowMs: JSON_WINDOW_MS,
        // Per session, so it goes when the session goes.
        ...(maxEvents > 0 ? { eventStore: new SessionEventStore({ maxEvents, maxBytes }) } : {}),
        onsessioninitialized: (id) => sessions.add({ kind: 'streamable-http', id, transport, server, scope: endpoint, principalId: principal.id, lastUsed: deps.now() }),
        onsessionclosed: (id) => sessions.forget(id),
      });
      await server.connect(transport);
      await serve(transport);
      // Anything but an initialize request leaves no session behind.
      if (transport.sessionId === undefined) await server.close();
      return reply;
    };

    for (const method of ['POST', 'GET', 'DELETE'] as const) {
      scope.route({ method, url: '/mcp', ...ACTION_WITHOUT_BODY, handler: (request, reply) => handle(request, reply, { kind: 'all' }) });
      scope.route<{ Params: { alias: string } }>({ method, url: '/mcp/:alias', ...ACTION_WITHOUT_BODY, handler: (request, reply) => handle(request, reply, { kind: 'one', alias: request.params.alias }) });
    }
    registerLegacySseRoutes(scope, context);
  });
}
