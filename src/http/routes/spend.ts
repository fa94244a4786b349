import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Authenticator } from '../../keys/authenticator.js';
import { invalidRequest } from '../../errors/from-zod.js';
import type { SpendLog } from '../../spend/spend-log.js';
import type { SpendQuery } from '../../spend/spend-record.js';
import type { Store } from '../../storage/types.js';
import { sendError } from '../error-response.js';
import { requireAdmin } from '../plugins/require-admin.js';

/** A time as epoch milliseconds or an ISO-8601 string. */
const time = z.union([
  z.string().regex(/^\d+$/).transform(Number),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
  z.iso.date().transform((s) => Date.parse(`${s}T00:00:00Z`)),
]);

const spendQuerySchema = z.strictObject({
  from: time.optional(),
  to: time.optional(),
  model: z.string().min(1).max(256).optional(),
  key: z.string().min(1).max(128).optional(),
  principal: z.string().min(1).max(128).optional(),
  status: z.union([z.enum(['success', 'error']), z.string().regex(/^\d{3}$/).transform(Number)]).optional(),
  limit: z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1).max(1000)).default(100),
  cursor: z.string().max(512).optional(),
});

export interface SpendRoutesDeps {
  store: Store;
  spendLog: SpendLog;
  authenticator: Authenticator;
}

/** Admin read access to the spend log. */
export function registerSpendRoutes(app: FastifyInstance, deps: SpendRoutesDeps): void {
  app.get('/api/spend/logs', { preHandler: requireAdmin(deps.authenticator) }, async (request, reply) => {
    const parsed = spendQuerySchema.safeParse(request.query ?? {});
    if (!parsed.success) return sendError(request, reply, invalidRequest(parsed.error));
    const q = parsed.data;
    const query: SpendQuery = { limit: q.limit };
    if (q.from !== undefined) query.from = q.from;
    if (q.to !== undefined) query.to = q.to;
    if (q.model !== undefined) query.model = q.model;
    if (q.key !== undefined) query.key_id = q.key;
    if (q.principal !== undefined) query.principal = q.principal;
    if (q.status !== undefined) query.status = q.status;
    if (q.cursor !== undefined) query.cursor = q.cursor;
    // Records still in the write buffer would look lost to an admin who just made a request.
    await deps.spendLog.flush();
    try {
      const page = await deps.store.querySpend(query);
      return reply.send({ object: 'list', data: page.rows, next_cursor: page.next_cursor });
    } catch (err) {
      return sendError(request, reply, err);
    }
  });
}
