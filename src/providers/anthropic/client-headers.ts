import { isVirtualKey } from '../../keys/key-material.js';
import type { IncomingHeaders } from '../../core/request-log.js';
import type { Principal } from '../../keys/principal.js';

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

/**
 * Bring your own key: with a gateway key as `Authorization: Bearer` and an Anthropic key in
 * `x-api-key`, the caller's key goes upstream instead of the provider's, when the gateway
 * (`passthrough.anthropic.allow_byok`) or the caller's virtual key (`allow_byok`) allows it.
 * Spend and budgets still count against the gateway key.
 */
export function callerAnthropicKey(headers: IncomingHeaders, principal: Principal | null, allowedGlobally: boolean): string | undefined {
  if (!principal || !(allowedGlobally || principal.policy?.allowByok === true)) return undefined;
  const auth = headers.authorization;
  const own = headers['x-api-key'];
  if (typeof auth !== 'string' || typeof own !== 'string' || own === '') return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  if (bearer === undefined || bearer === own || isVirtualKey(own)) return undefined;
  return own;
}

/** Adds the 1M-context beta to `anthropic-beta` unless the client already listed it. */
export function withLongContextBeta(headers: Record<string, string>): Record<string, string> {
  const current = headers['anthropic-beta'];
  if (current === undefined || current.trim() === '') return { ...headers, 'anthropic-beta': LONG_CONTEXT_BETA };
  if (current.split(',').some((flag) => flag.trim() === LONG_CONTEXT_BETA)) return headers;
  return { ...headers, 'anthropic-beta': `${current},${LONG_CONTEXT_BETA}` };
}
