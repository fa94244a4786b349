import type { Finding } from './types.js';

/** Replaces each masked span with `[REDACTED:<category>]`; overlapping spans collapse into the first. */
export function maskSpans(text: string, findings: readonly Finding[]): string {
  const spans = findings.filter((f) => f.action === 'mask' && f.end > f.start).sort((a, b) => a.start - b.start);
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const span of spans) {
    if (span.start < at) continue;
    out += text.slice(at, span.start) + `[REDACTED:${span.category}]`;
    at = span.end;
  }
  return out + text.slice(at);
}
