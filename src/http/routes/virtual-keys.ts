import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Access } from '../../keys/access.js';
import { createKeySchema, pageQuerySchema, updateKeySchema } from '../../keys/admin-schemas.js';
import type { Authenticator } from '../../keys/authenticator.js';
import type { VirtualKeyRecord } from '../../keys/records.js';
import { objectBody, parseInput, resourceId } from '../parse.js';
import { requireAdmin } from '../plugins/require-admin.js';

export interface VirtualKeyRoutesDeps {
  authenticator: Authenticator;
  access: Access;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A key as the admin API shows it: never the key or its hash, money in USD, times in ISO 8601. */
export function keyView(r: VirtualKeyRecord, now: number) {
  return {
    id: r.id,
    object: 'virtual_key',
    alias: r.alias,
    key_preview: r.key_preview,
    status: r.revoked_at !== null ? 'revoked' : r.expires_at !== null && r.expires_at <= now ? 'expired' : 'active',
    team_id: r.team_id,
    user_id: r.user_id,
    models: r.models,
    max_budget: r.max_budget_micros === null ? null : r.max_budget_micros / 1_000_000,
    budget_period: r.budget_period,
    rpm: r.rpm,
    tpm: r.tpm,
    tags: r.tags,
    metadata: r.metadata,
    cache: r.cache ?? null,
    cache_namespace: r.cache_namespace ?? null,
    allow_byok: r.allow_byok ?? false,
    expires_at: iso(r.expires_at),
    created_at: iso(r.created_at),
    created_by: r.created_by,
    updated_at: iso(r.updated_at),
    revoked_at: iso(r.revoked_at),
    revoked_by: r.revoked_by,
  };
}

/** Admin API for virtual keys: /api/enterprise/vkeys. */
export function registerVirtualKeyRoutes(app: FastifyInstance, deps: VirtualKeyRoutesDeps): void {
  const { access } = deps;
  const admin = { preHandler: requireAdmin(deps.authenticator) };
  const adminAction = { ...admin, config: { allowEmptyBody: true } };
  const actor = (request: FastifyRequest): string => request.principal?.id ?? 'unknown';
  const budgetOf = (r: VirtualKeyRecord) => access.budgetOf('key', r);

  app.post('/api/enterprise/vkeys', admin, async (request, reply) => {
    const input = parseInput(createKeySchema, objectBody(request.body));
    const { record, key } = await access.keys.create(input, actor(request));
    return reply.code(201).send({ ...keyView(record, access.now()), key });
  });

  app.get('/api/enterprise/vkeys', admin, async (request) => {
    const query = parseInput(pageQuerySchema, request.query ?? {});
    const page = await access.keys.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    const now = access.now();
    return { object: 'list', data: page.items.map((item) => keyView(item.doc, now)), next_cursor: page.next_cursor };
  });

  app.get<{ Params: { id: string } }>('/api/enterprise/vkeys/:id', admin, async (request) => {
    const record = await access.keys.require(resourceId(request.params.id, 'virtual key'));
    const budget = await budgetOf(record);
    return { ...keyView(record, access.now()), spend: budget.spent };
  });

  app.patch<{ Params: { id: string } }>('/api/enterprise/vkeys/:id', admin, async (request) => {
    const id = resourceId(request.params.id, 'virtual key');
    const input = parseInput(updateKeySchema, objectBody(request.body));
    return keyView(await access.keys.update(id, input, actor(request)), access.now());
  });

  app.get<{ Params: { id: string } }>('/api/enterprise/vkeys/:id/budget', admin, async (request) => {
    const record = await access.keys.require(resourceId(request.params.id, 'virtual key'));
    const key = await budgetOf(record);
    let team = null;
    if (record.team_id !== null) {
      const t = await access.teams.get(record.team_id);
      if (t) team = { team_id: t.id, ...(await access.budgetOf('team', t)) };
    }
    return { object: 'budget', key_id: record.id, ...key, team };
  });

  app.post<{ Params: { id: string } }>('/api/enterprise/vkeys/:id/reset', adminAction, async (request) => {
    const current = await access.keys.require(resourceId(request.params.id, 'virtual key'));
    const before = await budgetOf(current);
    const record = await access.keys.resetBudget(current.id, actor(request), { spent_before: before.spent, period_start: before.period_start });
    return { object: 'budget', key_id: record.id, ...(await budgetOf(record)) };
  });

  app.post<{ Params: { id: string } }>('/api/enterprise/vkeys/:id/revoke', adminAction, async (request) => {
    const record = await access.keys.revoke(resourceId(request.params.id, 'virtual key'), actor(request));
    return keyView(record, access.now());
  });
}
