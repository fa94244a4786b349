import { z } from 'zod';
import type { AuthorizationCodeAuth } from '../server-schema.js';
import { discoverAsMetadata, type AsMetadata } from './as-metadata.js';

const prmSchema = z.looseObject({ resource: z.string().optional(), authorization_servers: z.array(z.string()).min(1), scopes_supported: z.array(z.string()).optional() });

export interface AuthorizationEndpoints {
  /** The authorization server's issuer identifier, when known. */
  issuer: string | null;
  authorization_endpoint: string;
  token_endpoint: string;
  registration_endpoint: string | null;
  /** Scopes to ask for: configured, else the server's 401 `scope`, else its PRM `scopes_supported`; null: none. */
  scope: string | null;
  /** RFC 8707 resource: configured, else the PRM `resource`, else the server URL. */
  resource: string;
  /** How a confidential client authenticates at the token endpoint. */
  token_auth: 'client_secret_basic' | 'client_secret_post';
}

/** RFC 9728 §3.3: the metadata must be for this server (same origin, and the server's path under the resource's). */
function resourceMatches(resource: string, serverUrl: string): boolean {
  try {
    const r = new URL(resource);
    const s = new URL(serverUrl);
    const rPath = r.pathname.replace(/\/+$/, '');
    return r.origin === s.origin && (s.pathname === rPath || s.pathname.startsWith(`${rPath}/`) || rPath === '');
  } catch {
    return false;
  }
}

/** `key="value"` parameters of a `WWW-Authenticate: Bearer …` header. */
export function bearerChallenge(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const m of header.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) out[m[1]!.toLowerCase()] = m[2]!;
  return out;
}

async function getJson(url: string, fetchFn: typeof fetch): Promise<unknown> {
  const res = await fetchFn(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) }).catch(() => null);
  if (!res?.ok) {
    await res?.body?.cancel();
    return null;
  }
  return res.json().catch(() => null);
}

/** The PRM URLs to try (RFC 9728): the challenge's, then path-based, then the root. */
function prmUrls(serverUrl: string, fromChallenge: string | undefined): string[] {
  const url = new URL(serverUrl);
  const path = url.pathname.replace(/\/+$/, '');
  return [...(fromChallenge ? [fromChallenge] : []), ...(path ? [`${url.origin}/.well-known/oauth-protected-resource${path}`] : []), `${url.origin}/.well-known/oauth-protected-resource`];
}

/**
 * The endpoints for a server's authorization-code auth, as the MCP authorization spec finds them:
 * an unauthenticated request → 401 + `WWW-Authenticate` → protected resource metadata (RFC 9728)
 * → authorization server metadata (RFC 8414 / OIDC). Configured values win; S256 is required.
 */
export async function discoverEndpoints(serverUrl: string, auth: AuthorizationCodeAuth, fetchFn: typeof fetch = fetch): Promise<AuthorizationEndpoints> {
  let issuer = auth.issuer;
  let scope = auth.scope ?? null;
  let resource = auth.resource ?? null;
  if (!(auth.authorization_url && auth.token_url) && !issuer) {
    const probe = await fetchFn(serverUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'smartflow', version: '0.1.0' } } }),
      signal: AbortSignal.timeout(10_000),
    });
    await probe.body?.cancel();
    const challenge = bearerChallenge(probe.headers.get('www-authenticate'));
    let prm: z.infer<typeof prmSchema> | null = null;
    for (const url of prmUrls(serverUrl, challenge['resource_metadata'])) {
      const parsed = prmSchema.safeParse(await getJson(url, fetchFn));
      if (parsed.success) {
        prm = parsed.data;
        break;
      }
    }
    if (prm) {
      if (prm.resource && !resourceMatches(prm.resource, serverUrl)) throw new Error(`the protected resource metadata is for ${prm.resource}, not ${serverUrl}`);
      issuer = prm.authorization_servers[0]!;
      scope ??= challenge['scope'] ?? prm.scopes_supported?.join(' ') ?? null;
      resource ??= prm.resource ?? null;
    } else {
      // 2025-03-26 servers have no RFC 9728 metadata: the authorization server is the MCP server's origin.
      return legacyEndpoints(new URL(serverUrl).origin, auth, scope ?? challenge['scope'] ?? null, resource ?? serverUrl, fetchFn);
    }
  }
  let meta: AsMetadata = {};
  if (issuer) {
    meta = await discoverAsMetadata(issuer, fetchFn);
    if (!meta.code_challenge_methods_supported?.includes('S256')) throw new Error(`the authorization server ${issuer} does not announce PKCE S256 support`);
  }
  const authorization_endpoint = auth.authorization_url ?? meta.authorization_endpoint;
  const token_endpoint = auth.token_url ?? meta.token_endpoint;
  if (!authorization_endpoint || !token_endpoint) throw new Error(`the authorization server ${issuer ?? ''} has no authorization or token endpoint`);
  return { issuer: issuer ?? null, authorization_endpoint, token_endpoint, registration_endpoint: meta.registration_endpoint ?? null, scope, resource: resource ?? serverUrl, token_auth: tokenAuthOf(meta) };
}

function tokenAuthOf(meta: AsMetadata): AuthorizationEndpoints['token_auth'] {
  const supported = meta.token_endpoint_auth_methods_supported;
  return supported && !supported.includes('client_secret_basic') && supported.includes('client_secret_post') ? 'client_secret_post' : 'client_secret_basic';
}

/** 2025-03-26: metadata at the MCP server's origin (RFC 8414), else the default `/authorize`, `/token`, `/register`. */
async function legacyEndpoints(origin: string, auth: AuthorizationCodeAuth, scope: string | null, resource: string, fetchFn: typeof fetch): Promise<AuthorizationEndpoints> {
  const meta = await discoverAsMetadata(origin, fetchFn).catch(() => null);
  return {
    issuer: meta ? (meta.issuer ?? origin) : null,
    authorization_endpoint: auth.authorization_url ?? meta?.authorization_endpoint ?? `${origin}/authorize`,
    token_endpoint: auth.token_url ?? meta?.token_endpoint ?? `${origin}/token`,
    registration_endpoint: meta ? (meta.registration_endpoint ?? null) : `${origin}/register`,
    scope,
    resource,
    token_auth: meta ? tokenAuthOf(meta) : 'client_secret_basic',
  };
}
