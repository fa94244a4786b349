import type { Readable } from 'node:stream';
import { request } from 'undici';

/** A response read whole: status, headers, body text, and the body as JSON when it is JSON. */
export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/**
 * One HTTP call with undici, read to the end. A string or stream body is sent as is, anything
 * else as JSON; the method defaults to POST with a body and GET without.
 */
export async function call(url: string, options: { method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD'; headers?: Record<string, string>; body?: unknown } = {}): Promise<Res> {
  const { body } = options;
  const payload = body === undefined ? undefined : typeof body === 'string' || isStream(body) ? body : JSON.stringify(body);
  const res = await request(url, {
    method: options.method ?? (body === undefined ? 'GET' : 'POST'),
    headers: options.headers ?? {},
    ...(payload !== undefined ? { body: payload } : {}),
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

function isStream(v: unknown): v is Readable {
  return typeof v === 'object' && v !== null && typeof (v as Readable).pipe === 'function';
}
