import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { importJWK, SignJWT, type JWK } from 'jose';
import { startGraphServer, type GraphServer } from '../helpers/graph-server.js';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { CookieJar, jarFetch, startTestIdp, TENANT, type TestIdp } from '../helpers/oidc-idp.js';

type SigningKey = Awaited<ReturnType<typeof importJWK>>;

const GRAPH_GROUPS = [
  { id: 'g-over-1', displayName: 'Overage One' },
  { id: 'g-over-2', displayName: 'Overage Two' },
  { id: 'g-over-3', displayName: 'Overage Three' },
];

describe('SSO: sign-in, group → team sync, roles, overage, forged tokens, browser flow', () => {
  let gw: TestGateway;
  let idp: TestIdp;
  let graph: GraphServer;
  const admin = (path: string, init: { method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'; body?: unknown } = {}) => call(`${gw.url}${path}`, { headers: authHeaders(), ...init });
  const signIn = (id_token: string, nonce?: string) => call(`${gw.url}/api/auth/sso/signin`, { headers: { 'content-type': 'application/json' }, body: { id_token, ...(nonce ? { nonce } : {}) } });
  const users = () => gw.gateway.store.listDocs('users');
  const teams = () => gw.gateway.store.listDocs('teams');

  before(async () => {
    gw = await startTestGateway();
    idp = await startTestIdp({
      redirectUris: [`${gw.url}/api/auth/sso/callback`],
      users: {
        alice: { groups: ['grp-eng', 'grp-ml'], roles: ['Gateway.Admin'] },
        bob: { groups: ['grp-eng'], roles: ['Gateway.Reader', 'Gateway.OrgAdmin', 'Unknown.Role'] },
        dave: { groups: ['grp-eng', 'grp-skip-me'], roles: [] },
        carol: { roles: ['proxy_admin_viewer'], extra: { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.windows.net/tenant-test/users/oid-carol/getMemberObjects' } } } },
        eve: { groups: ['grp-eng'], tid: 'another-tenant' },
      },
    });
    graph = await startGraphServer({ clientId: idp.clientId, clientSecret: idp.clientSecret, groups: { 'oid-carol': GRAPH_GROUPS }, names: { 'grp-named': 'Named In Graph' } });
    const res = await admin('/api/auth/sso/config', { body: configBody() });
    assert.equal(res.status, 200, res.text);
  });

  const configBody = (graphExtra: Record<string, unknown> = {}) => ({
    tenant_id: TENANT,
    client_id: idp.clientId,
    client_secret: idp.clientSecret,
    issuer: idp.issuer,
    role_mapping: { 'Gateway.Admin': 'proxy_admin', 'Gateway.Reader': 'proxy_admin_viewer', 'Gateway.OrgAdmin': 'org_admin' },
    default_team: { max_budget: 25, budget_period: 'monthly', models: ['gpt-4o-mini'], guardrail_policy: 'standard' },
    group_filter: { pattern: '^(grp-(eng|ml|named)|g-over-)' },
    graph: { base_url: graph.url, token_url: `${graph.url}/token`, ...graphExtra },
  });

  after(async () => {
    await gw?.close();
    await idp?.close();
    await graph?.close();
  });

  test('the config is stored with the client secret sealed, and never returned', async () => {
    const got = await admin('/api/auth/sso/config');
    assert.equal(got.status, 200);
    assert.equal(got.json.client_secret_set, true);
    assert.equal(got.json.issuer, idp.issuer);
    assert.equal(got.json.groups_claim, 'groups');
    assert.ok(!got.text.includes(idp.clientSecret));
    const raw = JSON.stringify(await gw.gateway.store.getDoc('sso_config', 'current'));
    assert.ok(!raw.includes(idp.clientSecret));
    assert.match(raw, /enc:v1:/);
    const bad = await admin('/api/auth/sso/config', { body: { client_id: 'x', algorithms: ['HS256'] } });
    assert.equal(bad.status, 400, bad.text);
  });

  test('first sign-in creates a team per group with the default settings, and the memberships', async () => {
    const res = await signIn(await idp.idTokenFor('alice'));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.user.id, 'oid-alice');
    assert.equal(res.json.role, 'proxy_admin');
    assert.deepEqual(res.json.created_teams.sort(), ['sso-grp-eng', 'sso-grp-ml']);
    assert.match(res.json.session_token, /^sf-sess-/);
    const team = await admin('/api/teams/sso-grp-eng');
    assert.equal(team.status, 200);
    assert.equal(team.json.max_budget, 25);
    assert.equal(team.json.budget_period, 'monthly');
    assert.deepEqual(team.json.models, ['gpt-4o-mini']);
    assert.equal(team.json.metadata.guardrail_policy, 'standard');
    assert.equal(team.json.sso_group_id, 'grp-eng');
    assert.deepEqual(team.json.members.map((m: { user_id: string; source: string }) => [m.user_id, m.source]), [['oid-alice', 'sso']]);
    const list = await admin('/api/auth/sso/teams');
    const eng = list.json.data.find((t: { id: string }) => t.id === 'sso-grp-eng');
    assert.equal(eng.members_count, 1);
    assert.ok(Date.parse(eng.last_sync_at) > 0);
  });

  test('a later sign-in with a group removed removes that SSO membership only; manual memberships stay', async () => {
    await admin('/api/teams', { body: { id: 'team-manual', name: 'Manual' } });
    assert.equal((await admin('/api/teams/team-manual/members', { body: { user_id: 'oid-alice' } })).status, 201);
    assert.equal((await admin('/api/teams/sso-grp-eng/members', { body: { user_id: 'oid-alice' } })).status, 201);
    idp.users.alice!.groups = ['grp-ml'];
    const res = await signIn(await idp.idTokenFor('alice'));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.removed_teams, ['sso-grp-eng']);
    const eng = await admin('/api/teams/sso-grp-eng');
    assert.deepEqual(eng.json.members.map((m: { user_id: string; source: string }) => [m.user_id, m.source]), [['oid-alice', 'manual']]);
    const mine = await admin('/api/auth/sso/users/oid-alice/teams');
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.json.role, 'proxy_admin');
    const byId = Object.fromEntries(mine.json.teams.map((t: { id: string; membership: string[] }) => [t.id, t.membership]));
    assert.deepEqual(byId, { 'sso-grp-ml': ['sso'], 'sso-grp-eng': ['manual'], 'team-manual': ['manual'] });
  });

  test('App Roles map to internal roles, the highest wins, unknown values are ignored, none gives internal_user; the group filter applies', async () => {
    const bob = await signIn(await idp.idTokenFor('bob'));
    assert.equal(bob.json.role, 'org_admin', bob.text);
    assert.deepEqual(bob.json.app_roles, ['Gateway.Reader', 'Gateway.OrgAdmin', 'Unknown.Role']);
    const dave = await signIn(await idp.idTokenFor('dave'));
    assert.equal(dave.json.role, 'internal_user');
    assert.deepEqual(dave.json.teams.map((t: { id: string }) => t.id), ['sso-grp-eng']);
    assert.equal(await gw.gateway.store.getDoc('teams', 'sso-grp-skip-me'), undefined);
  });

  test('group overage: the groups come from the Graph-like server with client credentials, names included, every page', async () => {
    const res = await signIn(await idp.idTokenFor('carol'));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.role, 'proxy_admin_viewer');
    assert.deepEqual(res.json.teams.map((t: { id: string; name: string }) => [t.id, t.name]), [
      ['sso-g-over-1', 'Overage One'],
      ['sso-g-over-2', 'Overage Two'],
      ['sso-g-over-3', 'Overage Three'],
    ]);
    assert.equal(graph.listRequests, 2);
    assert.equal(graph.tokenRequests, 1);
  });

  describe('forged and unacceptable tokens: 401 with the reason, nothing created', () => {
    let goodKey: SigningKey;
    const claims = () => {
      const now = Math.floor(Date.now() / 1000);
      return { sub: 'mallory', oid: 'oid-mallory', tid: TENANT, groups: ['grp-evil'], roles: ['proxy_admin'], iat: now, exp: now + 600 };
    };
    const sign = (payload: Record<string, unknown>, key: SigningKey, header: Record<string, unknown> = { alg: 'RS256', kid: 'k1' }) =>
      new SignJWT(payload).setProtectedHeader(header as { alg: string }).setIssuer((payload.iss as string | undefined) ?? idp.issuer).setAudience((payload.aud as string | undefined) ?? idp.clientId).sign(key);

    before(async () => {
      goodKey = await importJWK(idp.privateJwk as JWK, 'RS256');
    });

    const cases: Array<[string, () => Promise<string>, RegExp, string?]> = [
      ['a key the IdP does not use (same kid)', async () => sign(claims(), await importJWK({ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) } as JWK, 'RS256')), /signature does not verify/],
      ['a key the IdP does not publish (other kid)', async () => sign(claims(), await importJWK({ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) } as JWK, 'RS256'), { alg: 'RS256', kid: 'nope' }), /key the IdP does not publish/],
      ['another issuer', async () => sign({ ...claims(), iss: 'https://evil.example/v2.0' }, goodKey), /another issuer \(iss\)/],
      ['another audience', async () => sign({ ...claims(), aud: 'another-app' }, goodKey), /another client \(aud\)/],
      ['expired', async () => sign({ ...claims(), iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }, goodKey), /expired/],
      ['not valid yet', async () => sign({ ...claims(), nbf: Math.floor(Date.now() / 1000) + 3600 }, goodKey), /not valid yet \(nbf\)/],
      ['another tenant (signed by the IdP)', () => idp.idTokenFor('eve'), /another tenant \(tid\)/],
      ['alg none', async () => `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims(), iss: idp.issuer, aud: idp.clientId })).toString('base64url')}.`, /unsigned \(alg "none"\)/],
      ['HS256 with the client secret', async () => sign(claims(), new TextEncoder().encode(idp.clientSecret), { alg: 'HS256' }), /alg "HS256" is not allowed/],
      ['a nonce that does not match', () => idp.idTokenFor('dave', { nonce: 'the-real-nonce' }), /nonce does not match/, 'another-nonce'],
      ['not a JWT', async () => 'not-a-jwt', /not a JWT/],
    ];
    for (const [name, make, reason, nonce] of cases) {
      test(name, async () => {
        const usersBefore = (await users()).items.length;
        const teamsBefore = (await teams()).items.length;
        const token = await make();
        const res = await signIn(token, nonce);
        assert.equal(res.status, 401, res.text);
        assert.equal(res.json.error.code, 'invalid_id_token');
        assert.match(res.json.error.message, reason);
        assert.ok(!res.text.includes(token.slice(0, 40)) || token.length < 40);
        assert.equal((await users()).items.length, usersBefore);
        assert.equal((await teams()).items.length, teamsBefore);
        assert.equal(await gw.gateway.store.getDoc('users', 'oid-mallory'), undefined);
      });
    }

    test('the matching nonce is accepted', async () => {
      const res = await signIn(await idp.idTokenFor('dave', { nonce: 'n-123' }), 'n-123');
      assert.equal(res.status, 200, res.text);
    });
  });

  test('sessions: the token opens the admin API per role; logout revokes it', async () => {
    const res = await signIn(await idp.idTokenFor('carol'));
    const token = res.json.session_token as string;
    const bearer = { authorization: `Bearer ${token}` };
    assert.equal((await call(`${gw.url}/api/audit`, { headers: bearer })).status, 200);
    const out = await call(`${gw.url}/api/auth/sso/logout`, { method: 'POST', headers: bearer });
    assert.equal(out.status, 200);
    assert.equal(out.json.revoked, true);
    const afterLogout = await call(`${gw.url}/api/audit`, { headers: bearer });
    assert.equal(afterLogout.status, 401);
    assert.match(afterLogout.json.error.message, /sign in again/);
    assert.ok(!gw.logs.text.includes(token));
  });

  test('browser flow: login → IdP (code + PKCE + nonce + state) → callback → HttpOnly SameSite cookie → admin API; replay refused; logout clears it', async () => {
    const jar = new CookieJar();
    const login = await jarFetch(jar, `${gw.url}/api/auth/sso/login`);
    assert.equal(login.status, 302);
    const authorize = new URL(login.headers.get('location')!);
    assert.equal(authorize.origin, idp.issuer);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    for (const p of ['state', 'nonce', 'code_challenge']) assert.ok((authorize.searchParams.get(p) ?? '').length >= 43, p);
    assert.equal(authorize.searchParams.get('redirect_uri'), `${gw.url}/api/auth/sso/callback`);
    authorize.searchParams.set('login_hint', 'bob');
    const callback = await idp.followToClient(authorize.toString(), jar);
    assert.ok(callback.startsWith(`${gw.url}/api/auth/sso/callback?`), callback);
    assert.equal(new URL(callback).searchParams.get('iss'), idp.issuer);
    const mixedUp = new URL(callback);
    mixedUp.searchParams.set('iss', 'https://evil.example');
    const refusedMixUp = await jarFetch(new CookieJar(), mixedUp.toString());
    assert.equal(refusedMixUp.status, 401);
    assert.match(await refusedMixUp.text(), /another issuer/);
    const done = await jarFetch(jar, callback);
    assert.equal(done.status, 303, await done.clone().text());
    assert.equal(done.headers.get('location'), '/');
    const cookie = done.headers.getSetCookie().find((c) => c.startsWith('sf_session='))!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    const session = jar.get(gw.url, 'sf_session')!;
    assert.match(session, /^sf-sess-/);

    const me = await jarFetch(jar, `${gw.url}/api/auth/sso/users/oid-bob/teams`);
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { role: string }).role, 'org_admin');

    const replay = await jarFetch(new CookieJar(), callback);
    assert.equal(replay.status, 401);
    assert.match(await replay.text(), /state is unknown, expired or already used/);
    const forgedState = new URL(callback);
    forgedState.searchParams.set('state', 'x'.repeat(43));
    assert.equal((await jarFetch(new CookieJar(), forgedState.toString())).status, 401);

    const out = await jarFetch(jar, `${gw.url}/api/auth/sso/logout`, { method: 'POST' });
    assert.equal(out.status, 200);
    assert.equal(jar.get(gw.url, 'sf_session'), undefined);
    const reuse = await call(`${gw.url}/api/auth/sso/users/oid-bob/teams`, { headers: { cookie: `sf_session=${session}` } });
    assert.equal(reuse.status, 401);
  });

  test('graph.resolve_names: a new team is named after the group in Graph; a POST without client_secret keeps the stored one', async () => {
    const { client_secret: _kept, ...withoutSecret } = configBody({ resolve_names: true });
    const saved = await admin('/api/auth/sso/config', { body: withoutSecret });
    assert.equal(saved.status, 200, saved.text);
    assert.equal(saved.json.client_secret_set, true);
    idp.users.dave!.groups = ['grp-eng', 'grp-named'];
    const res = await signIn(await idp.idTokenFor('dave'));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.created_teams, ['sso-grp-named']);
    assert.equal((await admin('/api/teams/sso-grp-named')).json.name, 'Named In Graph');
    assert.equal((await admin('/api/teams/sso-grp-eng')).json.name, 'grp-eng', 'existing teams keep their name');
  });
});
