/** Escapes Redis glob metacharacters so `value` matches itself literally in SCAN MATCH. */
export function escapeGlob(value: string): string {
  return value.replace(/[\\*?[\]]/g, '\\$&');
}
