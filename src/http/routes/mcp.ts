import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { McpConfig } from '../../mcp/server-schema.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Authenticator } from '../../keys/authenticator.js';
import type { RequestLog } from '../../core/request-log.js';
import { GATEWAY_VERSION } from '../../core/version.js';
import { ACTION_WITHOUT_BODY, authenticatedScope, principalOf } from '../plugins/authenticate.js';
import type { McpServerRegistry } from '../../mcp/registry.js';
import type { UpstreamPool } from '../../mcp/upstream/upstream-pool.js';
import { createOriginCheck } from '../../mcp/downstream/origin-check.js';
import { authInfoFor, createSessionServer, type ToolCallRecord } from '../../mcp/downstream/session-server.js';
import type { SpendLog } from '../../spend/spend-log.js';
import { spendRecordOfToolCall } from '../../mcp/downstream/tool-call-spend.js';
import { SessionTable } from '../../mcp/downstream/session-table.js';
import { ToolCatalog, type EndpointScope } from '../../mcp/downstream/tool-catalog.js';
import { FeatureCatalog } from '../../mcp/downstream/feature-catalog.js';
import { SessionEvents } from '../../mcp/downstream/session-events.js';

export interface McpRouteDeps {
  authenticator: Authenticator;
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  config: McpConfig;
  log: RequestLog;
  spendLog: SpendLog;
  now: () => number;
}

const SESSION_HEADER = 'mcp-session-id';

/** JSON-RPC error bodies as the MCP SDK itself sends them for transport-level failures. */
function rpcError(reply: FastifyReply, status: number, code: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

/**
 * The gateway's own MCP endpoint (Streamable HTTP): `/mcp` aggregates the tools of every server
 * the caller may use as `{alias}_{tool}`; `/mcp/{alias}` serves one server unprefixed. Every
 * HTTP request is authenticated and Origin-checked before the SDK sees it; access is checked
 * again on every list and call. Sessions live in this instance's memory.
 */
export function registerMcpRoutes(app: FastifyInstance, deps: McpRouteDeps): void {
  const catalog = new ToolCatalog({ registry: deps.registry, upstreams: deps.upstreams, log: deps.log });
  const features = new FeatureCatalog({ registry: deps.registry, upstreams: deps.upstreams, log: deps.log });
  const events = new SessionEvents({ registry: deps.registry, upstreams: deps.upstreams, log: deps.log });
  app.addHook('onClose', async () => events.close());
  const sessions = new SessionTable({ maxSessions: deps.config.max_sessions, idleMs: deps.config.session_idle_ms, now: deps.now });
  const originAllowed = createOriginCheck(deps.config.allowed_origins);
  // preClose, not onClose: open GET streams would otherwise hold app.close() until the grace period ends.
  app.addHook('preClose', async () => sessions.closeAll());

  const onToolCall = (call: ToolCallRecord) => {
    deps.spendLog.record(spendRecordOfToolCall(call));
    if (call.status === 'error') deps.log.warn({ operation: 'mcp.call', mcp_server: call.serverAlias, tool: call.upstreamTool, err: call.error }, 'MCP tool call failed');
  };

  authenticatedScope(app, { authenticator: deps.authenticator, admin: false }, (scope) => {
    // After authentication (the scope's own hook runs first): strangers learn nothing, not even the Origin rule.
    scope.addHook('onRequest', async (request) => {
      const origin = request.headers.origin;
      if (!originAllowed(typeof origin === 'string' ? origin : undefined, request.headers.host)) {
        throw new GatewayError('SF_ERR_FORBIDDEN', { message: 'This Origin may not use the MCP endpoint; add it to mcp.allowed_origins.' });
      }
    });

    const handle = async (request: FastifyRequest, reply: FastifyReply, endpoint: EndpointScope) => {
      const principal = principalOf(request);
      if (endpoint.kind === 'one') {
        const server = deps.registry.get(endpoint.alias)?.server;
        if (!server || server.alias !== endpoint.alias) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No MCP server "${endpoint.alias}".` });
        if (principal.policy !== null && !principal.policy.allowMcpServer(server)) throw new GatewayError('SF_ERR_FORBIDDEN', { message: `This key may not use MCP server "${server.alias}".` });
      }
      const sessionHeader = request.headers[SESSION_HEADER];
      const sessionId = typeof sessionHeader === 'string' ? sessionHeader : undefined;
      const raw = request.raw as IncomingMessage & { auth?: AuthInfo };
      raw.auth = authInfoFor(principal);

      const serve = async (transport: StreamableHTTPServerTransport) => {
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
        const sameEndpoint = session && (session.scope.kind === 'all' ? endpoint.kind === 'all' : endpoint.kind === 'one' && endpoint.alias === session.scope.alias);
        // Another key presenting a session id learns nothing: the session does not exist for it.
        if (!session || !sameEndpoint || session.principalId !== principal.id) return rpcError(reply, 404, -32001, 'Session not found');
        await serve(session.transport);
        return reply;
      }
      if (request.method !== 'POST') return rpcError(reply, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');

      const server = createSessionServer({ catalog, features, events, principal, scope: endpoint, version: GATEWAY_VERSION, pageSize: deps.config.tools_page_size, now: deps.now, onToolCall });
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (id) => sessions.add({ id, transport, server, scope: endpoint, principalId: principal.id, lastUsed: deps.now() }),
        onsessionclosed: (id) => sessions.forget(id),
      });
      await server.connect(transport);
      await serve(transport);
      // Anything but an initialize request leaves no session behind.
      if (transport.sessionId === undefined) await server.close();
      return reply;
    };

    const routeOptions = ACTION_WITHOUT_BODY;
    for (const method of ['POST', 'GET', 'DELETE'] as const) {
      scope.route({ method, url: '/mcp', ...routeOptions, handler: (request, reply) => handle(request, reply, { kind: 'all' }) });
      scope.route<{ Params: { alias: string } }>({ method, url: '/mcp/:alias', ...routeOptions, handler: (request, reply) => handle(request, reply, { kind: 'one', alias: request.params.alias }) });
    }
  });
}
