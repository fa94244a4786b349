import { needs } from '../plugins/authenticate.js';
import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../audit/audit-log.js';
import { pageQuerySchema } from '../../keys/admin-schemas.js';
import { parseInput } from '../parse.js';

/** GET /api/audit: admin actions, newest first. Registered inside the admin scope. */
export function registerAuditRoutes(app: FastifyInstance, deps: { audit: AuditLog }): void {
  app.get('/api/audit', needs('audit:read'), async (request) => {
    const query = parseInput(pageQuerySchema, request.query ?? {});
    const page = await deps.audit.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    return {
      object: 'list',
      data: page.items.map(({ doc }) => ({ ...doc, time: new Date(doc.time).toISOString() })),
      next_cursor: page.next_cursor,
    };
  });
}
