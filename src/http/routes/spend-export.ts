import type { FastifyInstance } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { invalidRequest } from '../../errors/from-zod.js';
import { csvHeader, encodeSpendRows, type SpendExportFormat } from '../../spend/spend-export-format.js';
import type { SpendLog } from '../../spend/spend-log.js';
import type { SpendPage } from '../../spend/spend-record.js';
import type { Store } from '../../storage/types.js';
import { drainedOrClosed } from '../drained-or-closed.js';
import { sendError } from '../error-response.js';
import { needs } from '../plugins/authenticate.js';
import { rangeInOrder, spendFilterShape, spendQueryOf } from './spend-query.js';

/** Rows per store query: one page is what the export holds in memory at a time. */
const PAGE_SIZE = 1_000;

const exportQuerySchema = rangeInOrder(
  z.strictObject({
    ...spendFilterShape,
    format: z.enum(['csv', 'jsonl']).default('jsonl'),
  }),
);

const CONTENT_TYPES: Record<SpendExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson',
};

/** `20261101T000000Z` (`.123` kept when there are milliseconds): sorts as text, and no `:`, which some file systems refuse. */
function fileTime(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z').replace(/[-:]/g, '');
}

export interface SpendExportDeps {
  store: Store;
  spendLog: SpendLog;
  now: () => number;
}

/**
 * GET /api/spend/logs/export: every row of a range as CSV or JSON lines, newest first like
 * /api/spend/logs, with its filters. It walks the store page by page and writes each page as it
 * arrives, waiting while the client's socket is full and stopping when the client leaves, so
 * any range streams in the memory of one page. Registered inside the admin scope.
 */
export function registerSpendExportRoute(app: FastifyInstance, deps: SpendExportDeps): void {
  // No automatic HEAD route: a body Node discards would still be read from the store to the end.
  app.get('/api/spend/logs/export', { ...needs('spend:read'), exposeHeadRoute: false }, async (request, reply) => {
    const parsed = exportQuerySchema.safeParse(request.query ?? {});
    if (!parsed.success) return sendError(request, reply, invalidRequest(parsed.error));
    const { format, ...filters } = parsed.data;
    // Both bounds fixed before the first page: the file name states the range, and rows that
    // arrive while the export runs stay out of it.
    const from = filters.from ?? 0;
    const to = filters.to ?? deps.now();
    const query = spendQueryOf({ ...filters, from, to }, PAGE_SIZE);
    // Records still in the write buffer would be missing from a file asked for just after them.
    await deps.spendLog.flush();

    let page: SpendPage;
    try {
      // Read before the status line goes out, so a store that is down still gets its real error.
      page = await deps.store.querySpend(query);
    } catch (err) {
      return sendError(request, reply, err);
    }

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...(reply.getHeaders() as OutgoingHttpHeaders),
      'content-type': CONTENT_TYPES[format],
      'content-disposition': `attachment; filename="smartflow-spend-${fileTime(from)}-${fileTime(to)}.${format}"`,
      'cache-control': 'no-store',
    });
    let rowsSent = 0;
    try {
      let chunk = (format === 'csv' ? csvHeader() : '') + encodeSpendRows(page.rows, format);
      // Each `destroyed` check is a moment the client may have left (before the first page,
      // while its socket was full, while the store answered): then nobody reads another page.
      while (!raw.destroyed) {
        if (!raw.write(chunk)) await drainedOrClosed(raw);
        rowsSent += page.rows.length;
        if (page.next_cursor === null) {
          raw.end();
          return;
        }
        if (raw.destroyed) return;
        page = await deps.store.querySpend({ ...query, cursor: page.next_cursor });
        chunk = encodeSpendRows(page.rows, format);
      }
    } catch (err) {
      // The status and rows are out: no error can be sent any more. Cutting the connection
      // (no final chunk) tells the client the file is incomplete instead of letting it look whole.
      request.log.warn({ err, rows_sent: rowsSent }, 'spend export failed part-way; the response was cut short');
      raw.destroy();
    }
  });
}
