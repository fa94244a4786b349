import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Access } from '../../keys/access.js';
import { createTeamSchema, pageQuerySchema, updateTeamSchema } from '../../keys/admin-schemas.js';
import type { TeamRecord } from '../../keys/records.js';
import { etagOf, ifMatchVersion, objectBody, parseInput, resourceId } from '../parse.js';
import { z } from 'zod';
import { ManualMemberships, memberCount } from '../../identity/memberships.js';
import { canSeeTeam, requireTeam } from '../../identity/rbac.js';
import { actorOf, callerOf, needs } from '../plugins/authenticate.js';

export interface TeamRoutesDeps {
  access: Access;
  memberships: ManualMemberships;
}

const memberBodySchema = z.strictObject({ user_id: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'a user id (1-128 letters, digits, ".", "_" or "-")') });

function teamView(t: TeamRecord, version: number) {
  return {
    id: t.id,
    object: 'team',
    version,
    name: t.name,
    models: t.models,
    max_budget: t.max_budget_micros === null ? null : t.max_budget_micros / 1_000_000,
    budget_period: t.budget_period,
    rpm: t.rpm,
    tpm: t.tpm,
    metadata: t.metadata,
    cache_namespace: t.cache_namespace ?? null,
    mcp_servers: t.mcp_servers ?? [],
    mcp_tools: t.mcp_tools ?? [],
    members: (t.members ?? []).map((m) => ({ user_id: m.user_id, source: m.source, added_at: new Date(m.added_at).toISOString() })),
    members_count: memberCount(t),
    sso_group_id: t.sso?.group_id ?? null,
    created_at: new Date(t.created_at).toISOString(),
    updated_at: new Date(t.updated_at).toISOString(),
  };
}

/** Admin API for teams: /api/teams, inside the admin scope. Writes are compare-and-set; `If-Match` makes them conditional. */
export function registerTeamRoutes(app: FastifyInstance, deps: TeamRoutesDeps): void {
  const { access, memberships } = deps;
  /** The team id of the URL, once the caller is known to act within that team. */
  const ownTeam = (request: FastifyRequest<{ Params: { id: string } }>) => {
    const id = resourceId(request.params.id, 'team');
    requireTeam(callerOf(request), id);
    return id;
  };
  const budgetOf = (t: TeamRecord) => access.budgetOf('team', t);
  const writeOptions = (request: FastifyRequest) => {
    const ifVersion = ifMatchVersion(request.headers);
    return ifVersion === undefined ? {} : { ifVersion };
  };

  app.post('/api/teams', needs('teams:create'), async (request, reply) => {
    const input = parseInput(createTeamSchema, objectBody(request.body));
    const team = await access.teams.create(input, actorOf(request));
    return reply.code(201).header('etag', etagOf(1)).send(teamView(team, 1));
  });

  app.get('/api/teams', needs('teams:read'), async (request) => {
    const query = parseInput(pageQuerySchema, request.query ?? {});
    const page = await access.teams.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    const caller = callerOf(request);
    return { object: 'list', data: page.items.filter((item) => canSeeTeam(caller, item.doc.id)).map((item) => teamView(item.doc, item.version)), next_cursor: page.next_cursor };
  });

  app.get<{ Params: { id: string } }>('/api/teams/:id', needs('teams:read'), async (request, reply) => {
    const { doc, version } = await access.teams.requireVersioned(ownTeam(request));
    return reply.header('etag', etagOf(version)).send({ ...teamView(doc, version), spend: (await budgetOf(doc)).spent });
  });

  app.patch<{ Params: { id: string } }>('/api/teams/:id', needs('teams:write'), async (request, reply) => {
    const id = ownTeam(request);
    const input = parseInput(updateTeamSchema, objectBody(request.body));
    const { doc, version } = await access.teams.update(id, input, actorOf(request), writeOptions(request));
    return reply.header('etag', etagOf(version)).send(teamView(doc, version));
  });

  app.get<{ Params: { id: string } }>('/api/teams/:id/budget', needs('teams:read'), async (request) => {
    const team = await access.teams.require(ownTeam(request));
    return { object: 'budget', team_id: team.id, ...(await budgetOf(team)) };
  });

  app.post<{ Params: { id: string } }>('/api/teams/:id/reset', needs('budgets:write', { allowEmptyBody: true }), async (request) => {
    const current = await access.teams.require(ownTeam(request));
    const before = await budgetOf(current);
    const { doc } = await access.teams.resetBudget(current.id, actorOf(request), { spent_before: before.spent, period_start: before.period_start }, writeOptions(request));
    return { object: 'budget', team_id: doc.id, ...(await budgetOf(doc)) };
  });

  // Manual memberships: SSO sync never removes these.
  app.post<{ Params: { id: string } }>('/api/teams/:id/members', needs('teams:write'), async (request, reply) => {
    const id = ownTeam(request);
    const { user_id } = parseInput(memberBodySchema, objectBody(request.body));
    const team = await memberships.add(id, user_id);
    await access.audit.record({ actor: actorOf(request), action: 'team.member_add', target_type: 'team', target_id: id, details: { user_id } });
    return reply.code(201).send(teamView(team, (await access.teams.requireVersioned(id)).version));
  });

  app.delete<{ Params: { id: string; user: string } }>('/api/teams/:id/members/:user', needs('teams:write', { allowEmptyBody: true }), async (request) => {
    const id = ownTeam(request);
    const userId = resourceId(request.params.user, 'user');
    const team = await memberships.remove(id, userId);
    await access.audit.record({ actor: actorOf(request), action: 'team.member_remove', target_type: 'team', target_id: id, details: { user_id: userId } });
    return teamView(team, (await access.teams.requireVersioned(id)).version);
  });
}
