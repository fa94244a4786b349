import { hash } from 'node:crypto';
import type { IncomingHeaders } from '../core/request-log.js';
import { anthropicClientHeaders } from '../providers/anthropic/client-headers.js';

/** What a request carries outside its body that reaches the provider and can change the answer. */
export interface KeyContextInput {
  /** Native Anthropic requests forward every `anthropic-*` header and the query string (`?beta=true`). */
  nativeAnthropic: boolean;
  headers: IncomingHeaders;
  /** The client's query string with its `?`, '' when none. */
  query: string;
  /** A `[1m]` model suffix: the 1M-context beta flag goes upstream. */
  longContext: boolean;
  /** The caller's own provider key (BYOK), when it replaces the provider's. */
  ownProviderKey: string | undefined;
}

/** Beta flags are a set: order, spacing and repeats do not change what the provider enables. */
function betaFlags(value: string): string {
  return [...new Set(value.split(',').map((f) => f.trim()).filter((f) => f !== ''))].sort().join(',');
}

/** Query parameters in a canonical order; '' when there are none. */
function canonicalQuery(query: string): string {
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  params.sort();
  return params.toString();
}

/**
 * The request context that is part of the cache key: two requests with the same body but other
 * `anthropic-beta` or `anthropic-version` headers, another query string, or another caller's own
 * provider key must not share an answer. The own key enters only as its SHA-256 (the key itself
 * is a secret and the cache key is shown to clients).
 */
export function keyContext(input: KeyContextInput): Record<string, string> {
  const context: Record<string, string> = {};
  if (input.nativeAnthropic) {
    for (const [name, value] of Object.entries(anthropicClientHeaders(input.headers))) context[`header:${name}`] = name === 'anthropic-beta' ? betaFlags(value) : value;
    const query = canonicalQuery(input.query);
    if (query !== '') context.query = query;
  }
  if (input.longContext) context.long_context = 'true';
  if (input.ownProviderKey !== undefined) context.own_key = hash('sha256', input.ownProviderKey, 'hex');
  return context;
}
