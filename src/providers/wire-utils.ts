/** Small readers for untyped provider JSON and headers, shared by every adapter. */

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * First value of a header that may repeat. `name` is lower-case; undici delivers lower-case
 * names, and other header maps are matched case-insensitively.
 */
export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  let v = headers[name];
  if (v === undefined) {
    for (const key in headers) {
      if (key.toLowerCase() === name) {
        v = headers[key];
        break;
      }
    }
  }
  return Array.isArray(v) ? v[0] : v;
}

/** A token count from provider JSON: a non-negative integer, 0 for anything else. */
export function tokenCount(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}
