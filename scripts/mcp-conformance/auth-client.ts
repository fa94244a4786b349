/**
 * The client the MCP conformance kit drives in client mode (`conformance client --command …`):
 * a thin wrapper around the gateway's own upstream client (src/mcp/upstream/connect.ts) and
 * OAuth code (src/mcp/auth/*). The kit appends the server URL and sets MCP_CONFORMANCE_SCENARIO
 * and MCP_CONFORMANCE_CONTEXT. Client-credentials scenarios use ClientCredentialsTokens; the
 * others the per-user consent (UserTokens), with the kit's authorization server approving at once.
 */
import { randomBytes } from 'node:crypto';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { createLogger } from '../../src/log/logger.js';
import { ClientCredentialsTokens } from '../../src/mcp/auth/client-credentials.js';
import { discoverEndpoints } from '../../src/mcp/auth/oauth-discovery.js';
import { ScopeStepUpRequired, UserTokens } from '../../src/mcp/auth/user-tokens.js';
import type { McpServer } from '../../src/mcp/registry.js';
import { connectUpstream, type RequestAuthorizer } from '../../src/mcp/upstream/connect.js';
import { createStore } from '../../src/storage/index.js';

const url = process.argv.at(-1)!;
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as Record<string, string>;
const log = createLogger({ level: 'warn', destination: process.stderr });
const store = await createStore({ type: 'sqlite', path: ':memory:' });
const secrets = new SecretBox(randomBytes(32));
const REDIRECT = 'http://127.0.0.1:1/api/mcp/auth/callback';

const server: McpServer = {
  id: 'mcp_conformance',
  alias: 'conformance',
  transport: 'streamable-http',
  command: null,
  args: [],
  env: {},
  cwd: null,
  url,
  headers: {},
  allowed_tools: [],
  denied_tools: [],
  description: null,
  timeout_ms: 30_000,
  start: 'lazy',
  idle_timeout_ms: null,
  log_payloads: false,
  auth: null,
  allow_header_override: false,
};

async function clientCredentials(): Promise<RequestAuthorizer> {
  const endpoints = await discoverEndpoints(url, { type: 'oauth2_authorization_code' }).catch(() => null);
  // auth/client-credentials-jwt hands out a private key (PEM) instead of a secret: private_key_jwt.
  const credentials = context['private_key_pem']
    ? { token_endpoint_auth_method: 'private_key_jwt' as const, private_key: context['private_key_pem'], alg: (context['signing_algorithm'] ?? 'RS256') as 'ES256', ...(endpoints?.issuer ? { issuer: endpoints.issuer } : {}) }
    : { client_secret: context['client_secret']! };
  const auth = {
    type: 'oauth2_client_credentials' as const,
    token_url: endpoints?.token_endpoint,
    client_id: context['client_id']!,
    ...credentials,
    ...(endpoints?.scope ? { scope: endpoints.scope } : {}),
    ...(endpoints ? { resource: endpoints.resource } : {}),
  };
  const tokens = new ClientCredentialsTokens({ store, secrets, log });
  const target = { id: server.id, alias: server.alias, auth };
  return {
    authorization: async () => `Bearer ${await tokens.token(target)}`,
    rejected: async (sent) => `Bearer ${await tokens.refresh(target, sent.slice(7))}`,
    insufficientScope: async (_sent, scope) => {
      const token = await tokens.stepUp(target, scope);
      return token === null ? null : `Bearer ${token}`;
    },
  };
}

const userTokens = new UserTokens({ store, secrets, log });
const consentAuth = { type: 'oauth2_authorization_code' as const, ...(context['client_id'] ? { client_id: context['client_id'] } : {}), ...(context['client_secret'] ? { client_secret: context['client_secret'] } : {}) };
const consentTarget = { id: server.id, alias: server.alias, url, auth: consentAuth };

/**
 * The consent, as a browser would do it: the kit's authorization server redirects straight back
 * with a code. `scope`: the step-up a ScopeStepUpRequired asked for (the user opening its URL).
 */
async function consent(scope?: string): Promise<void> {
  const tokens = userTokens;
  const target = consentTarget;
  const authorize = await tokens.initiate(target, 'conformance', REDIRECT, scope);
  const res = await fetch(authorize, { redirect: 'manual' });
  await res.body?.cancel();
  const back = new URL(res.headers.get('location') ?? '', authorize);
  const code = back.searchParams.get('code');
  const state = back.searchParams.get('state');
  if (!code || !state) throw new Error(`the authorization server did not redirect back with a code (HTTP ${res.status})`);
  await tokens.complete(state, code, () => target);
}

async function userAuthorizer(): Promise<RequestAuthorizer> {
  await consent();
  return {
    authorization: async () => `Bearer ${await userTokens.token(consentTarget, 'conformance')}`,
    rejected: async (sent) => `Bearer ${await userTokens.refresh(consentTarget, 'conformance', sent.slice(7))}`,
    insufficientScope: (_sent, scope) => userTokens.stepUp(consentTarget, 'conformance', scope),
  };
}

const needsAuth = scenario.startsWith('auth/');
const authorizer = !needsAuth ? undefined : scenario.startsWith('auth/client-credentials') ? await clientCredentials() : await userAuthorizer();
const conn = await connectUpstream(server, { log, timeoutMs: 30_000, authorizer });
try {
  const { tools } = await conn.client.listTools();
  if (tools[0]) {
    const call = () => conn.client.callTool({ name: tools[0]!.name, arguments: {} });
    // A step-up the user grants in the browser (its URL's scope), then the call again.
    await call().catch(async (err: unknown) => {
      if (!(err instanceof ScopeStepUpRequired)) return;
      await consent(err.scope);
      await call().catch(() => undefined);
    });
  }
} finally {
  await conn.close();
  await store.close();
}
