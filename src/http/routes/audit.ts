import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../audit/audit-log.js';
import { pageQuerySchema } from '../../keys/admin-schemas.js';
import type { Authenticator } from '../../keys/authenticator.js';
import { parseInput } from '../parse.js';
import { requireAdmin } from '../plugins/require-admin.js';

/** GET /api/audit: admin actions, newest first. */
export function registerAuditRoutes(app: FastifyInstance, deps: { authenticator: Authenticator; audit: AuditLog }): void {
  app.get('/api/audit', { preHandler: requireAdmin(deps.authenticator) }, async (request) => {
    const query = parseInput(pageQuerySchema, request.query ?? {});
    const page = await deps.audit.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    return {
      object: 'list',
      data: page.items.map(({ doc }) => ({ ...doc, time: new Date(doc.time).toISOString() })),
      next_cursor: page.next_cursor,
    };
  });
}
