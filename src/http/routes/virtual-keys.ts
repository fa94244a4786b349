import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Access } from '../../keys/access.js';
import { createKeySchema, pageQuerySchema, updateKeySchema } from '../../keys/admin-schemas.js';
import type { VirtualKeyRecord } from '../../keys/records.js';
import type { VersionedDoc } from '../../storage/types.js';
import { etagOf, ifMatchVersion, objectBody, parseInput, resourceId } from '../parse.js';
import { canSeeKey, keyCreationFor, keyUpdateFor, requireKey } from '../../identity/rbac.js';
import { actorOf, callerOf, needs } from '../plugins/authenticate.js';

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

  /** The key, once the caller is known to be allowed to see it (org_admin: its teams'; internal_user: its own). */
  const ownedKey = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const found = await access.keys.requireVersioned(resourceId(request.params.id, 'virtual key'));
    requireKey(callerOf(request), found.doc);
    return found;
  };

  app.post('/api/enterprise/vkeys', needs('keys:write', { selfService: true }), async (request, reply) => {
    const body = objectBody(request.body);
    const input = keyCreationFor(callerOf(request), parseInput(createKeySchema, body), body as Record<string, unknown>);
    const { record, key } = await access.keys.create(input, actorOf(request));
    return reply.code(201).header('etag', etagOf(1)).send({ ...keyView(record, 1, access.now()), key });
  });

  // Scoped callers see their keys of each page: a page may hold fewer than `limit`, the cursor still moves on.
  app.get('/api/enterprise/vkeys', needs('keys:read', { selfService: true }), async (request) => {
    const query = parseInput(pageQuerySchema, request.query ?? {});
    const page = await access.keys.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    const now = access.now();
    const caller = callerOf(request);
    return { object: 'list', data: page.items.filter((item) => canSeeKey(caller, item.doc)).map((item) => keyView(item.doc, item.version, now)), next_cursor: page.next_cursor };
  });

  app.get<{ Params: { id: string } }>('/api/enterprise/vkeys/:id', needs('keys:read', { selfService: true }), async (request, reply) => {
    const { doc, version } = await ownedKey(request);
    const budget = await budgetOf(doc);
    return reply.header('etag', etagOf(version)).send({ ...keyView(doc, version, access.now()), spend: budget.spent });
  });

  app.patch<{ Params: { id: string } }>('/api/enterprise/vkeys/:id', needs('keys:write'), async (request, reply) => {
    const { doc: { id } } = await ownedKey(request);
    const input = keyUpdateFor(callerOf(request), parseInput(updateKeySchema, objectBody(request.body)));
    return send(reply, await access.keys.update(id, input, actorOf(request), writeOptions(request)));
  });

  app.get<{ Params: { id: string } }>('/api/enterprise/vkeys/:id/budget', needs('keys:read', { selfService: true }), async (request) => {
    const { doc: record } = await ownedKey(request);
    const key = await budgetOf(record);
    let team = null;
    if (record.team_id !== null) {
      const t = await access.teams.get(record.team_id);
      if (t) team = { team_id: t.id, ...(await access.budgetOf('team', t)) };
    }
    return { object: 'budget', key_id: record.id, ...key, team };
  });

  app.post<{ Params: { id: string } }>('/api/enterprise/vkeys/:id/reset', needs('budgets:write', { allowEmptyBody: true }), async (request) => {
    const { doc: current } = await ownedKey(request);
    const before = await budgetOf(current);
    const { doc } = await access.keys.resetBudget(current.id, actorOf(request), { spent_before: before.spent, period_start: before.period_start }, writeOptions(request));
    return { object: 'budget', key_id: doc.id, ...(await budgetOf(doc)) };
  });

  app.post<{ Params: { id: string } }>('/api/enterprise/vkeys/:id/revoke', needs('keys:write', { selfService: true, allowEmptyBody: true }), async (request, reply) => {
    const { doc } = await ownedKey(request);
    return send(reply, await access.keys.revoke(doc.id, actorOf(request), writeOptions(request)));
  });
}
