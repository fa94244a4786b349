import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestIdp {
  issuer: string;
  /** POSTs to the token endpoint so far, with the status each got. */
  readonly tokenRequests: { status: number }[];
  close(): Promise<void>;
}

export interface TestIdpOptions {
  /** Access token lifetime (authorization code and refresh) in seconds (default 3600). */
  accessTokenTtl?: number;
  /** Client-credentials token lifetime in seconds (default 3600). */
  clientCredentialsTtl?: number;
  /** Extra confidential clients for client credentials. */
  clients?: { client_id: string; client_secret: string }[];
  /** Clients for client credentials that authenticate with private_key_jwt (RFC 7523): their public keys. */
  jwtClients?: { client_id: string; jwks: { keys: object[] }; alg: string }[];
  /** Redirect URIs of the public PKCE client `gateway`. */
  redirectUris?: string[];
}

/**
 * A real OAuth 2.0 / OIDC server (oidc-provider, PROTOCOLS.md C4) on 127.0.0.1: client
 * credentials for `svc`/`svc-secret`, RFC 8707 resource indicators giving JWT access tokens whose
 * `aud` is the resource, PKCE required, dynamic registration, and a headless login/consent
 * (user from `login_hint`).
 */
export async function startTestIdp(options: TestIdpOptions = {}): Promise<TestIdp> {
  const http: Server = createServer();
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const jwk = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk as never] },
    cookies: { keys: ['test'] },
    clients: [
      { client_id: 'svc', client_secret: 'svc-secret', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
      ...(options.clients ?? []).map((c) => ({ ...c, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] })),
      ...(options.jwtClients ?? []).map((c) => ({ client_id: c.client_id, jwks: c.jwks, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: c.alg, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] })),
      { client_id: 'gateway', token_endpoint_auth_method: 'none', application_type: 'native', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: options.redirectUris ?? ['http://127.0.0.1:1/cb'] },
    ],
    scopes: ['openid', 'offline_access', 'mcp:tools', 'mcp:admin'],
    pkce: { required: () => true },
    ttl: { ClientCredentials: options.clientCredentialsTtl ?? 3600, AccessToken: options.accessTokenTtl ?? 3600 },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_c: unknown, _cl: unknown, oneOf?: string | string[]) => oneOf as string,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resource: string) => ({ scope: 'mcp:tools mcp:admin', audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      },
    },
    interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
  } as never);
  const callback = provider.callback();
  const tokenRequests: { status: number }[] = [];
  http.on('request', (req, res) => {
    void (async () => {
      if (req.method === 'POST' && req.url === '/token') {
        const entry = { status: 0 };
        tokenRequests.push(entry);
        res.on('finish', () => (entry.status = res.statusCode));
        return callback(req, res);
      }
      if (!req.url?.startsWith('/interaction/')) return callback(req, res);
      const d = await provider.interactionDetails(req, res);
      if (d.prompt.name === 'login') {
        const hint = (d.params as { login_hint?: string }).login_hint;
        return provider.interactionFinished(req, res, { login: { accountId: hint ?? 'alice' } });
      }
      const g = d.grantId ? await provider.Grant.find(d.grantId) : new provider.Grant({ accountId: d.session!.accountId, clientId: d.params.client_id as string });
      const details = d.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
      if (details.missingOIDCScope?.length) g!.addOIDCScope(details.missingOIDCScope.join(' '));
      if (details.missingOIDCClaims?.length) g!.addOIDCClaims(details.missingOIDCClaims);
      for (const [r, s] of Object.entries(details.missingResourceScopes ?? {})) g!.addResourceScope(r, s.join(' '));
      await provider.interactionFinished(req, res, { consent: { grantId: await g!.save() } }, { mergeWithLastSubmission: true });
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  return {
    issuer,
    tokenRequests,
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}
