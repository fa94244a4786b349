import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { RequestLog } from '../../core/request-log.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Store } from '../../storage/types.js';
import type { AuthorizationCodeAuth } from '../server-schema.js';
import { discoverEndpoints, type AuthorizationEndpoints } from './oauth-discovery.js';
import { scopeCovers, scopeUnion } from './scope-union.js';
import { withStoreLease } from './store-lease.js';

const TOKENS = 'mcp_user_tokens';
const CLIENTS = 'mcp_oauth_clients';
const STATE_KEY = 'mcp-oauth-state:';
export const STATE_TTL_MS = 10 * 60_000;
const MARGIN_MS = 60_000;

/** A server that needs each user's consent. */
export interface ConsentServer {
  id: string;
  alias: string;
  url: string;
  auth: AuthorizationCodeAuth;
}

interface TokenDoc {
  user_id: string;
  server_id: string;
  /** Sealed. */
  access_token: string;
  /** Sealed; absent when the server gave none. */
  refresh_token?: string;
  expires_at: number | null;
  scope: string | null;
  status: 'active' | 'revoked';
  created_at: number;
  updated_at: number;
}

interface ClientDoc {
  client_id: string;
  /** Sealed, when the registration gave one. */
  client_secret?: string;
  redirect_uri: string;
}

interface StateDoc {
  user_id: string;
  server_id: string;
  verifier: string;
  redirect_uri: string;
  resource: string;
  /** The scopes asked for, kept with the token when the response does not say which were granted. */
  scope?: string;
  created_at: number;
}

export interface Connection {
  server_id: string;
  scope: string | null;
  expires_at: number | null;
  status: 'active' | 'expired' | 'revoked';
}

/** The caller must (re)connect the server in a browser; the message says where. */
export class ConsentRequired extends Error {
  constructor(alias: string, initiatePath: string, why: string) {
    super(`MCP server "${alias}" needs your consent (${why}): open ${initiatePath}`);
  }
}

/**
 * The server wants more scope than the user granted (403 `insufficient_scope`): only the user can
 * grant it, so the call fails with an initiate URL that asks for the union.
 */
export class ScopeStepUpRequired extends ConsentRequired {
  constructor(alias: string, initiatePath: string, readonly scope: string) {
    super(alias, initiatePath, `the server asks for scope "${scope}"`);
  }
}

/** A consent callback that must not be honoured (state unknown, used, expired, or the exchange refused). */
export class ConsentRefused extends Error {}

const tokenResponseSchema = z.looseObject({ access_token: z.string().min(1), refresh_token: z.string().optional(), expires_in: z.coerce.number().positive().optional(), scope: z.string().optional() });
const errorSchema = z.looseObject({ error: z.string().optional(), error_description: z.string().optional() });
const registrationSchema = z.looseObject({ client_id: z.string().min(1), client_secret: z.string().optional() });

const b64url = (buf: Buffer) => buf.toString('base64url');
const docId = (serverId: string, userId: string) => `${serverId}:${createHash('sha256').update(userId).digest('base64url').slice(0, 32)}`;

export interface UserTokensDeps {
  store: Store;
  secrets: SecretBox;
  log: RequestLog;
  now?: () => number;
  fetch?: typeof fetch;
  /** `mcp.public_url`: makes the initiate URL in consent errors absolute. */
  publicUrl?: string | undefined;
}

/**
 * Per-user OAuth tokens for MCP servers with `auth: oauth2_authorization_code`: the PKCE consent
 * (state kept in the store, single use, bound to user and server, 10 minutes), the code
 * exchange, tokens sealed per (user, server), and refresh with rotation under a store lease so
 * two instances never spend one refresh token twice.
 */
export class UserTokens {
  private readonly now: () => number;
  private readonly fetchFn: typeof fetch;
  private readonly endpoints = new Map<string, Promise<AuthorizationEndpoints>>();
  private readonly refreshing = new Map<string, Promise<string>>();

  constructor(private readonly deps: UserTokensDeps) {
    this.now = deps.now ?? Date.now;
    this.fetchFn = deps.fetch ?? fetch;
  }

  /** Where a user (re)connects a server: absolute under `mcp.public_url`, else a path on the gateway. */
  private initiatePath(serverId: string): string {
    return `${(this.deps.publicUrl ?? '').replace(/\/+$/, '')}/api/mcp/auth/initiate?server_id=${encodeURIComponent(serverId)}`;
  }

  private endpointsOf(server: ConsentServer): Promise<AuthorizationEndpoints> {
    const key = `${server.id}:${JSON.stringify(server.auth)}`;
    let found = this.endpoints.get(key);
    if (!found) {
      found = discoverEndpoints(server.url, server.auth, this.fetchFn);
      found.catch(() => this.endpoints.delete(key));
      this.endpoints.set(key, found);
    }
    return found;
  }

  /** The configured client, or one registered with RFC 7591 once for every instance (createDoc decides a race). */
  private async clientOf(server: ConsentServer, endpoints: AuthorizationEndpoints, redirectUri: string): Promise<{ client_id: string; client_secret: string | null; redirect_uri: string }> {
    if (server.auth.client_id) return { client_id: server.auth.client_id, client_secret: server.auth.client_secret ?? null, redirect_uri: redirectUri };
    // One registration per server for every instance: its redirect URI is the one registered first (set mcp.public_url).
    const id = server.id;
    const open = (doc: ClientDoc) => ({ client_id: doc.client_id, client_secret: doc.client_secret ? this.deps.secrets.open(doc.client_secret, `${CLIENTS}/${id}`) : null, redirect_uri: doc.redirect_uri });
    const known = await this.deps.store.getDoc<ClientDoc>(CLIENTS, id);
    if (known) return open(known);
    if (!endpoints.registration_endpoint) throw new Error(`MCP server "${server.alias}": no client_id configured and the authorization server offers no dynamic client registration`);
    const res = await this.fetchFn(endpoints.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client_name: 'Smartflow gateway', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', ...(endpoints.scope ? { scope: endpoints.scope } : {}) }),
      signal: AbortSignal.timeout(10_000),
    });
    const parsed = registrationSchema.safeParse(await res.json().catch(() => null));
    if (!res.ok || !parsed.success) throw new Error(`MCP server "${server.alias}": dynamic client registration failed (HTTP ${res.status})`);
    const doc: ClientDoc = { client_id: parsed.data.client_id, redirect_uri: redirectUri, ...(parsed.data.client_secret ? { client_secret: this.deps.secrets.seal(parsed.data.client_secret, `${CLIENTS}/${id}`) } : {}) };
    if (await this.deps.store.createDoc(CLIENTS, id, doc)) return open(doc);
    return open((await this.deps.store.getDoc<ClientDoc>(CLIENTS, id))!);
  }

  /**
   * The provider's authorize URL for this user and server; the state and verifier wait in the
   * store. The scopes asked for: the configured/discovered ones, those of the user's earlier
   * connection (a step-up is not lost on reconnect) and `extraScope` (a step-up).
   */
  async initiate(server: ConsentServer, userId: string, redirectUri: string, extraScope?: string): Promise<string> {
    const endpoints = await this.endpointsOf(server);
    const client = await this.clientOf(server, endpoints, redirectUri);
    redirectUri = client.redirect_uri;
    const verifier = b64url(randomBytes(32));
    const state = b64url(randomBytes(24));
    const previous = await this.deps.store.getDoc<TokenDoc>(TOKENS, docId(server.id, userId));
    const scope = scopeUnion(endpoints.scope, previous?.scope, extraScope);
    const doc: StateDoc = { user_id: userId, server_id: server.id, verifier, redirect_uri: redirectUri, resource: endpoints.resource, ...(scope ? { scope } : {}), created_at: this.now() };
    await this.deps.store.setEntry(STATE_KEY + state, this.deps.secrets.seal(JSON.stringify(doc), STATE_KEY + state), STATE_TTL_MS);
    const url = new URL(endpoints.authorization_endpoint);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', client.client_id);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('state', state);
    url.searchParams.set('code_challenge', b64url(createHash('sha256').update(verifier).digest()));
    url.searchParams.set('code_challenge_method', 'S256');
    url.searchParams.set('resource', endpoints.resource);
    if (scope) url.searchParams.set('scope', scope);
    // OIDC ignores offline_access (no refresh token) unless the user is asked to consent.
    if (scope?.split(' ').includes('offline_access')) url.searchParams.set('prompt', 'consent');
    return url.toString();
  }

  /**
   * Takes the state (once: the delete decides between two callbacks with it), checks it is young
   * enough and for a server that still needs consent, and exchanges the code with its verifier.
   */
  async complete(state: string, code: string, servers: (id: string) => ConsentServer | undefined): Promise<{ server: ConsentServer; userId: string }> {
    const sealed = await this.deps.store.getEntry(STATE_KEY + state);
    if (!sealed || !(await this.deps.store.deleteEntry(STATE_KEY + state))) throw new ConsentRefused('unknown or already used state');
    let doc: StateDoc;
    try {
      doc = JSON.parse(this.deps.secrets.open(sealed, STATE_KEY + state)) as StateDoc;
    } catch {
      throw new ConsentRefused('unknown state');
    }
    if (doc.created_at + STATE_TTL_MS < this.now()) throw new ConsentRefused('the consent took longer than 10 minutes; start again');
    const server = servers(doc.server_id);
    if (!server) throw new ConsentRefused('the MCP server is gone');
    const endpoints = await this.endpointsOf(server);
    const client = await this.clientOf(server, endpoints, doc.redirect_uri);
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: doc.redirect_uri, code_verifier: doc.verifier, resource: doc.resource });
    const tokens = await this.tokenRequest(server, endpoints, client, form);
    await this.save(server, doc.user_id, { ...tokens, scope: tokens.scope ?? doc.scope }, null);
    return { server, userId: doc.user_id };
  }

  private async tokenRequest(server: ConsentServer, endpoints: AuthorizationEndpoints, client: { client_id: string; client_secret: string | null }, form: URLSearchParams): Promise<z.infer<typeof tokenResponseSchema>> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (client.client_secret && endpoints.token_auth === 'client_secret_basic') headers['authorization'] = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;
    else {
      form.set('client_id', client.client_id);
      if (client.client_secret) form.set('client_secret', client.client_secret);
    }
    const res = await this.fetchFn(endpoints.token_endpoint, { method: 'POST', headers, body: form.toString(), signal: AbortSignal.timeout(15_000) });
    const body: unknown = await res.json().catch(() => null);
    if (!res.ok) {
      const e = errorSchema.safeParse(body);
      throw new ConsentRefused(`MCP server "${server.alias}": the authorization server refused (${res.status} ${e.success && e.data.error ? e.data.error : ''})`.replace(' )', ')'));
    }
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success) throw new ConsentRefused(`MCP server "${server.alias}": the token response had no access_token`);
    return parsed.data;
  }

  private tokenDoc(server: ConsentServer, userId: string, t: z.infer<typeof tokenResponseSchema>, previousRefresh: string | null): TokenDoc {
    const id = docId(server.id, userId);
    const now = this.now();
    const refresh = t.refresh_token ?? previousRefresh;
    const doc: TokenDoc = {
      user_id: userId,
      server_id: server.id,
      access_token: this.deps.secrets.seal(t.access_token, `${TOKENS}/${id}/access`),
      ...(refresh ? { refresh_token: this.deps.secrets.seal(refresh, `${TOKENS}/${id}/refresh`) } : {}),
      expires_at: t.expires_in !== undefined ? now + t.expires_in * 1000 : null,
      scope: t.scope ?? null,
      status: 'active',
      created_at: now,
      updated_at: now,
    };
    return doc;
  }

  /** A consent (the callback): it replaces whatever the user had for the server. */
  private async save(server: ConsentServer, userId: string, t: z.infer<typeof tokenResponseSchema>, previousRefresh: string | null): Promise<void> {
    await this.deps.store.putDoc(TOKENS, docId(server.id, userId), this.tokenDoc(server, userId, t, previousRefresh));
  }

  private usable(doc: TokenDoc | undefined): doc is TokenDoc {
    if (doc === undefined || doc.status !== 'active') return false;
    // Used until shortly before it ends: a minute, or a tenth of its life if that is shorter.
    return doc.expires_at === null || doc.expires_at - Math.min(MARGIN_MS, (doc.expires_at - doc.updated_at) / 10) > this.now();
  }

  /** The user's access token for the server, refreshed (rotation kept) when it is about to expire. */
  async token(server: ConsentServer, userId: string): Promise<string> {
    const id = docId(server.id, userId);
    const doc = await this.deps.store.getDoc<TokenDoc>(TOKENS, id);
    if (this.usable(doc)) return this.deps.secrets.open(doc.access_token, `${TOKENS}/${id}/access`);
    if (!doc) throw new ConsentRequired(server.alias, this.initiatePath(server.id), 'not connected');
    return this.refresh(server, userId, null);
  }

  /**
   * A new access token from the refresh token; `rejected` is the access token the server refused
   * (a 401), so a token another instance already replaced is not refreshed again. One refresh per
   * (user, server) across instances.
   */
  refresh(server: ConsentServer, userId: string, rejected: string | null): Promise<string> {
    const id = docId(server.id, userId);
    let pending = this.refreshing.get(id);
    if (!pending) {
      pending = withStoreLease(this.deps.store, `user-token:${id}`, () => this.refreshHeld(server, userId, id, rejected), { now: this.now }).finally(() => this.refreshing.delete(id));
      this.refreshing.set(id, pending);
    }
    return pending;
  }

  /**
   * Holds the lease, so no other refresh runs; a consent callback may still land meanwhile, so the
   * refresh writes with compare-and-set against what it read and, when it lost, uses the new consent.
   */
  private async refreshHeld(server: ConsentServer, userId: string, id: string, rejected: string | null): Promise<string> {
    const read = await this.deps.store.getVersionedDoc<TokenDoc>(TOKENS, id);
    const doc = read?.doc;
    if (!read || !doc || doc.status !== 'active') throw new ConsentRequired(server.alias, this.initiatePath(server.id), doc ? 'the connection was revoked' : 'not connected');
    const access = this.deps.secrets.open(doc.access_token, `${TOKENS}/${id}/access`);
    if (this.usable(doc) && access !== rejected) return access;
    if (!doc.refresh_token) throw new ConsentRequired(server.alias, this.initiatePath(server.id), 'the token expired');
    const refresh = this.deps.secrets.open(doc.refresh_token, `${TOKENS}/${id}/refresh`);
    const endpoints = await this.endpointsOf(server);
    const client = await this.clientOf(server, endpoints, '');
    let t;
    try {
      t = await this.tokenRequest(server, endpoints, client, new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, resource: endpoints.resource }));
    } catch (err) {
      if (!(err instanceof ConsentRefused)) throw err;
      if ((await this.deps.store.compareAndSetDoc(TOKENS, id, { ...doc, status: 'revoked', updated_at: this.now() }, read.version)) === null) return this.afterConsent(server, userId);
      throw new ConsentRequired(server.alias, this.initiatePath(server.id), 'the token expired and could not be refreshed');
    }
    const next = this.tokenDoc(server, userId, { ...t, scope: t.scope ?? doc.scope ?? undefined }, refresh);
    if ((await this.deps.store.compareAndSetDoc(TOKENS, id, next, read.version)) === null) return this.afterConsent(server, userId);
    return t.access_token;
  }

  /** The user consented again while a refresh ran: that consent's token, not the refreshed one. */
  private async afterConsent(server: ConsentServer, userId: string): Promise<string> {
    const id = docId(server.id, userId);
    const doc = await this.deps.store.getDoc<TokenDoc>(TOKENS, id);
    if (this.usable(doc)) return this.deps.secrets.open(doc.access_token, `${TOKENS}/${id}/access`);
    throw new ConsentRequired(server.alias, this.initiatePath(server.id), doc ? 'the connection was revoked' : 'not connected');
  }

  /**
   * The server refused the user's token for want of `scope` (403 `insufficient_scope`): null when
   * the connection already holds every scope asked for (retrying would loop), else a
   * ScopeStepUpRequired whose initiate URL asks for the union.
   */
  async stepUp(server: ConsentServer, userId: string, scope: string): Promise<null> {
    const doc = await this.deps.store.getDoc<TokenDoc>(TOKENS, docId(server.id, userId));
    const held = doc?.scope ?? (await this.endpointsOf(server)).scope;
    if (scopeCovers(held, scope)) return null;
    const union = scopeUnion(held, scope)!;
    throw new ScopeStepUpRequired(server.alias, `${this.initiatePath(server.id)}&scope=${encodeURIComponent(union)}`, union);
  }

  /** The user's connection to each of these servers (never a token value). */
  async connections(serverIds: string[], userId: string): Promise<Connection[]> {
    const out: Connection[] = [];
    for (const serverId of serverIds) {
      const doc = await this.deps.store.getDoc<TokenDoc>(TOKENS, docId(serverId, userId));
      if (!doc) continue;
      const status = doc.status === 'revoked' ? 'revoked' : doc.expires_at !== null && doc.expires_at <= this.now() && !doc.refresh_token ? 'expired' : 'active';
      out.push({ server_id: serverId, scope: doc.scope, expires_at: doc.expires_at, status });
    }
    return out;
  }

  /** Forgets the user's tokens for the server; false when there were none. */
  disconnect(serverId: string, userId: string): Promise<boolean> {
    return this.deps.store.deleteDoc(TOKENS, docId(serverId, userId));
  }
}
