import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { startTestIdp, TENANT, type TestIdp } from '../helpers/oidc-idp.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';

const USERS = Array.from({ length: 16 }, (_, i) => `member${i}`);

describe('SSO on two instances sharing Redis', () => {
  const prefix = `sf-it:${randomUUID()}:`;
  let a: TestGateway;
  let b: TestGateway;
  let idp: TestIdp;

  before(async () => {
    const config = { store: { type: 'redis', url: REDIS_URL, prefix } };
    a = await startTestGateway(config);
    b = await startTestGateway(config);
    idp = await startTestIdp({ users: Object.fromEntries(USERS.map((u, i) => [u, { groups: ['grp-shared', `grp-own-${i}`], roles: i === 0 ? ['org_admin'] : [] }])) });
    // Configured through one instance; the other reads it from the store.
    const res = await call(`${a.url}/api/auth/sso/config`, { headers: authHeaders(), body: { tenant_id: TENANT, client_id: idp.clientId, client_secret: idp.clientSecret, issuer: idp.issuer } });
    assert.equal(res.status, 200, res.text);
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await idp?.close();
    await flushRedisPrefix(prefix);
  });

  test('members of one group signing in at once on both instances: every membership lands (compare-and-set)', async () => {
    const tokens = [];
    for (const user of USERS) tokens.push(await idp.idTokenFor(user));
    const results = await Promise.all(
      tokens.map((id_token, i) => call(`${(i % 2 ? a : b).url}/api/auth/sso/signin`, { headers: { 'content-type': 'application/json' }, body: { id_token } })),
    );
    for (const r of results) assert.equal(r.status, 200, r.text);
    assert.equal(results.filter((r) => r.json.created_teams.includes('sso-grp-shared')).length, 1, 'exactly one sign-in created the shared team');
    for (const gw of [a, b]) {
      const team = await call(`${gw.url}/api/teams/sso-grp-shared`, { headers: authHeaders() });
      assert.deepEqual(team.json.members.map((m: { user_id: string }) => m.user_id).sort(), USERS.map((u) => `oid-${u}`).sort());
    }
    const teams = await call(`${b.url}/api/auth/sso/teams?limit=1000`, { headers: authHeaders() });
    assert.equal(teams.json.data.find((t: { id: string }) => t.id === 'sso-grp-shared').members_count, USERS.length);

    // A session opened on one instance works on the other; logging out on that one ends it on both.
    const session = results[0]!.json.session_token as string;
    const bearer = { authorization: `Bearer ${session}` };
    assert.equal((await call(`${a.url}/api/teams/sso-grp-shared`, { headers: bearer })).status, 200);
    assert.equal((await call(`${a.url}/api/auth/sso/logout`, { method: 'POST', headers: bearer })).status, 200);
    assert.equal((await call(`${b.url}/api/teams/sso-grp-shared`, { headers: bearer })).status, 401);
  });
});
