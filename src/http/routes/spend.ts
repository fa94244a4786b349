import { needs } from '../plugins/authenticate.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { invalidRequest } from '../../errors/from-zod.js';
import type { SpendLog } from '../../spend/spend-log.js';
import type { TeamService } from '../../identity/teams.js';
import type { VirtualKeyService } from '../../keys/virtual-keys.js';
import type { SpendSummary, SpendSummaryRow } from '../../spend/spend-record.js';
import type { Store } from '../../storage/types.js';
import { sendError } from '../error-response.js';
import { parseInput } from '../parse.js';
import { registerSpendExportRoute } from './spend-export.js';
import { rangeInOrder, spendFilterShape, spendQueryOf, time } from './spend-query.js';

const spendQuerySchema = rangeInOrder(
  z.strictObject({
    ...spendFilterShape,
    limit: z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1).max(1000)).default(100),
    cursor: z.string().max(512).optional(),
  }),
);

const SUMMARY_DEFAULT_WINDOW_MS = 30 * 24 * 3_600_000;

const summaryQuerySchema = z.strictObject({
  from: time.optional(),
  to: time.optional(),
});

export interface SpendRoutesDeps {
  store: Store;
  spendLog: SpendLog;
  keys: VirtualKeyService;
  teams: TeamService;
  now: () => number;
}

function summaryView(row: SpendSummaryRow) {
  return {
    requests: row.requests,
    errors: row.errors,
    input_tokens: row.input_tokens,
    cached_input_tokens: row.cached_input_tokens,
    output_tokens: row.output_tokens,
    spend: row.cost_micros / 1_000_000,
    cost_micros: row.cost_micros,
    last_used: new Date(row.last_used).toISOString(),
  };
}

/**
 * The range a summary covers: the one asked for (or the default window), unless an edge day's raw
 * rows were gone and it was counted whole from the daily rollups (`widened`).
 */
function rangeView(summary: SpendSummary, from: number, to: number | undefined) {
  return {
    from: new Date(summary.from ?? from).toISOString(),
    to: summary.to === undefined ? null : new Date(summary.to).toISOString(),
    widened: summary.from !== from || summary.to !== to,
  };
}

/** Admin read access to the spend log (inside the admin scope): rows, their export, and totals per key and per team. */
export function registerSpendRoutes(app: FastifyInstance, deps: SpendRoutesDeps): void {
  const summarize = async (groupBy: 'key' | 'team', rawQuery: unknown) => {
    const q = parseInput(summaryQuerySchema, rawQuery ?? {});
    // Without bounds, the last 30 days: the usual question, answered mostly from the rollups.
    const from = q.from ?? (q.to ?? deps.now()) - SUMMARY_DEFAULT_WINDOW_MS;
    await deps.spendLog.flush();
    const summary = await deps.store.summarizeSpend({ group_by: groupBy, from, ...(q.to !== undefined ? { to: q.to } : {}) });
    return { rows: summary.rows, range: rangeView(summary, from, q.to) };
  };

  app.get('/api/spend/keys', needs('spend:read'), async (request) => {
    const { rows, range } = await summarize('key', request.query);
    const records = await Promise.all(rows.map((row) => (row.id === null ? undefined : deps.keys.get(row.id))));
    return {
      object: 'list',
      ...range,
      data: rows.map((row, i) => ({ key_id: row.id, alias: records[i]?.alias ?? null, team_id: records[i]?.team_id ?? null, ...summaryView(row) })),
    };
  });

  app.get('/api/spend/teams', needs('spend:read'), async (request) => {
    const { rows, range } = await summarize('team', request.query);
    const teams = await Promise.all(rows.map((row) => (row.id === null ? undefined : deps.teams.get(row.id))));
    return { object: 'list', ...range, data: rows.map((row, i) => ({ team_id: row.id, name: teams[i]?.name ?? null, ...summaryView(row) })) };
  });

  app.get('/api/spend/logs', needs('spend:read'), async (request, reply) => {
    const parsed = spendQuerySchema.safeParse(request.query ?? {});
    if (!parsed.success) return sendError(request, reply, invalidRequest(parsed.error));
    const { limit, cursor, ...filters } = parsed.data;
    const query = spendQueryOf(filters, limit);
    if (cursor !== undefined) query.cursor = cursor;
    // Records still in the write buffer would look lost to an admin who just made a request.
    await deps.spendLog.flush();
    try {
      const page = await deps.store.querySpend(query);
      return reply.send({ object: 'list', data: page.rows, next_cursor: page.next_cursor });
    } catch (err) {
      return sendError(request, reply, err);
    }
  });

  registerSpendExportRoute(app, { store: deps.store, spendLog: deps.spendLog, now: deps.now });
}
