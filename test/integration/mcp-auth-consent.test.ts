import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SecretBox, secretKeyFrom } from '../../src/crypto/secret-box.js';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { startJwtMcpServer, type JwtMcpServer } from '../helpers/jwt-mcp-server.js';
import { startTestIdp, type TestIdp } from '../helpers/mcp-oauth-idp.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';
import { createKey } from '../helpers/vkeys.js';

/** Follows redirects by hand with a cookie jar (the IdP's login and consent), stopping at the first URL under `stopAt`. */
async function followToCallback(start: string, stopAt: string): Promise<string> {
  const jar = new Map<string, string>();
  let url = start;
  for (let hop = 0; hop < 20; hop++) {
    if (url.startsWith(stopAt)) return url;
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const at = pair!.indexOf('=');
      jar.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    await res.body?.cancel();
    const location = res.headers.get('location');
    assert.ok(location, `hop ${hop} to ${url} answered ${res.status} without a redirect`);
    url = new URL(location, url).toString();
  }
  throw new Error('too many redirects');
}

/** Starts a consent as `key` and returns the callback URL the IdP sends the browser to (not yet opened). */
async function consentUrl(gw: TestGateway, key: string, server: string, loginHint: string): Promise<{ authorize: URL; callback: string }> {
  const res = await call(`${gw.url}/api/mcp/auth/initiate?server_id=${server}`, { headers: authHeaders(key) });
  assert.equal(res.status, 302, res.text);
  const authorize = new URL(String(res.headers['location']));
  authorize.searchParams.set('login_hint', loginHint);
  return { authorize, callback: await followToCallback(authorize.toString(), `${gw.url}/api/mcp/auth/callback`) };
}

const callTool = (gw: TestGateway, key: string, server: string) => call(`${gw.url}/api/mcp/tools/call`, { headers: authHeaders(key), body: { server, tool: 'whoami', arguments: {} } });

describe('MCP per-user OAuth consent (PKCE) against a real oidc-provider', () => {
  let idp: TestIdp;
  let mcp: JwtMcpServer;
  let gw: TestGateway;
  let offset = 0;
  let alice: string;
  let bob: string;

  before(async () => {
    gw = await startTestGateway({}, { now: () => Date.now() + offset });
    idp = await startTestIdp({ redirectUris: [`${gw.url}/api/mcp/auth/callback`], accessTokenTtl: 3600 });
    mcp = await startJwtMcpServer(idp.issuer);
    // Everything discovered: 401 → protected resource metadata → AS metadata → dynamic registration.
    const discovered = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'disc', transport: 'streamable-http', url: mcp.url, auth: { type: 'oauth2_authorization_code' } } });
    assert.equal(discovered.status, 201, discovered.text);
    // A pre-registered public client asking for offline_access (refresh tokens).
    const configured = await call(`${gw.url}/api/mcp/servers`, {
      headers: authHeaders(),
      body: { alias: 'pk', transport: 'streamable-http', url: mcp.url, auth: { type: 'oauth2_authorization_code', issuer: idp.issuer, client_id: 'gateway', scope: 'openid offline_access mcp:tools' } },
    });
    assert.equal(configured.status, 201, configured.text);
    alice = (await createKey(gw.url, { user_id: 'alice', mcp_servers: ['*'] })).key;
    bob = (await createKey(gw.url, { user_id: 'bob', mcp_servers: ['*'] })).key;
  });
  after(async () => {
    await gw?.close();
    await mcp?.close();
    await idp?.close();
  });

  test('discovery + dynamic registration + PKCE: the authorize URL, the callback page, then calls with the user token', async () => {
    const before = await callTool(gw, alice, 'disc');
    assert.equal(before.status, 502);
    assert.match(before.json.error.message, /needs your consent \(not connected\): open \/api\/mcp\/auth\/initiate\?server_id=mcp_/);
    const { authorize, callback } = await consentUrl(gw, alice, 'disc', 'alice');
    assert.equal(authorize.origin, idp.issuer);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('code_challenge'));
    assert.equal(authorize.searchParams.get('resource'), mcp.url);
    assert.equal(authorize.searchParams.get('scope'), 'mcp:tools');
    assert.notEqual(authorize.searchParams.get('client_id'), 'gateway', 'a dynamically registered client');
    const page = await call(callback);
    assert.equal(page.status, 200, page.text);
    assert.match(page.text, /You can close this tab/);
    const res = await callTool(gw, alice, 'disc');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.content[0].text, 'hello alice');
    // Replaying the same callback (same state and code) is refused.
    const replay = await call(callback);
    assert.equal(replay.status, 400, replay.text);
  });

  test('step-up: a 403 insufficient_scope fails the call with an initiate URL asking for the larger scope; consenting to it makes the call work', async () => {
    const guarded = await startJwtMcpServer(idp.issuer, { callNeeds: 'mcp:admin' });
    try {
      const created = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'su', transport: 'streamable-http', url: guarded.url, auth: { type: 'oauth2_authorization_code', issuer: idp.issuer, client_id: 'gateway', scope: 'mcp:tools' } } });
      assert.equal(created.status, 201, created.text);
      const { callback } = await consentUrl(gw, alice, 'su', 'alice');
      assert.equal((await call(callback)).status, 200);
      const refused = await callTool(gw, alice, 'su');
      assert.equal(refused.status, 502, refused.text);
      assert.match(refused.json.error.message, /needs your consent \(the server asks for scope "mcp:tools mcp:admin"\): open \/api\/mcp\/auth\/initiate\?server_id=mcp_[a-z0-9_-]+&scope=mcp%3Atools%20mcp%3Aadmin/);
      const again = await call(`${gw.url}/api/mcp/auth/initiate?server_id=su&scope=${encodeURIComponent('mcp:tools mcp:admin')}`, { headers: authHeaders(alice) });
      assert.equal(again.status, 302, again.text);
      const authorize = new URL(String(again.headers['location']));
      assert.equal(authorize.searchParams.get('scope'), 'mcp:tools mcp:admin');
      authorize.searchParams.set('login_hint', 'alice');
      assert.equal((await call(await followToCallback(authorize.toString(), `${gw.url}/api/mcp/auth/callback`))).status, 200);
      const res = await callTool(gw, alice, 'su');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.content[0].text, 'hello alice');
      // A later consent keeps asking for the scope the step-up added.
      const later = await call(`${gw.url}/api/mcp/auth/initiate?server_id=su`, { headers: authHeaders(alice) });
      assert.equal(new URL(String(later.headers['location'])).searchParams.get('scope'), 'mcp:tools mcp:admin');
      const bad = await call(`${gw.url}/api/mcp/auth/initiate?server_id=su&scope=${encodeURIComponent('a"b')}`, { headers: authHeaders(alice) });
      assert.equal(bad.status, 400, bad.text);
    } finally {
      // The later tests count alice's connections and servers: leave none behind.
      await call(`${gw.url}/api/mcp/auth/tokens/su`, { method: 'DELETE', headers: authHeaders(alice) });
      await call(`${gw.url}/api/mcp/servers/su`, { method: 'DELETE', headers: authHeaders() });
      await guarded.close();
    }
  });

  test('tokens are per user: bob cannot use alice\'s; each sees only their own connections', async () => {
    const { callback } = await consentUrl(gw, alice, 'pk', 'alice');
    assert.equal((await call(callback)).status, 200);
    assert.equal((await callTool(gw, alice, 'pk')).json.content[0].text, 'hello alice');
    const asBob = await callTool(gw, bob, 'pk');
    assert.equal(asBob.status, 502);
    assert.match(asBob.json.error.message, /initiate\?server_id=/);
    const mine = await call(`${gw.url}/api/mcp/auth/tokens`, { headers: authHeaders(alice) });
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(mine.json.data.map((c: { server: string; status: string }) => [c.server, c.status]).sort(), [['disc', 'active'], ['pk', 'active']]);
    for (const t of new Set(mcp.tokens)) assert.ok(!mine.text.includes(t));
    const theirs = await call(`${gw.url}/api/mcp/auth/tokens`, { headers: authHeaders(bob) });
    assert.deepEqual(theirs.json.data, []);
    // Bob connects as himself and gets his own identity.
    const bobs = await consentUrl(gw, bob, 'pk', 'bob');
    assert.equal((await call(bobs.callback)).status, 200);
    assert.equal((await callTool(gw, bob, 'pk')).json.content[0].text, 'hello bob');
    assert.equal((await callTool(gw, alice, 'pk')).json.content[0].text, 'hello alice');
    // A key may not act for another user.
    const other = await call(`${gw.url}/api/mcp/auth/initiate?server_id=pk&user_id=alice`, { headers: authHeaders(bob) });
    assert.equal(other.status, 403, other.text);
  });

  test('a 401 refreshes with the refresh token, which rotates (the old one is then refused by the IdP)', async () => {
    const secrets = new SecretBox(secretKeyFrom({ masterKey: MASTER_KEY }));
    const docs = await gw.gateway.store.listDocs<{ user_id: string; server_id: string; refresh_token?: string }>('mcp_user_tokens', { limit: 100 });
    const pkId = (await call(`${gw.url}/api/mcp/servers/pk`, { headers: authHeaders() })).json.id as string;
    const aliceDoc = docs.items.find((d) => d.doc.user_id === 'alice' && d.doc.server_id === pkId)!;
    const oldRefresh = secrets.open(aliceDoc.doc.refresh_token!, `mcp_user_tokens/${aliceDoc.id}/refresh`);
    await new Promise((r) => setTimeout(r, 1100));
    mcp.revokeIssuedBefore(Math.floor(Date.now() / 1000));
    await new Promise((r) => setTimeout(r, 1100));
    try {
      const before = idp.tokenRequests.length;
      const res = await callTool(gw, alice, 'pk');
      assert.equal(res.status, 200, res.text);
      assert.equal(idp.tokenRequests.length - before, 1, 'one refresh');
      const after = (await gw.gateway.store.getDoc<{ refresh_token: string }>('mcp_user_tokens', aliceDoc.id))!;
      const newRefresh = secrets.open(after.refresh_token, `mcp_user_tokens/${aliceDoc.id}/refresh`);
      assert.notEqual(newRefresh, oldRefresh, 'the refresh token rotated');
      const reuse = await fetch(`${idp.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: oldRefresh, client_id: 'gateway' }) });
      assert.equal(reuse.status, 400);
    } finally {
      mcp.revokeIssuedBefore(0);
    }
  });

  test('wrong state, an expired state and a tampered verifier are refused', async () => {
    const { callback } = await consentUrl(gw, alice, 'pk', 'alice');
    const wrong = new URL(callback);
    wrong.searchParams.set('state', 'not-a-state');
    assert.equal((await call(wrong.toString())).status, 400);
    // The state is good (never used above) but 11 minutes late.
    offset = 11 * 60_000;
    try {
      const late = await call(callback);
      assert.equal(late.status, 400, late.text);
    } finally {
      offset = 0;
    }
    // A state whose verifier was changed in the store: the IdP refuses the exchange.
    const fresh = await consentUrl(gw, alice, 'pk', 'alice');
    const state = new URL(fresh.callback).searchParams.get('state')!;
    const secrets = new SecretBox(secretKeyFrom({ masterKey: MASTER_KEY }));
    const key = `mcp-oauth-state:${state}`;
    const doc = JSON.parse(secrets.open((await gw.gateway.store.getEntry(key))!, key));
    await gw.gateway.store.setEntry(key, secrets.seal(JSON.stringify({ ...doc, verifier: `${doc.verifier.slice(0, -4)}AAAA` }), key), 60_000);
    const tampered = await call(fresh.callback);
    assert.equal(tampered.status, 400, tampered.text);
    assert.match(tampered.json.error.message, /refused \(400 invalid_grant\)/);
  });

  test('DELETE /api/mcp/auth/tokens/{server} disconnects: gone from the list, a second delete is 404', async () => {
    const del = await call(`${gw.url}/api/mcp/auth/tokens/disc`, { method: 'DELETE', headers: authHeaders(alice) });
    assert.equal(del.status, 200, del.text);
    const listed = await call(`${gw.url}/api/mcp/auth/tokens`, { headers: authHeaders(alice) });
    assert.deepEqual(listed.json.data.map((c: { server: string }) => c.server), ['pk']);
    // The live connection reads the token per request: the next call asks for consent again.
    const after = await callTool(gw, alice, 'disc');
    assert.equal(after.status, 502);
    assert.match(after.json.error.message, /needs your consent/);
    const again = await call(`${gw.url}/api/mcp/auth/tokens/disc`, { method: 'DELETE', headers: authHeaders(alice) });
    assert.equal(again.status, 404);
  });

  test('secrets scan: no access or refresh token in logs, API responses or spend rows', async () => {
    const spend = await call(`${gw.url}/api/spend/logs?limit=500`, { headers: authHeaders() });
    const servers = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders() });
    for (const text of [gw.logs.text, spend.text, servers.text]) for (const t of new Set(mcp.tokens)) assert.ok(!text.includes(t), 'an access token leaked');
  });
});

describe('per-user consent across two instances on one Redis', () => {
  test('a consent made through one instance is used by the other', async () => {
    const prefix = `sf-test-mcpconsent-${randomUUID()}:`;
    const config = { store: { type: 'redis', url: REDIS_URL, prefix } };
    const a = await startTestGateway(config);
    const b = await startTestGateway(config);
    const idp = await startTestIdp({ redirectUris: [`${a.url}/api/mcp/auth/callback`] });
    const mcp = await startJwtMcpServer(idp.issuer);
    try {
      const created = await call(`${a.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'pk', transport: 'streamable-http', url: mcp.url, auth: { type: 'oauth2_authorization_code', issuer: idp.issuer, client_id: 'gateway', scope: 'mcp:tools' } } });
      assert.equal(created.status, 201, created.text);
      const carol = (await createKey(a.url, { user_id: 'carol', mcp_servers: ['*'] })).key;
      const { callback } = await consentUrl(a, carol, 'pk', 'carol');
      assert.equal((await call(callback)).status, 200);
      let res;
      for (let i = 0; i < 40; i++) {
        res = await callTool(b, carol, 'pk');
        if (res.status !== 404) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(res!.status, 200, res!.text);
      assert.equal(res!.json.content[0].text, 'hello carol');
    } finally {
      await a.close();
      await b.close();
      await mcp.close();
      await idp.close();
      await flushRedisPrefix(prefix);
    }
  });
});
