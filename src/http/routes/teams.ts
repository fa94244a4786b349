import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Access } from '../../keys/access.js';
import { createTeamSchema, pageQuerySchema, updateTeamSchema } from '../../keys/admin-schemas.js';
import type { Authenticator } from '../../keys/authenticator.js';
import type { TeamRecord } from '../../keys/records.js';
import { objectBody, parseInput, resourceId } from '../parse.js';
import { requireAdmin } from '../plugins/require-admin.js';

export interface TeamRoutesDeps {
  authenticator: Authenticator;
  access: Access;
}

function teamView(t: TeamRecord) {
  return {
    id: t.id,
    object: 'team',
    name: t.name,
    models: t.models,
    max_budget: t.max_budget_micros === null ? null : t.max_budget_micros / 1_000_000,
    budget_period: t.budget_period,
    rpm: t.rpm,
    tpm: t.tpm,
    metadata: t.metadata,
    cache_namespace: t.cache_namespace ?? null,
    created_at: new Date(t.created_at).toISOString(),
    updated_at: new Date(t.updated_at).toISOString(),
  };
}

/** Admin API for teams: /api/teams. */
export function registerTeamRoutes(app: FastifyInstance, deps: TeamRoutesDeps): void {
  const { access } = deps;
  const admin = { preHandler: requireAdmin(deps.authenticator) };
  const adminAction = { ...admin, config: { allowEmptyBody: true } };
  const actor = (request: FastifyRequest): string => request.principal?.id ?? 'unknown';
  const budgetOf = (t: TeamRecord) => access.budgetOf('team', t);

  app.post('/api/teams', admin, async (request, reply) => {
    const input = parseInput(createTeamSchema, objectBody(request.body));
    return reply.code(201).send(teamView(await access.teams.create(input, actor(request))));
  });

  app.get('/api/teams', admin, async (request) => {
    const query = parseInput(pageQuerySchema, request.query ?? {});
    const page = await access.teams.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    return { object: 'list', data: page.items.map((item) => teamView(item.doc)), next_cursor: page.next_cursor };
  });

  app.get<{ Params: { id: string } }>('/api/teams/:id', admin, async (request) => {
    const team = await access.teams.require(resourceId(request.params.id, 'team'));
    return { ...teamView(team), spend: (await budgetOf(team)).spent };
  });

  app.patch<{ Params: { id: string } }>('/api/teams/:id', admin, async (request) => {
    const id = resourceId(request.params.id, 'team');
    const input = parseInput(updateTeamSchema, objectBody(request.body));
    return teamView(await access.teams.update(id, input, actor(request)));
  });

  app.get<{ Params: { id: string } }>('/api/teams/:id/budget', admin, async (request) => {
    const team = await access.teams.require(resourceId(request.params.id, 'team'));
    return { object: 'budget', team_id: team.id, ...(await budgetOf(team)) };
  });

  app.post<{ Params: { id: string } }>('/api/teams/:id/reset', adminAction, async (request) => {
    const current = await access.teams.require(resourceId(request.params.id, 'team'));
    const before = await budgetOf(current);
    const team = await access.teams.resetBudget(current.id, actor(request), { spent_before: before.spent, period_start: before.period_start });
    return { object: 'budget', team_id: team.id, ...(await budgetOf(team)) };
  });
}
