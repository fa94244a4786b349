import type { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { invalidRequest } from '../errors/from-zod.js';

/** Parses an external input with its schema; a mismatch is a 400 naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidRequest(parsed.error);
  return parsed.data;
}

/** Resource ids in admin URLs; anything else cannot exist, so it is a 404 without a store read. */
const RESOURCE_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function resourceId(value: string, what: string): string {
  if (!RESOURCE_ID.test(value)) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No ${what} with id "${value.slice(0, 100)}".` });
  return value;
}

/** A JSON object body, or {} when none was sent (POST actions without a payload). */
export function objectBody(body: unknown): unknown {
  return body === undefined || body === null ? {} : body;
}
