import { GatewayError } from '../../errors/gateway-error.js';
import type { ProviderCall } from '../adapter.js';
import type { ProviderConfig } from '../types.js';

/** How the OpenAI-compatible adapter and its native Responses call reach one provider: URL parts and headers. */
export interface OpenAIUpstream {
  /** The base URL without a trailing slash. */
  base: string;
  /** The configured query string with its `?` ('' when none): Azure's api-version. */
  query: string;
  headers(call: ProviderCall): Record<string, string>;
}

export function openAIUpstream(provider: ProviderConfig): OpenAIUpstream {
  return {
    base: provider.base_url.replace(/\/+$/, ''),
    query: provider.query && Object.keys(provider.query).length ? `?${new URLSearchParams(provider.query).toString()}` : '',
    headers(call) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...call.forwardedHeaders, ...provider.headers };
      if (provider.api_key) {
        if (provider.auth_header === 'api-key') headers['api-key'] = provider.api_key;
        else headers.authorization = `Bearer ${provider.api_key}`;
      }
      return headers;
    },
  };
}

/** A cheap sanity check before bytes are forwarded unparsed: a JSON object, not an HTML error page. */
export function jsonText(text: string): string {
  const t = text.trim();
  if (t.charCodeAt(0) !== 123 || t.charCodeAt(t.length - 1) !== 125) throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE');
  return text;
}
