import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import type { Store } from '../storage/types.js';
import type { OidcProvider } from './oidc-discovery.js';
import type { ResolvedSso } from './sso-config.js';

const FLOW_TTL_MS = 10 * 60_000;
const TIMEOUT_MS = 10_000;

const flowSchema = z.strictObject({ nonce: z.string(), verifier: z.string(), redirect_uri: z.string() });
type Flow = z.infer<typeof flowSchema>;

const tokenResponseSchema = z.looseObject({ id_token: z.string().min(1) });

const random = () => randomBytes(32).toString('base64url');
const flowKey = (state: string) => `sso:flow:${createHash('sha256').update(state).digest('hex')}`;

function refused(reason: string): GatewayError {
  return new GatewayError('SF_ERR_SSO_TOKEN_INVALID', { message: `The sign-in was refused: ${reason}.` });
}

/**
 * The browser sign-in: authorization code with PKCE (S256), a nonce and a state. State, nonce
 * and verifier stay on the server (a store entry keyed by the state's hash, 10 minutes, single
 * use), so any instance can finish a flow another one began.
 */
export class LoginFlow {
  constructor(private readonly store: Store) {}

  async begin(sso: ResolvedSso, idp: OidcProvider, redirectUri: string): Promise<string> {
    const state = random();
    const flow: Flow = { nonce: random(), verifier: random(), redirect_uri: redirectUri };
    await this.store.setEntry(flowKey(state), JSON.stringify(flow), FLOW_TTL_MS);
    const url = new URL(idp.authorizationEndpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: sso.client_id,
      redirect_uri: redirectUri,
      scope: sso.scopes.join(' '),
      state,
      nonce: flow.nonce,
      code_challenge: createHash('sha256').update(flow.verifier).digest('base64url'),
      code_challenge_method: 'S256',
      response_mode: 'query',
    }).toString();
    return url.toString();
  }

  /** Claims the flow a state names (once, on whichever instance), and trades the code for an id_token. */
  async finish(sso: ResolvedSso, idp: OidcProvider, state: string, code: string): Promise<{ idToken: string; nonce: string }> {
    const key = flowKey(state);
    const raw = await this.store.getEntry(key);
    // Deleting is the claim: of two callbacks with one state, only the one whose delete worked goes on.
    if (raw === undefined || !(await this.store.deleteEntry(key))) throw refused('the state is unknown, expired or already used; start again at /api/auth/sso/login');
    const flow = flowSchema.parse(JSON.parse(raw));
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: flow.redirect_uri, code_verifier: flow.verifier });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (sso.client_secret !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(sso.client_id)}:${encodeURIComponent(sso.client_secret)}`).toString('base64')}`;
    } else {
      form.set('client_id', sso.client_id);
    }
    let res: Response;
    try {
      res = await fetch(idp.tokenEndpoint, { method: 'POST', headers, body: form, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new GatewayError('SF_ERR_SSO_IDP_UNAVAILABLE', { message: "The IdP's token endpoint could not be reached.", cause: err });
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (res.status >= 400 && res.status < 500) {
      const error = z.looseObject({ error: z.string().max(100) }).safeParse(body);
      throw refused(`the IdP refused the code (${error.success ? error.data.error : res.status})`);
    }
    const parsed = tokenResponseSchema.safeParse(body);
    if (!res.ok || !parsed.success) throw new GatewayError('SF_ERR_SSO_IDP_UNAVAILABLE', { message: `The IdP's token endpoint answered ${res.status} without an id_token.` });
    return { idToken: parsed.data.id_token, nonce: flow.nonce };
  }
}
