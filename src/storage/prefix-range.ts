/**
 * The smallest string greater than every string that starts with `prefix`, in byte order (SQLite's
 * BINARY, PostgreSQL's "C" collation: UTF-8 byte order is code point order), so a prefix match becomes a primary-key range scan.
 * Undefined when no such bound exists (empty prefix or only U+10FFFF).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0) ?? 0);
  while (points.length > 0) {
    const last = points.pop() ?? 0;
    if (last < 0x10ffff) {
      // Code points in the surrogate range are not characters; skip over it.
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}
