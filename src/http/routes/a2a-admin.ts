import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditLog } from '../../audit/audit-log.js';
import type { AgentRegistry, StoredAgent } from '../../a2a/agent-registry.js';
import { createAgentSchema, replaceAgentSchema } from '../../a2a/agent-schema.js';
import type { TaskStore } from '../../a2a/task-store.js';
import type { TaskRecord } from '../../a2a/task-model.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { etagOf, ifMatchVersion, objectBody, parseInput, resourceId } from '../parse.js';
import { actorOf, needs } from '../plugins/authenticate.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A profile as the API shows it: remote header values replaced by `[REDACTED]` (they may be credentials). */
function agentView(stored: StoredAgent) {
  const { remote, ...profile } = stored.profile;
  const shown = remote ? { remote: { card_url: remote.card_url, headers: Object.fromEntries(Object.keys(remote.headers).map((name) => [name, '[REDACTED]'])) } } : {};
  return { object: 'a2a_agent', ...profile, ...shown, source: stored.source, version: stored.version, created_at: iso(stored.created_at), created_by: stored.created_by, updated_at: iso(stored.updated_at) };
}

/** The audit view of a task: everything but the raw event log, which the stream replays. */
function taskAuditView(task: TaskRecord) {
  const { events, push_configs: _push, created_at, updated_at, ...rest } = task;
  return { object: 'a2a_task', ...rest, event_count: events.length, created_at: iso(created_at), updated_at: iso(updated_at) };
}

const taskQuery = z.strictObject({
  agent: z.string().max(64).optional(),
  state: z.enum(['submitted', 'working', 'input-required', 'completed', 'canceled', 'failed', 'rejected', 'auth-required', 'unknown']).optional(),
  trace_id: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/**
 * Admin API for A2A agents (/api/a2a/agents: profiles, compare-and-set writes, `If-Match`) and
 * the task audit (/api/a2a/tasks). Agents from smartflow.yaml are listed but read-only.
 */
export function registerA2aAdminRoutes(app: FastifyInstance, deps: { agents: AgentRegistry; tasks: TaskStore; audit: AuditLog }): void {
  const { agents, tasks, audit } = deps;
  const base = '/api/a2a/agents';
  const writeOptions = (request: FastifyRequest) => {
    const ifVersion = ifMatchVersion(request.headers);
    return ifVersion === undefined ? {} : { ifVersion };
  };
  const send = (reply: FastifyReply, stored: StoredAgent) => {
    if (stored.version !== null) reply.header('etag', etagOf(stored.version));
    return reply.send(agentView(stored));
  };

  app.get(base, needs('agents:read'), async () => ({ object: 'list', data: agents.list().map(agentView) }));

  app.post(base, needs('agents:write'), async (request, reply) => {
    const profile = parseInput(createAgentSchema, objectBody(request.body));
    const actor = actorOf(request);
    const stored = await agents.create(profile, actor);
    await audit.record({ actor, action: 'a2a_agent.create', target_type: 'a2a_agent', target_id: profile.id, details: { model: profile.model } });
    return send(reply.code(201), stored);
  });

  app.get<{ Params: { id: string } }>(`${base}/:id`, needs('agents:read'), async (request, reply) => send(reply, agents.require(resourceId(request.params.id, 'A2A agent'))));

  app.put<{ Params: { id: string } }>(`${base}/:id`, needs('agents:write'), async (request, reply) => {
    const id = resourceId(request.params.id, 'A2A agent');
    const profile = parseInput(replaceAgentSchema, objectBody(request.body));
    const stored = await agents.replace(id, profile, writeOptions(request));
    await audit.record({ actor: actorOf(request), action: 'a2a_agent.update', target_type: 'a2a_agent', target_id: id, details: { fields: Object.keys(objectBody(request.body) as object) } });
    return send(reply, stored);
  });

  app.delete<{ Params: { id: string } }>(`${base}/:id`, needs('agents:write', { allowEmptyBody: true }), async (request) => {
    const id = resourceId(request.params.id, 'A2A agent');
    await agents.delete(id, writeOptions(request));
    await audit.record({ actor: actorOf(request), action: 'a2a_agent.delete', target_type: 'a2a_agent', target_id: id, details: {} });
    return { object: 'a2a_agent', id, deleted: true };
  });

  app.get('/api/a2a/tasks', needs('agents:read'), async (request) => {
    const q = parseInput(taskQuery, request.query);
    const found = await tasks.list({ ...(q.agent ? { agent: q.agent } : {}), ...(q.state ? { state: q.state } : {}), ...(q.trace_id ? { trace_id: q.trace_id } : {}), limit: q.limit });
    return { object: 'list', data: found.map(taskAuditView) };
  });

  app.get<{ Params: { id: string } }>('/api/a2a/tasks/:id', needs('agents:read'), async (request) => {
    const task = await tasks.get(resourceId(request.params.id, 'A2A task'));
    if (!task) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No A2A task "${request.params.id.slice(0, 100)}".` });
    return taskAuditView(task);
  });
}
