import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RequestLog } from '../../core/request-log.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Store } from '../../storage/types.js';
import type { ClientCredentialsAuth } from '../server-schema.js';
import { discoverAsMetadata } from './as-metadata.js';
import { ClientKeyInvalid, JWT_BEARER_ASSERTION, signClientAssertion } from './client-assertion.js';
import { scopeCovers, scopeUnion } from './scope-union.js';
import { withStoreLease } from './store-lease.js';

/** Token entries in the store, shared by every instance. */
const TOKEN_KEY = 'mcp-cc-token:';
/** Tokens are used until this long before they expire (or a tenth of their life, if shorter). */
const MARGIN_MS = 60_000;
/** A token response without `expires_in` is kept this long. */
const DEFAULT_LIFETIME_MS = 300_000;
const TOKEN_TIMEOUT_MS = 15_000;

const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive().optional(),
});
const errorResponseSchema = z.looseObject({ error: z.string().optional(), error_description: z.string().optional() });

interface CachedToken {
  token: string;
  /** When to stop using it (expiry minus the margin), epoch ms. */
  useUntil: number;
}

export interface ClientCredentialsDeps {
  store: Store;
  secrets: SecretBox;
  log: RequestLog;
  now?: () => number;
  fetch?: typeof fetch;
}

/** A server whose credentials the token source is asked for. */
export interface CredentialedServer {
  id: string;
  alias: string;
  auth: ClientCredentialsAuth;
}

/** The token endpoint said no, or could not be reached: the message names the server, never the secret. */
export class TokenRequestFailed extends Error {}

/**
 * Access tokens for MCP servers configured with OAuth client credentials. A token is kept in
 * memory and in the store (sealed) until shortly before it expires. One token request serves
 * every concurrent caller: in one instance through a shared promise, across instances through a
 * lease document (createDoc is atomic); the others wait for the token it writes.
 */
export class ClientCredentialsTokens {
  private readonly memory = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  private readonly tokenUrls = new Map<string, Promise<string>>();
  /** Scopes a server asked for beyond its configured ones (403 insufficient_scope), by server and configured scope. */
  private readonly grownScopes = new Map<string, string>();
  private readonly now: () => number;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly deps: ClientCredentialsDeps) {
    this.now = deps.now ?? Date.now;
    this.fetchFn = deps.fetch ?? fetch;
  }

  /** The cache key: the server and a digest of its auth settings, so a changed secret or scope gets a new token. */
  private keyOf(server: CredentialedServer): string {
    const digest = createHash('sha256').update(JSON.stringify(server.auth)).digest('base64url').slice(0, 16);
    return `${server.id}:${digest}`;
  }

  private grownKey(server: CredentialedServer): string {
    return `${server.id}\n${server.auth.scope ?? ''}`;
  }

  /** The server with the scopes it has asked for so far (a step-up lasts for the life of the process). */
  private effective(server: CredentialedServer): CredentialedServer {
    const grown = this.grownScopes.get(this.grownKey(server));
    return grown ? { ...server, auth: { ...server.auth, scope: grown } } : server;
  }

  /** A usable access token for the server. */
  async token(configured: CredentialedServer): Promise<string> {
    const server = this.effective(configured);
    const key = this.keyOf(server);
    const cached = this.memory.get(key);
    if (cached && cached.useUntil > this.now()) return cached.token;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.obtain(server, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return (await pending).token;
  }

  /**
   * The server refused `rejected` (401): forget it here and in the store unless another caller
   * already replaced it, then get a new one (still one request for all).
   */
  async refresh(configured: CredentialedServer, rejected: string): Promise<string> {
    const server = this.effective(configured);
    const key = this.keyOf(server);
    if (this.memory.get(key)?.token === rejected) this.memory.delete(key);
    const stored = await this.readStored(key);
    if (stored?.token === rejected) await this.deps.store.deleteEntry(TOKEN_KEY + key);
    return this.token(server);
  }

  /**
   * The server refused a token for want of `scope` (403 `insufficient_scope`, MCP authorization
   * step-up): a new token for the union of the scopes held and asked for, which later tokens keep.
   * Null when the token already had every scope asked for (retrying would loop).
   */
  async stepUp(configured: CredentialedServer, scope: string): Promise<string | null> {
    const current = this.effective(configured);
    if (scopeCovers(current.auth.scope, scope)) return null;
    const union = scopeUnion(current.auth.scope, scope)!;
    this.grownScopes.set(this.grownKey(configured), union);
    this.deps.log.info({ mcp_server: configured.alias, scope: union }, 'MCP server asked for more scope: requesting a client-credentials token for it');
    return this.token(configured);
  }

  private async readStored(key: string): Promise<CachedToken | null> {
    const sealed = await this.deps.store.getEntry(TOKEN_KEY + key);
    if (!sealed) return null;
    try {
      const parsed = JSON.parse(this.deps.secrets.open(sealed, `${TOKEN_KEY}${key}`)) as CachedToken;
      return parsed.useUntil > this.now() ? parsed : null;
    } catch {
      return null;
    }
  }

  private async obtain(server: CredentialedServer, key: string): Promise<CachedToken> {
    const stored = await this.readStored(key);
    if (stored) {
      this.memory.set(key, stored);
      return stored;
    }
    try {
      return await withStoreLease(
        this.deps.store,
        `client-credentials:${key}`,
        async () => {
          // The instance that held the lease before us may have written the token we need.
          const fresh = (await this.readStored(key)) ?? (await this.requestAndStore(server, key));
          this.memory.set(key, fresh);
          return fresh;
        },
        { now: this.now, timeoutMs: TOKEN_TIMEOUT_MS },
      );
    } catch (err) {
      if (err instanceof TokenRequestFailed) throw err;
      throw new TokenRequestFailed(`MCP server "${server.alias}": could not get an access token (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  private async requestAndStore(server: CredentialedServer, key: string): Promise<CachedToken> {
    const fresh = await this.request(server);
    await this.deps.store.setEntry(TOKEN_KEY + key, this.deps.secrets.seal(JSON.stringify(fresh), `${TOKEN_KEY}${key}`), Math.max(1, fresh.useUntil - this.now()));
    return fresh;
  }

  private tokenUrl(server: CredentialedServer): Promise<string> {
    const { auth } = server;
    if (auth.token_url) return Promise.resolve(auth.token_url);
    const issuer = auth.issuer!;
    let url = this.tokenUrls.get(issuer);
    if (!url) {
      url = discoverAsMetadata(issuer, this.fetchFn).then((m) => {
        if (!m.token_endpoint) throw new TokenRequestFailed(`MCP server "${server.alias}": the metadata of issuer ${issuer} has no token_endpoint`);
        return m.token_endpoint;
      });
      url.catch(() => this.tokenUrls.delete(issuer));
      this.tokenUrls.set(issuer, url);
    }
    return url;
  }

  /**
   * One token request. The client authenticates with client_secret_basic (RFC 6749 §2.3.1: id and
   * secret form-encoded first) or private_key_jwt (RFC 7523: a signed assertion in the form).
   */
  private async request(server: CredentialedServer): Promise<CachedToken> {
    const { auth, alias } = server;
    let url: string;
    try {
      url = await this.tokenUrl(server);
    } catch (err) {
      throw new TokenRequestFailed(err instanceof TokenRequestFailed ? err.message : `MCP server "${alias}": could not discover the token endpoint of ${auth.issuer}`);
    }
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) form.set('scope', auth.scope);
    if (auth.resource) form.set('resource', auth.resource);
    if (auth.audience) form.set('audience', auth.audience);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (auth.token_endpoint_auth_method === 'private_key_jwt') {
      try {
        form.set('client_assertion_type', JWT_BEARER_ASSERTION);
        form.set('client_assertion', await signClientAssertion(auth, auth.assertion_audience ?? auth.issuer ?? url));
      } catch (err) {
        throw new TokenRequestFailed(`MCP server "${alias}": could not sign the client assertion (${err instanceof ClientKeyInvalid ? err.message : 'signing failed'})`);
      }
    } else {
      headers['authorization'] = `Basic ${Buffer.from(`${encodeURIComponent(auth.client_id)}:${encodeURIComponent(auth.client_secret ?? '')}`).toString('base64')}`;
    }
    const started = this.now();
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method: 'POST',
        headers,
        body: form.toString(),
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
    } catch {
      throw new TokenRequestFailed(`MCP server "${alias}": the token endpoint ${url} could not be reached`);
    }
    const body: unknown = await res.json().catch(() => null);
    if (!res.ok) {
      const e = errorResponseSchema.safeParse(body);
      const detail = e.success && e.data.error ? `${e.data.error}${e.data.error_description ? `: ${e.data.error_description.slice(0, 200)}` : ''}` : `HTTP ${res.status}`;
      throw new TokenRequestFailed(`MCP server "${alias}": the token endpoint refused the client credentials (${res.status} ${detail})`);
    }
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success) throw new TokenRequestFailed(`MCP server "${alias}": the token endpoint answered without an access_token`);
    const lifetime = parsed.data.expires_in !== undefined ? parsed.data.expires_in * 1000 : DEFAULT_LIFETIME_MS;
    this.deps.log.info({ mcp_server: alias, expires_in_s: Math.round(lifetime / 1000) }, 'obtained an MCP client-credentials token');
    return { token: parsed.data.access_token, useUntil: started + lifetime - Math.min(MARGIN_MS, lifetime / 10) };
  }
}
