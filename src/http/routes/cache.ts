import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditLog } from '../../audit/audit-log.js';
import { CACHE_KEY_PATTERN } from '../../cache/cache-key.js';
import { ownedNamespace } from '../../cache/cache-owner.js';
import type { ResponseCache } from '../../cache/response-cache.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { parseInput } from '../parse.js';
import { actorOf, needs } from '../plugins/authenticate.js';

/** What the cache admin API needs. */
export interface CacheRoutesDeps {
  cache: ResponseCache;
  audit: AuditLog;
}

const namespaceQuery = z.strictObject({ namespace: ownedNamespace });

/** The cache admin API (inside the admin scope): invalidate one answer by its key, or a namespace; statistics. */
export function registerCacheRoutes(app: FastifyInstance, deps: CacheRoutesDeps): void {
  app.delete<{ Params: { key: string } }>('/api/cache/:key', needs('cache:write', { allowEmptyBody: true }), async (request) => {
    const { key } = request.params;
    if (!CACHE_KEY_PATTERN.test(key) || !(await deps.cache.delete(key))) {
      throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No cached answer with key "${key.slice(0, 100)}".` });
    }
    await deps.audit.record({ actor: actorOf(request), action: 'cache.delete', target_type: 'cache_entry', target_id: key, details: {} });
    return { object: 'cache.entry', key, deleted: true };
  });

  app.delete('/api/cache', needs('cache:write', { allowEmptyBody: true }), async (request) => {
    const { namespace } = parseInput(namespaceQuery, request.query ?? {});
    const deleted = await deps.cache.deleteNamespace(namespace);
    await deps.audit.record({ actor: actorOf(request), action: 'cache.delete_namespace', target_type: 'cache_namespace', target_id: namespace, details: { deleted } });
    return { object: 'cache.namespace', namespace, deleted };
  });

  app.get('/api/cache/stats', needs('cache:read'), async () => {
    const stats = await deps.cache.stats();
    const lookups = stats.hits + stats.misses;
    return { object: 'cache.stats', ...stats, hit_rate: lookups === 0 ? null : stats.hits / lookups };
  });
}
