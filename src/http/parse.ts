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

/**
 * The version an `If-Match` header names (`"3"`, `W/"3"` or `3`, as the ETag of an admin
 * resource says), or undefined without one. `*` matches any version, as in HTTP.
 */
export function ifMatchVersion(headers: Record<string, string | string[] | undefined>): number | undefined {
  const raw = headers['if-match'];
  if (raw === undefined) return undefined;
  const value = (Array.isArray(raw) ? raw.join(',') : raw).trim();
  if (value === '*') return undefined;
  const match = /^(?:W\/)?"?([1-9][0-9]{0,14})"?$/.exec(value);
  if (!match) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'If-Match must name one version, as the ETag header of the resource says (e.g. "3").', param: 'If-Match' });
  return Number(match[1]);
}

/** The ETag of a stored admin resource: its version. */
export function etagOf(version: number): string {
  return `"${version}"`;
}
