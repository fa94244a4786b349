import { GatewayError } from '../../errors/gateway-error.js';
import type { ProviderConfig } from '../types.js';

/** What a call to a provider that may not receive a caller's own key does (`passthrough.anthropic.byok_fallback`). */
export type ByokFallback = 'skip' | 'provider_key';

/**
 * Where a caller's own Anthropic key (BYOK) may go. It is meant for one Anthropic account's
 * endpoint, the BYOK target, and is sent only to providers at the target's base_url: a fallback
 * chain or model group may also hold an Anthropic-compatible third party or another proxy, and
 * those must never see it.
 */
export interface ByokRule {
  /** The provider callers' keys are meant for (a raw `/anthropic/*` forward with one goes there); undefined without Anthropic providers. */
  readonly target: ProviderConfig | undefined;
  /**
   * The key override for a call to `provider` by a caller who sent `own` (undefined: none sent,
   * or BYOK not allowed for it): `own` where it may go; elsewhere undefined (the provider's own
   * key) when the operator allows that, else an SF_ERR_BYOK_NOT_ALLOWED that skips the target.
   */
  keyFor(provider: ProviderConfig, own: string | undefined): string | undefined;
}

/** The origin and path of a base URL, so that `HTTPS://API.anthropic.com` and `https://api.anthropic.com` are one endpoint. */
function endpoint(baseUrl: string): string {
  const url = new URL(baseUrl);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function createByokRule(target: ProviderConfig | undefined, fallback: ByokFallback): ByokRule {
  const allowed = target === undefined ? undefined : endpoint(target.base_url);
  return {
    target,
    keyFor(provider, own) {
      if (own === undefined) return undefined;
      if (allowed !== undefined && provider.type === 'anthropic' && endpoint(provider.base_url) === allowed) return own;
      if (fallback === 'provider_key') return undefined;
      const meantFor = target === undefined ? 'no provider on this gateway' : `provider "${target.name}" (passthrough.anthropic.byok_provider)`;
      throw new GatewayError('SF_ERR_BYOK_NOT_ALLOWED', {
        message: `The caller's own Anthropic key is meant for ${meantFor}, so it is not sent to provider "${provider.name}", and passthrough.anthropic.byok_fallback is "skip".`,
        retryable: false,
        skipReason: 'the caller\'s own Anthropic key may not be sent to it',
      });
    },
  };
}
