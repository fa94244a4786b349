import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { startJwtMcpServer, type JwtMcpServer } from '../helpers/jwt-mcp-server.js';
import { startTestIdp, type TestIdp } from '../helpers/mcp-oauth-idp.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ccServer(alias: string, mcp: JwtMcpServer, idp: TestIdp, extra: Record<string, unknown> = {}) {
  return {
    alias,
    transport: 'streamable-http',
    url: mcp.url,
    auth: { type: 'oauth2_client_credentials', client_id: 'svc', client_secret: 'svc-secret', scope: 'mcp:tools', resource: mcp.url, token_url: `${idp.issuer}/token`, ...extra },
  };
}

const callTool = (gw: TestGateway, server: string) => call(`${gw.url}/api/mcp/tools/call`, { headers: authHeaders(), body: { server, tool: 'whoami', arguments: {} } });

describe('MCP upstream auth: OAuth client credentials (real oidc-provider, JWT-checking MCP server)', () => {
  let idp: TestIdp;
  let mcp: JwtMcpServer;

  const jwtKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwtPem = jwtKey.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

  before(async () => {
    idp = await startTestIdp({ clientCredentialsTtl: 3, jwtClients: [{ client_id: 'svc-jwt', alg: 'ES256', jwks: { keys: [{ ...jwtKey.publicKey.export({ format: 'jwk' }), kid: 'jwt-1', alg: 'ES256', use: 'sig' }] } }] });
    mcp = await startJwtMcpServer(idp.issuer);
  });
  after(async () => {
    await mcp.close();
    await idp.close();
  });

  test('without auth the server refuses the gateway (the server really checks tokens)', async () => {
    const gw = await startTestGateway({ mcp_servers: [{ alias: 'open', transport: 'streamable-http', url: mcp.url }] });
    try {
      const res = await callTool(gw, 'open');
      assert.equal(res.status, 502, res.text);
    } finally {
      await gw.close();
    }
  });

  test('first call fetches a token; 100 concurrent calls make one token request; expiry refreshes; a 401 refreshes and retries once', async () => {
    const gw = await startTestGateway({ mcp_servers: [ccServer('secure', mcp, idp)] });
    try {
      const before = idp.tokenRequests.length;
      const results = await Promise.all(Array.from({ length: 100 }, () => callTool(gw, 'secure')));
      for (const r of results) assert.equal(r.status, 200, r.text);
      assert.equal(results[0]!.json.content[0].text, 'hello svc');
      assert.equal(idp.tokenRequests.length - before, 1, 'one token request for 100 concurrent calls');

      // Tokens live 3 s; the gateway stops using one a tenth of its life before it ends.
      await sleep(3000);
      assert.equal((await callTool(gw, 'secure')).status, 200);
      assert.equal(idp.tokenRequests.length - before, 2, 'an expired token is replaced');

      // The server stops accepting the current token: one 401, one new token, the call succeeds.
      await sleep(1100);
      mcp.revokeIssuedBefore(Math.floor(Date.now() / 1000));
      await sleep(1100);
      const denied = mcp.unauthorized;
      const res = await callTool(gw, 'secure');
      assert.equal(res.status, 200, res.text);
      assert.equal(mcp.unauthorized - denied, 1, 'exactly one 401 before the retry');
      assert.equal(idp.tokenRequests.length - before, 3, 'the 401 fetched one new token');
    } finally {
      mcp.revokeIssuedBefore(0);
      await gw.close();
    }
  });

  test('a wrong forwarded token fails the call, and the gateway does not keep reconnecting with it in the background', async () => {
    const gw = await startTestGateway({ mcp_servers: [{ alias: 'open', transport: 'streamable-http', url: mcp.url }] });
    try {
      const res = await call(`${gw.url}/api/mcp/tools/call`, { headers: { ...authHeaders(), 'x-mcp-open-authorization': 'Bearer not-a-jwt' }, body: { server: 'open', tool: 'whoami', arguments: {} } });
      assert.equal(res.status, 502, res.text);
      const after = mcp.unauthorized;
      // The shared connection would retry after 250, 500 and 1000 ms.
      await sleep(2000);
      assert.equal(mcp.unauthorized, after);
    } finally {
      await gw.close();
    }
  });

  test('issuer discovery finds the token endpoint (RFC 8414 / OIDC metadata)', async () => {
    const server = ccServer('discovered', mcp, idp);
    const { token_url: _t, ...auth } = server.auth;
    const gw = await startTestGateway({ mcp_servers: [{ ...server, auth: { ...auth, issuer: idp.issuer } }] });
    try {
      const res = await callTool(gw, 'discovered');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.content[0].text, 'hello svc');
    } finally {
      await gw.close();
    }
  });

  test('private_key_jwt (RFC 7523): a signed client assertion gets the token; the key is sealed at rest and never returned', async () => {
    const gw = await startTestGateway({});
    try {
      const auth = { type: 'oauth2_client_credentials', client_id: 'svc-jwt', token_endpoint_auth_method: 'private_key_jwt', private_key: jwtPem, kid: 'jwt-1', alg: 'ES256', issuer: idp.issuer, scope: 'mcp:tools', resource: mcp.url };
      const created = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'signed', transport: 'streamable-http', url: mcp.url, auth } });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.json.auth.private_key, '[REDACTED]');
      const res = await callTool(gw, 'signed');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.content[0].text, 'hello svc-jwt');
      const keyBody = jwtPem.split('\n')[1]!;
      const listed = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders() });
      assert.doesNotMatch(listed.text, new RegExp(keyBody.slice(0, 40).replace(/[+/]/g, '.')));
      assert.doesNotMatch(gw.logs.text, new RegExp(keyBody.slice(0, 40).replace(/[+/]/g, '.')));

      // Another key for the same client: the provider refuses the assertion, with a clear error.
      const otherPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      const patched = await call(`${gw.url}/api/mcp/servers/signed`, { method: 'PATCH', headers: authHeaders(), body: { auth: { ...auth, private_key: otherPem } } });
      assert.equal(patched.status, 200, patched.text);
      const refused = await callTool(gw, 'signed');
      assert.equal(refused.status, 502, refused.text);
      assert.match(refused.json.error.message, /MCP server "signed".*token endpoint refused the client credentials \(401 invalid_client/);
    } finally {
      await gw.close();
    }
  });

  test('step-up: a 403 insufficient_scope gets one token for the union of scopes and one retry; later calls keep it', async () => {
    const guarded = await startJwtMcpServer(idp.issuer, { callNeeds: 'mcp:admin' });
    const gw = await startTestGateway({ mcp_servers: [ccServer('stepup', guarded, idp)] });
    try {
      const before = idp.tokenRequests.length;
      const res = await callTool(gw, 'stepup');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.content[0].text, 'hello svc');
      assert.equal(idp.tokenRequests.length - before, 2, 'the configured token, then one with mcp:admin');
      assert.equal((await callTool(gw, 'stepup')).status, 200);
      assert.equal(idp.tokenRequests.length - before, 2, 'the larger token is kept');
    } finally {
      await gw.close();
      await guarded.close();
    }
  });

  test('a wrong client secret gives a clear error that never shows the secret', async () => {
    const gw = await startTestGateway({ mcp_servers: [ccServer('wrong', mcp, idp, { client_secret: 'not-the-secret-9f2c' })] });
    try {
      const res = await callTool(gw, 'wrong');
      assert.equal(res.status, 502, res.text);
      assert.match(res.json.error.message, /MCP server "wrong".*token endpoint refused the client credentials \(401 invalid_client/);
      assert.doesNotMatch(res.text, /not-the-secret-9f2c/);
      assert.doesNotMatch(gw.logs.text, /not-the-secret-9f2c/);
      const health = await call(`${gw.url}/api/mcp/servers/wrong/health`, { headers: authHeaders() });
      assert.doesNotMatch(health.text, /not-the-secret-9f2c/);
    } finally {
      await gw.close();
    }
  });

  test('an API-registered server: secret sealed at rest, [REDACTED] in every response, kept by a PATCH that sends [REDACTED] back', async () => {
    const gw = await startTestGateway();
    try {
      const created = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: ccServer('viaapi', mcp, idp) });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.json.auth.client_secret, '[REDACTED]');
      assert.equal(created.json.auth.client_id, 'svc');
      assert.doesNotMatch(created.text, /svc-secret/);
      const store = gw.gateway.store;
      const record = await store.getDoc<{ auth: { client_secret: string } }>('mcp_servers', created.json.id);
      assert.match(record!.auth.client_secret, /^enc:v1:/);
      const patched = await call(`${gw.url}/api/mcp/servers/viaapi`, { method: 'PATCH', headers: authHeaders(), body: { auth: { ...created.json.auth, scope: 'mcp:tools' } } });
      assert.equal(patched.status, 200, patched.text);
      const res = await callTool(gw, 'viaapi');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.content[0].text, 'hello svc');
      const listed = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders() });
      assert.doesNotMatch(listed.text, /svc-secret/);
      // Secrets scan: no client secret and no access token in any log line or spend row.
      await sleep(50);
      const spend = await call(`${gw.url}/api/spend/logs?limit=100`, { headers: authHeaders() });
      for (const text of [gw.logs.text, spend.text, listed.text]) {
        assert.doesNotMatch(text, /svc-secret/);
        for (const token of new Set(mcp.tokens)) assert.ok(!text.includes(token), 'an access token leaked');
      }
    } finally {
      await gw.close();
    }
  });

  test('two instances on one Redis: one token request under concurrent load across both', async () => {
    const prefix = `sf-test-mcpcc-${randomUUID()}:`;
    const config = { store: { type: 'redis', url: REDIS_URL, prefix }, mcp_servers: [ccServer('shared', mcp, idp, { scope: 'mcp:tools' })] };
    const a = await startTestGateway(config);
    const b = await startTestGateway(config);
    try {
      const before = idp.tokenRequests.length;
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => callTool(i % 2 ? a : b, 'shared')));
      for (const r of results) assert.equal(r.status, 200, r.text);
      assert.equal(idp.tokenRequests.length - before, 1, 'one token request for both instances');
      const stored = await redisValues(prefix, 'mcp-cc-token');
      assert.equal(stored.length, 1);
      assert.match(stored[0]!, /enc:v1:/, 'the shared token is sealed in the store');
      for (const token of new Set(mcp.tokens)) assert.ok(!stored[0]!.includes(token));
    } finally {
      await a.close();
      await b.close();
      await flushRedisPrefix(prefix);
    }
  });
});

/** The string values of the Redis keys under `prefix` whose name contains `part`. */
async function redisValues(prefix: string, part: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL);
  try {
    const keys = (await redis.keys(`${prefix}*`)).filter((k) => k.includes(part));
    const out: string[] = [];
    for (const key of keys) if ((await redis.type(key)) === 'string') out.push((await redis.get(key))!);
    return out;
  } finally {
    await redis.quit();
  }
}
