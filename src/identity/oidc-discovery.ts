import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';

/** The parts of an OpenID Provider's discovery document the gateway uses. */
const discoverySchema = z.looseObject({
  issuer: z.string().min(1),
  authorization_endpoint: z.url(),
  token_endpoint: z.url(),
  jwks_uri: z.url(),
});

export interface OidcProvider {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** The IdP's signing keys; refetched by jose when a token names a key it has not seen. */
  keys: JWTVerifyGetKey;
}

interface Cached {
  at: number;
  provider: Promise<OidcProvider>;
}

const TTL_MS = 3600_000;
const TIMEOUT_MS = 10_000;

/**
 * Discovery documents and key sets by discovery URL, kept an hour: a sign-in costs no round
 * trip to the IdP beyond the ones jose makes for a key it has not seen (rotation).
 */
export class OidcDiscovery {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly now: () => number = Date.now) {}

  get(discoveryUrl: string): Promise<OidcProvider> {
    const hit = this.cache.get(discoveryUrl);
    if (hit && this.now() - hit.at < TTL_MS) return hit.provider;
    const provider = this.fetch(discoveryUrl);
    this.cache.set(discoveryUrl, { at: this.now(), provider });
    // A failed fetch is not remembered: the next sign-in tries again.
    provider.catch(() => this.cache.delete(discoveryUrl));
    return provider;
  }

  private async fetch(discoveryUrl: string): Promise<OidcProvider> {
    let body: unknown;
    try {
      const res = await fetch(discoveryUrl, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`status ${res.status}`);
      body = await res.json();
    } catch (err) {
      throw new GatewayError('SF_ERR_SSO_IDP_UNAVAILABLE', { message: `The IdP's discovery document ${discoveryUrl} could not be read (${(err as Error).message}).`, cause: err });
    }
    const parsed = discoverySchema.safeParse(body);
    if (!parsed.success) throw new GatewayError('SF_ERR_SSO_IDP_UNAVAILABLE', { message: `The IdP's discovery document ${discoveryUrl} lacks issuer, authorization_endpoint, token_endpoint or jwks_uri.` });
    const doc = parsed.data;
    return {
      issuer: doc.issuer,
      authorizationEndpoint: doc.authorization_endpoint,
      tokenEndpoint: doc.token_endpoint,
      keys: createRemoteJWKSet(new URL(doc.jwks_uri), { timeoutDuration: TIMEOUT_MS }),
    };
  }
}
