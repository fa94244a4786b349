/**
 * The body without the gateway's own `cache` controls (docs/caching.md), which no provider
 * must receive. Returns the same object when there is nothing to strip.
 */
export function withoutCacheControls<T extends Record<string, unknown>>(body: T): T {
  if (!('cache' in body)) return body;
  const copy = { ...body };
  delete copy.cache;
  return copy;
}
