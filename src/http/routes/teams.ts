import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Access } from '../../keys/access.js';
import { createTeamSchema, pageQuerySchema, updateTeamSchema } from '../../keys/admin-schemas.js';
import type { TeamRecord } from '../../keys/records.js';
import { etagOf, ifMatchVersion, objectBody, parseInput, resourceId } from '../parse.js';
import { ACTION_WITHOUT_BODY, actorOf } from '../plugins/authenticate.js';

export interface TeamRoutesDeps {
  access: Access;
}

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
    created_at: new Date(t.created_at).toISOString(),
    updated_at: new Date(t.updated_at).toISOString(),
  };
}

/** Admin API for teams: /api/teams, inside the admin scope. Writes are compare-and-set; `If-Match` makes them conditional. */
export function registerTeamRoutes(app: FastifyInstance, deps: TeamRoutesDeps): void {
  const { access } = deps;
  const budgetOf = (t: TeamRecord) => access.budgetOf('team', t);
  const writeOptions = (request: FastifyRequest) => {
    const ifVersion = ifMatchVersion(request.headers);
    return ifVersion === undefined ? {} : { ifVersion };
  };

  app.post('/api/teams', async (request, reply) => {
    const input = parseInput(createTeamSchema, objectBody(request.body));
    const team = await access.teams.create(input, actorOf(request));
    return reply.code(201).header('etag', etagOf(1)).send(teamView(team, 1));
  });

  app.get('/api/teams', async (request) => {
    const query = parseInput(pageQuerySchema, request.query ?? {});
    const page = await access.teams.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    return { object: 'list', data: page.items.map((item) => teamView(item.doc, item.version)), next_cursor: page.next_cursor };
  });

  app.get<{ Params: { id: string } }>('/api/teams/:id', async (request, reply) => {
    const { doc, version } = await access.teams.requireVersioned(resourceId(request.params.id, 'team'));
    return reply.header('etag', etagOf(version)).send({ ...teamView(doc, version), spend: (await budgetOf(doc)).spent });
  });

  app.patch<{ Params: { id: string } }>('/api/teams/:id', async (request, reply) => {
    const id = resourceId(request.params.id, 'team');
    const input = parseInput(updateTeamSchema, objectBody(request.body));
    const { doc, version } = await access.teams.update(id, input, actorOf(request), writeOptions(request));
    return reply.header('etag', etagOf(version)).send(teamView(doc, version));
  });

  app.get<{ Params: { id: string } }>('/api/teams/:id/budget', async (request) => {
    const team = await access.teams.require(resourceId(request.params.id, 'team'));
    return { object: 'budget', team_id: team.id, ...(await budgetOf(team)) };
  });

  app.post<{ Params: { id: string } }>('/api/teams/:id/reset', ACTION_WITHOUT_BODY, async (request) => {
    const current = await access.teams.require(resourceId(request.params.id, 'team'));
    const before = await budgetOf(current);
    const { doc } = await access.teams.resetBudget(current.id, actorOf(request), { spent_before: before.spent, period_start: before.period_start }, writeOptions(request));
    return { object: 'budget', team_id: doc.id, ...(await budgetOf(doc)) };
  });
}
