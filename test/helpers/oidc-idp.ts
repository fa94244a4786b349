import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** What the IdP says about a user: claims go into the id_token as they are. */
export interface IdpUser {
  groups?: string[];
  roles?: string[];
  tid?: string;
  /** Claims put in the token as well, e.g. Entra's `_claim_names`/`_claim_sources` for group overage. */
  extra?: Record<string, unknown>;
}

export interface TestIdp {
  issuer: string;
  /** Mutable: a later sign-in sees the change (a group removed, a role added). */
  users: Record<string, IdpUser>;
  /** The IdP's signing key (a test signs forged-but-well-keyed tokens with it, e.g. expired ones). */
  privateJwk: Record<string, unknown>;
  clientId: string;
  clientSecret: string;
  /** Runs the authorization code + PKCE flow as the client and returns the id_token for `user`. */
  idTokenFor(user: string, options?: { nonce?: string }): Promise<string>;
  /** Follows the IdP's redirects from `url` (login and consent are automatic) until it sends the browser elsewhere. */
  followToClient(url: string, jar: CookieJar): Promise<string>;
  close(): Promise<void>;
}

export const TENANT = 'tenant-test';
const TEST_REDIRECT = 'http://127.0.0.1:1/test-client-cb';

/** A minimal cookie jar: name=value per origin, as a browser keeps them for these redirects. */
export class CookieJar {
  private readonly cookies = new Map<string, Map<string, string>>();

  store(url: string, res: Response): void {
    const origin = new URL(url).origin;
    const jar = this.cookies.get(origin) ?? new Map<string, string>();
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
    this.cookies.set(origin, jar);
  }

  header(url: string): string {
    const jar = this.cookies.get(new URL(url).origin);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  get(url: string, name: string): string | undefined {
    return this.cookies.get(new URL(url).origin)?.get(name);
  }
}

/** A GET with the jar's cookies and no automatic redirects. */
export async function jarFetch(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const cookie = jar.header(url);
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), ...(cookie ? { cookie } : {}) } });
  jar.store(url, res);
  return res;
}

/**
 * A real OpenID Provider (oidc-provider 9) on 127.0.0.1, set up as PROTOCOLS.md C4 describes:
 * id_tokens carry `groups`, `roles`, `tid` and `oid` per user; login and consent are automatic
 * (the user comes from `login_hint`). `redirectUris` are the gateway callbacks it accepts.
 */
export async function startTestIdp(options: { users: Record<string, IdpUser>; redirectUris?: string[] }): Promise<TestIdp> {
  const users = options.users;
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const privateJwk = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
  const clientId = 'gateway';
  const clientSecret = `secret-${randomBytes(8).toString('hex')}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [privateJwk] },
    cookies: { keys: ['test'] },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 3600, AuthorizationCode: 60 },
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [...(options.redirectUris ?? []), TEST_REDIRECT],
      },
    ],
    scopes: ['openid', 'profile', 'email'],
    claims: { openid: ['sub', 'groups', 'roles', 'tid', 'oid', '_claim_names', '_claim_sources'], profile: ['name'], email: ['email'] },
    conformIdTokenClaims: false,
    findAccount: async (_ctx: unknown, sub: string) =>
      users[sub] && {
        accountId: sub,
        claims: async () => {
          const u = users[sub]!;
          return { sub, tid: u.tid ?? TENANT, oid: `oid-${sub}`, name: `User ${sub}`, email: `${sub}@example.test`, ...(u.groups ? { groups: u.groups } : {}), ...(u.roles ? { roles: u.roles } : {}), ...u.extra };
        },
      },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
  });
  const cb = provider.callback();
  server.on('request', async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!req.url?.startsWith('/interaction/')) return cb(req, res);
    const d = await provider.interactionDetails(req, res);
    if (d.prompt.name === 'login') return provider.interactionFinished(req, res, { login: { accountId: users[d.params.login_hint] ? d.params.login_hint : Object.keys(users)[0] } });
    const g = d.grantId ? await provider.Grant.find(d.grantId) : new provider.Grant({ accountId: d.session.accountId, clientId: d.params.client_id });
    const { missingOIDCScope = [], missingOIDCClaims = [] } = d.prompt.details;
    if (missingOIDCScope.length) g.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims.length) g.addOIDCClaims(missingOIDCClaims);
    return provider.interactionFinished(req, res, { consent: { grantId: await g.save() } }, { mergeWithLastSubmission: true });
  });

  async function followToClient(url: string, jar: CookieJar): Promise<string> {
    let next = url;
    for (let hop = 0; hop < 20; hop++) {
      if (!next.startsWith(issuer)) return next;
      const res = await jarFetch(jar, next);
      await res.arrayBuffer();
      const location = res.headers.get('location');
      if (!location) throw new Error(`the IdP answered ${res.status} without a redirect at ${next}`);
      next = new URL(location, next).toString();
    }
    throw new Error('too many redirects');
  }

  return {
    issuer,
    users,
    privateJwk,
    clientId,
    clientSecret,
    followToClient,
    async idTokenFor(user, opts = {}) {
      const verifier = randomBytes(32).toString('base64url');
      const auth = new URL(`${issuer}/auth`);
      auth.search = new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: TEST_REDIRECT,
        scope: 'openid profile email',
        login_hint: user,
        prompt: 'consent',
        state: randomBytes(8).toString('hex'),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        ...(opts.nonce ? { nonce: opts.nonce } : {}),
      }).toString();
      const back = new URL(await followToClient(auth.toString(), new CookieJar()));
      const code = back.searchParams.get('code');
      if (!code) throw new Error(`no code in ${back}`);
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: TEST_REDIRECT, code_verifier: verifier }),
      });
      const body = (await res.json()) as { id_token?: string };
      if (!body.id_token) throw new Error(`no id_token: ${JSON.stringify(body)}`);
      return body.id_token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
