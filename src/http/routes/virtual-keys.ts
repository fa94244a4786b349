import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Access } from '../../keys/access.js';
import { createKeySchema, pageQuerySchema, updateKeySchema } from '../../keys/admin-schemas.js';
import type { VirtualKeyRecord } from '../../keys/records.js';
import type { VersionedDoc } from '../../storage/types.js';
import { etagOf, ifMatchVersion, objectBody, parseInput, resourceId } from '../parse.js';
import { ACTION_WITHOUT_BODY, actorOf } from '../plugins/authenticate.js';

export interface VirtualKeyRoutesDeps {
  access: Access;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A key as the admin API shows it: never the key or its hash, money in USD, times in ISO 8601. */
function keyView(r: VirtualKeyRecord, version: number, now: number) {
  return {
    id: r.id,
    object: 'virtual_key',
    version,
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
    mcp_servers: r.mcp_servers ?? [],
    mcp_tools: r.mcp_tools ?? [],
    expires_at: iso(r.expires_at),
    created_at: iso(r.created_at),
    created_by: r.created_by,
    updated_at: iso(r.updated_at),
    revoked_at: iso(r.revoked_at),
    revoked_by: r.revoked_by,
  };
}

/** Admin API for virtual keys: /api/enterprise/vkeys, inside the admin scope. Writes are compare-and-set; `If-Match` makes them conditional. */
export function registerVirtualKeyRoutes(app: FastifyInstance, deps: VirtualKeyRoutesDeps): void {
  const { access } = deps;
  const budgetOf = (r: VirtualKeyRecord) => access.budgetOf('key', r);
  const writeOptions = (request: FastifyRequest) => {
    const ifVersion = ifMatchVersion(request.headers);
    return ifVersion === undefined ? {} : { ifVersion };
  };
  const send = (reply: FastifyReply, { doc, version }: VersionedDoc<VirtualKeyRecord>) => reply.header('etag', etagOf(version)).send(keyView(doc, version, access.now()));

  app.post('/api/enterprise/vkeys', async (request, reply) => {
    const input = parseInput(createKeySchema, objectBody(request.body));
    const { record, key } = await access.keys.create(input, actorOf(request));
    return reply.code(201).header('etag', etagOf(1)).send({ ...keyView(record, 1, access.now()), key });
  });

  app.get('/api/enterprise/vkeys', async (request) => {
    const query = parseInput(pageQuerySchema, request.query ?? {});
    const page = await access.keys.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    const now = access.now();
    return { object: 'list', data: page.items.map((item) => keyView(item.doc, item.version, now)), next_cursor: page.next_cursor };
  });

  app.get<{ Params: { id: string } }>('/api/enterprise/vkeys/:id', async (request, reply) => {
    const { doc, version } = await access.keys.requireVersioned(resourceId(request.params.id, 'virtual key'));
    const budget = await budgetOf(doc);
    return reply.header('etag', etagOf(version)).send({ ...keyView(doc, version, access.now()), spend: budget.spent });
  });

  app.patch<{ Params: { id: string } }>('/api/enterprise/vkeys/:id', async (request, reply) => {
    const id = resourceId(request.params.id, 'virtual key');
    const input = parseInput(updateKeySchema, objectBody(request.body));
    return send(reply, await access.keys.update(id, input, actorOf(request), writeOptions(request)));
  });

  app.get<{ Params: { id: string } }>('/api/enterprise/vkeys/:id/budget', async (request) => {
    const record = await access.keys.require(resourceId(request.params.id, 'virtual key'));
    const key = await budgetOf(record);
    let team = null;
    if (record.team_id !== null) {
      const t = await access.teams.get(record.team_id);
      if (t) team = { team_id: t.id, ...(await access.budgetOf('team', t)) };
    }
    return { object: 'budget', key_id: record.id, ...key, team };
  });

  app.post<{ Params: { id: string } }>('/api/enterprise/vkeys/:id/reset', ACTION_WITHOUT_BODY, async (request) => {
    const current = await access.keys.require(resourceId(request.params.id, 'virtual key'));
    const before = await budgetOf(current);
    const { doc } = await access.keys.resetBudget(current.id, actorOf(request), { spent_before: before.spent, period_start: before.period_start }, writeOptions(request));
    return { object: 'budget', key_id: doc.id, ...(await budgetOf(doc)) };
  });

  app.post<{ Params: { id: string } }>('/api/enterprise/vkeys/:id/revoke', ACTION_WITHOUT_BODY, async (request, reply) => {
    return send(reply, await access.keys.revoke(resourceId(request.params.id, 'virtual key'), actorOf(request), writeOptions(request)));
  });
}
