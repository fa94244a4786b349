import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from '../../audit/audit-log.js';
import type { McpServerRegistry, StoredMcpServer } from '../../mcp/registry.js';
import type { UpstreamPool } from '../../mcp/upstream/upstream-pool.js';
import { REDACTED } from '../../mcp/server-record.js';
import type { McpAuth } from '../../mcp/server-schema.js';
import { createServerSchema, updateServerSchema } from '../../mcp/server-schema.js';
import { etagOf, ifMatchVersion, objectBody, parseInput, resourceId } from '../parse.js';
import { actorOf, needs } from '../plugins/authenticate.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Names only: header and env values may be credentials. */
/** The auth block as the API shows it: `client_secret` always, `private_key` when set, as `[REDACTED]`. */
function redactedAuth(auth: McpAuth): Record<string, unknown> {
  return { ...auth, client_secret: REDACTED, ...('private_key' in auth && auth.private_key !== undefined ? { private_key: REDACTED } : {}) };
}

function redacted(values: Record<string, string>, unreadable: string[], field: string): Record<string, string> {
  const names = [...Object.keys(values), ...unreadable.filter((f) => f.startsWith(`${field}.`)).map((f) => f.slice(field.length + 1))];
  return Object.fromEntries(names.sort().map((name) => [name, REDACTED]));
}

/** A server as the admin API shows it: every header and env value replaced by `[REDACTED]`. */
function serverView(stored: StoredMcpServer) {
  const { server } = stored;
  return {
    object: 'mcp_server',
    id: server.id,
    alias: server.alias,
    source: stored.source,
    version: stored.version,
    transport: server.transport,
    command: server.command,
    args: server.args,
    env: redacted(server.env, stored.unreadable_secrets, 'env'),
    cwd: server.cwd,
    url: server.url,
    headers: redacted(server.headers, stored.unreadable_secrets, 'headers'),
    allowed_tools: server.allowed_tools,
    denied_tools: server.denied_tools,
    description: server.description,
    timeout_ms: server.timeout_ms,
    start: server.start,
    idle_timeout_ms: server.idle_timeout_ms,
    log_payloads: server.log_payloads,
    auth: server.auth ? redactedAuth(server.auth) : stored.unreadable_secrets.some((f) => f.startsWith('auth.')) ? Object.fromEntries(stored.unreadable_secrets.filter((f) => f.startsWith('auth.')).map((f) => [f.slice(5), REDACTED])) : null,
    allow_header_override: server.allow_header_override,
    ...(stored.unreadable_secrets.length ? { unreadable_secrets: stored.unreadable_secrets } : {}),
    created_at: iso(stored.created_at),
    created_by: stored.created_by,
    updated_at: iso(stored.updated_at),
  };
}

/**
 * Admin API for the MCP server registry: /api/mcp/servers, inside the admin scope. Writes are
 * compare-and-set (`If-Match` makes them conditional) and apply on every instance within a second.
 * Audit entries name the fields changed, never their values.
 */
export function registerMcpServerRoutes(app: FastifyInstance, deps: { servers: McpServerRegistry; upstreams: UpstreamPool; audit: AuditLog }): void {
  const { servers, upstreams, audit } = deps;
  const base = '/api/mcp/servers';
  const writeOptions = (request: FastifyRequest) => {
    const ifVersion = ifMatchVersion(request.headers);
    return ifVersion === undefined ? {} : { ifVersion };
  };
  const send = (reply: FastifyReply, stored: StoredMcpServer) => {
    if (stored.version !== null) reply.header('etag', etagOf(stored.version));
    return reply.send(serverView(stored));
  };

  app.get(base, needs('mcp_servers:read'), async () => ({ object: 'list', data: servers.list().map(serverView) }));

  app.post(base, needs('mcp_servers:write'), async (request, reply) => {
    const input = parseInput(createServerSchema, objectBody(request.body));
    const actor = actorOf(request);
    const stored = await servers.create(input, actor);
    await audit.record({ actor, action: 'mcp_server.create', target_type: 'mcp_server', target_id: stored.server.id, details: { alias: stored.server.alias, transport: stored.server.transport } });
    return send(reply.code(201), stored);
  });

  app.get<{ Params: { ref: string } }>(`${base}/:ref`, needs('mcp_servers:read'), async (request, reply) => send(reply, servers.require(resourceId(request.params.ref, 'MCP server'))));

  // A snapshot, never a probe: asking for health does not start a server nobody has used yet.
  app.get<{ Params: { ref: string } }>(`${base}/:ref/health`, needs('mcp_servers:read'), async (request) => {
    const health = upstreams.health(resourceId(request.params.ref, 'MCP server'));
    return { object: 'mcp_server_health', ...health, last_error_at: iso(health.last_error_at) };
  });

  app.patch<{ Params: { ref: string } }>(`${base}/:ref`, needs('mcp_servers:write'), async (request, reply) => {
    const input = parseInput(updateServerSchema, objectBody(request.body));
    const ref = resourceId(request.params.ref, 'MCP server');
    const before = servers.get(ref);
    const stored = await servers.update(ref, input, writeOptions(request));
    await audit.record({
      actor: actorOf(request),
      action: 'mcp_server.update',
      target_type: 'mcp_server',
      target_id: stored.server.id,
      details: { fields: Object.keys(input), alias: stored.server.alias, ...(before && before.server.alias !== stored.server.alias ? { previous_alias: before.server.alias } : {}) },
    });
    return send(reply, stored);
  });

  app.delete<{ Params: { ref: string } }>(`${base}/:ref`, needs('mcp_servers:write', { allowEmptyBody: true }), async (request) => {
    const server = await servers.delete(resourceId(request.params.ref, 'MCP server'), writeOptions(request));
    await audit.record({ actor: actorOf(request), action: 'mcp_server.delete', target_type: 'mcp_server', target_id: server.id, details: { alias: server.alias } });
    return { object: 'mcp_server', id: server.id, alias: server.alias, deleted: true };
  });
}
