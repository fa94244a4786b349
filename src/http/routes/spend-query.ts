import { z } from 'zod';
import type { SpendQuery } from '../../spend/spend-record.js';

/** Largest time JavaScript dates (and every store) can hold: 8.64e15 ms, the year 275760. */
const MAX_TIME = 8.64e15;

/** A time as epoch milliseconds or an ISO-8601 string. */
export const time = z
  .union([
    z.string().regex(/^\d{1,16}$/, 'a time is epoch milliseconds or an ISO 8601 date or date-time').transform(Number),
    z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
    z.iso.date().transform((s) => Date.parse(`${s}T00:00:00Z`)),
  ])
  .pipe(z.number().int().min(0).max(MAX_TIME, 'the time is out of range'));

/**
 * The spend log's filters. `/api/spend/logs` and its export both build their query schema from
 * this one shape, so the two accept the same parameters with the same meaning.
 */
export const spendFilterShape = {
  from: time.optional(),
  to: time.optional(),
  model: z.string().min(1).max(256).optional(),
  key: z.string().min(1).max(128).optional(),
  principal: z.string().min(1).max(128).optional(),
  status: z.union([z.enum(['success', 'error']), z.string().regex(/^\d{3}$/).transform(Number)]).optional(),
};

export type SpendFilters = z.output<z.ZodObject<typeof spendFilterShape>>;

/**
 * The schema, refusing an inverted range: an empty one (`from` = `to`) is a valid question with
 * no rows, `from` after `to` a mistake the client should hear about.
 */
export function rangeInOrder<S extends z.ZodType<{ from?: number | undefined; to?: number | undefined }>>(schema: S): S {
  return schema.refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, { message: 'must not be later than to', path: ['from'] });
}

/** The store query for the filters (the store's names: `key` is `key_id`). */
export function spendQueryOf(filters: SpendFilters, limit: number): SpendQuery {
  const query: SpendQuery = { limit };
  if (filters.from !== undefined) query.from = filters.from;
  if (filters.to !== undefined) query.to = filters.to;
  if (filters.model !== undefined) query.model = filters.model;
  if (filters.key !== undefined) query.key_id = filters.key;
  if (filters.principal !== undefined) query.principal = filters.principal;
  if (filters.status !== undefined) query.status = filters.status;
  return query;
}
