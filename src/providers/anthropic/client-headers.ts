import type { IncomingHeaders } from '../../pipeline/types.js';

/** The beta flag that unlocks Claude's 1M-token context window (what a `[1m]` model suffix asks for). */
export const LONG_CONTEXT_BETA = 'context-1m-2025-08-07';

/** Every `anthropic-*` header the client sent, unchanged: beta flags must reach Anthropic byte for byte. */
export function anthropicClientHeaders(headers: IncomingHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('anthropic-') || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

/** Adds the 1M-context beta to `anthropic-beta` unless the client already listed it. */
export function withLongContextBeta(headers: Record<string, string>): Record<string, string> {
  const current = headers['anthropic-beta'];
  if (current === undefined || current.trim() === '') return { ...headers, 'anthropic-beta': LONG_CONTEXT_BETA };
  if (current.split(',').some((flag) => flag.trim() === LONG_CONTEXT_BETA)) return headers;
  return { ...headers, 'anthropic-beta': `${current},${LONG_CONTEXT_BETA}` };
}
