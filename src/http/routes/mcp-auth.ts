import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../../errors/gateway-error.js';
import { ConsentRefused, UserTokens, type ConsentServer } from '../../mcp/auth/user-tokens.js';
import { allowsServer } from '../../mcp/downstream/scope-servers.js';
import type { McpServer, McpServerRegistry } from '../../mcp/registry.js';
import type { McpConfig } from '../../mcp/server-schema.js';
import { parseInput } from '../parse.js';
import { ACTION_WITHOUT_BODY, OPEN_TO_ANY_KEY, OPEN_TO_ANYONE, principalOf } from '../plugins/authenticate.js';

export interface McpAuthRouteDeps {
  registry: McpServerRegistry;
  userTokens: UserTokens;
  config: McpConfig;
}

/** `scope`: extra scopes to ask for (a step-up), RFC 6749 scope-token characters separated by spaces. */
const initiateQuery = z.strictObject({ server_id: z.string().min(1).max(200), user_id: z.string().min(1).max(256).optional(), scope: z.string().max(2048).regex(/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/, 'scope must be space-separated scope tokens').optional() });
const callbackQuery = z.looseObject({ state: z.string().min(1).max(200).optional(), code: z.string().min(1).max(4096).optional(), error: z.string().max(200).optional() });

function consentServer(server: McpServer | undefined, ref: string): ConsentServer {
  if (!server) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No MCP server with alias or id "${ref.slice(0, 100)}".` });
  if (server.auth?.type !== 'oauth2_authorization_code' || !server.url) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `MCP server "${server.alias}" does not use per-user OAuth consent.`, param: 'server_id' });
  return { id: server.id, alias: server.alias, url: server.url, auth: server.auth };
}

/** The user a request acts for: the key's `user_id`; an admin may name another with `user_id`. */
function userOf(request: FastifyRequest, asked: string | undefined): string {
  const principal = principalOf(request);
  const own = principal.userId ?? null;
  if (asked !== undefined && asked !== own) {
    if (!principal.isAdmin) throw new GatewayError('SF_ERR_FORBIDDEN', { message: 'A key may only connect servers for its own user_id.' });
    return asked;
  }
  if (own === null) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'This key has no user_id: per-user MCP connections belong to a user.', param: 'user_id' });
  return own;
}

function redirectUri(request: FastifyRequest, config: McpConfig): string {
  const base = config.public_url ?? `${request.protocol}://${request.headers.host ?? 'localhost'}`;
  return `${base.replace(/\/+$/, '')}/api/mcp/auth/callback`;
}

/**
 * `/api/mcp/auth/initiate`, `/tokens` and `DELETE /tokens/{server}`: inside a scope that accepts
 * any valid key (the key's user is the one connected).
 */
export function registerMcpAuthRoutes(app: FastifyInstance, deps: McpAuthRouteDeps): void {
  app.get('/api/mcp/auth/initiate', OPEN_TO_ANY_KEY, async (request, reply) => {
    const query = parseInput(initiateQuery, request.query);
    const server = consentServer(deps.registry.get(query.server_id)?.server, query.server_id);
    const stored = deps.registry.get(server.id)!.server;
    if (!allowsServer(principalOf(request), stored)) throw new GatewayError('SF_ERR_FORBIDDEN', { message: `This key may not use MCP server "${server.alias}".` });
    const user = userOf(request, query.user_id);
    let location: string;
    try {
      location = await deps.userTokens.initiate(server, user, redirectUri(request, deps.config), query.scope);
    } catch (err) {
      throw new GatewayError('SF_ERR_UPSTREAM_UNREACHABLE', { message: `MCP server "${server.alias}": ${err instanceof Error ? err.message : 'authorization discovery failed'}` });
    }
    return reply.redirect(location, 302);
  });

  app.get('/api/mcp/auth/tokens', OPEN_TO_ANY_KEY, async (request) => {
    const user = userOf(request, (request.query as { user_id?: string } | undefined)?.user_id);
    const servers = deps.registry.list().filter((s) => s.server.auth?.type === 'oauth2_authorization_code');
    const connections = await deps.userTokens.connections(servers.map((s) => s.server.id), user);
    const aliasOf = new Map(servers.map((s) => [s.server.id, s.server.alias]));
    return {
      object: 'list',
      data: connections.map((c) => ({ object: 'mcp_connection', server: aliasOf.get(c.server_id), server_id: c.server_id, scope: c.scope, expires_at: c.expires_at === null ? null : new Date(c.expires_at).toISOString(), status: c.status })),
    };
  });

  app.delete<{ Params: { server: string } }>('/api/mcp/auth/tokens/:server', { config: { ...OPEN_TO_ANY_KEY.config, ...ACTION_WITHOUT_BODY.config } }, async (request) => {
    const server = consentServer(deps.registry.get(request.params.server)?.server, request.params.server);
    const user = userOf(request, (request.query as { user_id?: string } | undefined)?.user_id);
    if (!(await deps.userTokens.disconnect(server.id, user))) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No connection to MCP server "${server.alias}".` });
    return { object: 'mcp_connection', server: server.alias, server_id: server.id, deleted: true };
  });
}

const CONNECTED_PAGE = '<!doctype html><meta charset="utf-8"><title>Connected</title><p>Connected. You can close this tab.</p>';

/** `/api/mcp/auth/callback`: no key (a browser comes back from the provider); the single-use state is the credential. */
export function registerMcpAuthCallback(app: FastifyInstance, deps: McpAuthRouteDeps): void {
  app.get('/api/mcp/auth/callback', OPEN_TO_ANYONE, async (request, reply) => {
    const query = parseInput(callbackQuery, request.query);
    if (query.error) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `The authorization server said: ${query.error.replace(/[^\w.-]/g, '')}`, param: 'error' });
    if (!query.state || !query.code) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The callback needs state and code.', param: query.state ? 'code' : 'state' });
    try {
      await deps.userTokens.complete(query.state, query.code, (id) => {
        const server = deps.registry.get(id)?.server;
        return server?.auth?.type === 'oauth2_authorization_code' && server.url ? { id: server.id, alias: server.alias, url: server.url, auth: server.auth } : undefined;
      });
    } catch (err) {
      if (err instanceof ConsentRefused) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `The consent was refused: ${err.message}.`, param: 'state' });
      throw err;
    }
    if (deps.config.oauth_success_url) return reply.redirect(deps.config.oauth_success_url, 302);
    return reply.type('text/html; charset=utf-8').send(CONNECTED_PAGE);
  });
}
