import type { IncomingMessage } from 'node:http';
import { withWorkerHint } from '../../cluster/session-id.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestLog } from '../../core/request-log.js';
import type { Principal } from '../../keys/principal.js';
import { authInfoFor } from '../../mcp/downstream/session-server.js';
import { ownsSession, type SessionTable } from '../../mcp/downstream/session-table.js';
import type { EndpointScope } from '../../mcp/downstream/tool-catalog.js';
import { ACTION_WITHOUT_BODY, principalOf } from '../plugins/authenticate.js';
import { rpcError } from './mcp-rpc-error.js';

/** What the legacy transport shares with `/mcp`: one session table, one way to make a session's server, one endpoint check. */
export interface McpEndpointContext {
  sessions: SessionTable;
  log: RequestLog;
  now: () => number;
  newServer: (scope: EndpointScope, principal: Principal) => Promise<Server>;
  /** Throws the 404 (no such alias) or 403 (not this key's) for a one-server endpoint. */
  checkEndpoint: (principal: Principal, endpoint: EndpointScope) => void;
}

/**
 * The HTTP+SSE transport of MCP 2024-11-05, for clients that predate Streamable HTTP:
 * `GET /sse` opens the stream, whose first event (`endpoint`) names the URL to POST messages
 * to (`/message?sessionId=…`); answers come back on the stream. `/mcp/{alias}/sse` and
 * `/mcp/{alias}/message` are the one-server variant. Sessions go in the same table as
 * Streamable HTTP ones (same limit, idle expiry, shutdown) and end when the stream does.
 */
export function registerLegacySseRoutes(scope: FastifyInstance, context: McpEndpointContext): void {
  const open = async (request: FastifyRequest, reply: FastifyReply, endpoint: EndpointScope, messagePath: string) => {
    const principal = principalOf(request);
    context.checkEndpoint(principal, endpoint);
    const { SSEServerTransport } = await import('@modelcontextprotocol/sdk/server/sse.js');
    const server = await context.newServer(endpoint, principal);
    reply.hijack();
    // The message URL names this worker, so a POST landing on another worker reaches the stream (cluster/session-affinity.ts).
    const transport = new SSEServerTransport(withWorkerHint(messagePath), reply.raw);
    // Chained by server.connect(): the stream closing (client gone, idle expiry, shutdown) ends the session.
    transport.onclose = () => context.sessions.forget(transport.sessionId);
    // In the table before the endpoint event goes out, so the client's first POST finds it.
    context.sessions.add({ kind: 'sse', id: transport.sessionId, transport, server, scope: endpoint, principalId: principal.id, lastUsed: context.now() });
    try {
      await server.connect(transport);
    } catch (err) {
      context.log.error({ err }, 'MCP SSE stream could not start');
      await context.sessions.close(transport.sessionId);
      if (!reply.raw.headersSent) reply.raw.writeHead(500).end();
    }
  };

  const post = async (request: FastifyRequest<{ Querystring: { sessionId?: unknown } }>, reply: FastifyReply, endpoint: EndpointScope) => {
    const principal = principalOf(request);
    context.checkEndpoint(principal, endpoint);
    const sessionId = request.query.sessionId;
    if (typeof sessionId !== 'string' || sessionId === '') return rpcError(reply, 400, -32000, 'Bad Request: the sessionId query parameter is required');
    const session = context.sessions.touch(sessionId);
    // Another key presenting a session id learns nothing: the session does not exist for it.
    if (!ownsSession(session, 'sse', endpoint, principal.id)) return rpcError(reply, 404, -32001, 'Session not found');
    const raw = request.raw as IncomingMessage & { auth?: AuthInfo };
    raw.auth = authInfoFor(principal, request.id);
    reply.hijack();
    try {
      await session.transport.handlePostMessage(raw, reply.raw, request.body);
    } catch (err) {
      // The transport has already answered (500) when the stream is gone; log why.
      context.log.warn({ err }, 'MCP SSE message not delivered');
      if (!reply.raw.headersSent) reply.raw.writeHead(500).end();
    }
    return reply;
  };

  scope.get('/sse', ACTION_WITHOUT_BODY, (request, reply) => open(request, reply, { kind: 'all' }, '/message'));
  scope.post<{ Querystring: { sessionId?: unknown } }>('/message', ACTION_WITHOUT_BODY, (request, reply) => post(request, reply, { kind: 'all' }));
  scope.get<{ Params: { alias: string } }>('/mcp/:alias/sse', ACTION_WITHOUT_BODY, (request, reply) =>
    open(request, reply, { kind: 'one', alias: request.params.alias }, `/mcp/${encodeURIComponent(request.params.alias)}/message`),
  );
  scope.post<{ Params: { alias: string }; Querystring: { sessionId?: unknown } }>('/mcp/:alias/message', ACTION_WITHOUT_BODY, (request, reply) =>
    post(request, reply, { kind: 'one', alias: request.params.alias }),
  );
}
