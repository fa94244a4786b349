/** Space-separated OAuth scopes (RFC 6749 §3.3) joined without repeats, in first-seen order; null when empty. */
export function scopeUnion(...scopes: Array<string | null | undefined>): string | null {
  const all = new Set(scopes.flatMap((s) => (s ?? '').split(' ').filter(Boolean)));
  return all.size ? [...all].join(' ') : null;
}

/** True when `held` already includes every scope of `wanted`. */
export function scopeCovers(held: string | null | undefined, wanted: string): boolean {
  const have = new Set((held ?? '').split(' ').filter(Boolean));
  return wanted.split(' ').filter(Boolean).every((s) => have.has(s));
}
