import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../audit/audit-log.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { chainSchema } from '../../routing/chain-schema.js';
import type { ChainRegistry, StoredChain } from '../../routing/chains.js';
import { objectBody, parseInput, resourceId } from '../parse.js';
import { actorOf, needs } from '../plugins/authenticate.js';

function chainView(stored: StoredChain) {
  return { object: 'fallback_chain', ...stored.chain, source: stored.source };
}

/** Admin API for fallback chains: /api/routing/fallback-chains, inside the admin scope. Changes apply on every instance at once. */
export function registerRoutingRoutes(app: FastifyInstance, deps: { chains: ChainRegistry; audit: AuditLog }): void {
  const { chains, audit } = deps;
  const base = '/api/routing/fallback-chains';

  app.get(base, needs('routing:read'), async () => ({ object: 'list', data: chains.list().map(chainView) }));

  app.post(base, needs('routing:write'), async (request, reply) => {
    const chain = parseInput(chainSchema, objectBody(request.body));
    const stored = await chains.create(chain);
    await audit.record({ actor: actorOf(request), action: 'chain.create', target_type: 'fallback_chain', target_id: chain.id, details: {} });
    return reply.code(201).send(chainView(stored));
  });

  app.get<{ Params: { id: string } }>(`${base}/:id`, needs('routing:read'), async (request) => {
    return chainView(chains.require(resourceId(request.params.id, 'fallback chain')));
  });

  app.put<{ Params: { id: string } }>(`${base}/:id`, needs('routing:write'), async (request) => {
    const id = resourceId(request.params.id, 'fallback chain');
    const body = objectBody(request.body);
    const withId = typeof body === 'object' && body !== null && !Array.isArray(body) && !('id' in body) ? { ...body, id } : body;
    const chain = parseInput(chainSchema, withId);
    if (chain.id !== id) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The body\'s id must match the URL.', param: 'id' });
    const stored = await chains.replace(chain);
    await audit.record({ actor: actorOf(request), action: 'chain.replace', target_type: 'fallback_chain', target_id: id, details: {} });
    return chainView(stored);
  });

  app.delete<{ Params: { id: string } }>(`${base}/:id`, needs('routing:write', { allowEmptyBody: true }), async (request) => {
    const id = resourceId(request.params.id, 'fallback chain');
    await chains.delete(id);
    await audit.record({ actor: actorOf(request), action: 'chain.delete', target_type: 'fallback_chain', target_id: id, details: {} });
    return { object: 'fallback_chain', id, deleted: true };
  });
}
