import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call, type Res } from '../helpers/http.js';
import { startTestIdp, TENANT, type TestIdp } from '../helpers/oidc-idp.js';
import { routeTableOf } from '../../src/http/route-table.js';

type Who = 'master' | 'admin' | 'viewer' | 'org' | 'user' | 'vkey';

describe('RBAC on the admin API: each role × representative endpoints', () => {
  let gw: TestGateway;
  let idp: TestIdp;
  const tokens = {} as Record<Who, string>;
  let keyInA = '';
  let keyInB = '';

  const as = (who: Who, path: string, init: { method?: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT'; body?: unknown } = {}): Promise<Res> =>
    call(`${gw.url}${path}`, { headers: authHeaders(tokens[who]), ...init });

  before(async () => {
    gw = await startTestGateway();
    idp = await startTestIdp({
      users: {
        ann: { groups: ['grp-a'], roles: ['proxy_admin'] },
        vic: { groups: [], roles: ['proxy_admin_viewer', 'internal_user'] },
        ora: { groups: ['grp-a'], roles: ['org_admin'] },
        ivy: { groups: ['grp-a'] },
        zed: { groups: ['grp-b'] },
      },
    });
    tokens.master = MASTER_KEY;
    const config = await as('master', '/api/auth/sso/config', { body: { tenant_id: TENANT, client_id: idp.clientId, issuer: idp.issuer } });
    assert.equal(config.status, 200, config.text);
    const session = async (user: string) => {
      const res = await call(`${gw.url}/api/auth/sso/signin`, { headers: { 'content-type': 'application/json' }, body: { id_token: await idp.idTokenFor(user) } });
      assert.equal(res.status, 200, res.text);
      return res.json.session_token as string;
    };
    tokens.admin = await session('ann');
    tokens.viewer = await session('vic');
    tokens.org = await session('ora');
    tokens.user = await session('ivy');
    await session('zed');
    keyInA = (await as('master', '/api/enterprise/vkeys', { body: { team_id: 'sso-grp-a', alias: 'team-a-key' } })).json.id;
    keyInB = (await as('master', '/api/enterprise/vkeys', { body: { team_id: 'sso-grp-b', alias: 'team-b-key' } })).json.id;
  });

  after(async () => {
    await gw?.close();
    await idp?.close();
  });

  test('the matrix: allowed calls succeed, forbidden ones are 403 naming the role needed', async () => {
    const rows: Array<[string, 'GET' | 'POST' | 'PATCH' | 'DELETE', string, unknown, Record<Exclude<Who, 'vkey'>, number>, string?]> = [
      ['read the audit log', 'GET', '/api/audit', undefined, { master: 200, admin: 200, viewer: 200, org: 403, user: 403 }, 'proxy_admin_viewer'],
      ['read spend', 'GET', '/api/spend/logs', undefined, { master: 200, admin: 200, viewer: 200, org: 403, user: 403 }, 'proxy_admin_viewer'],
      ['create a team', 'POST', '/api/teams', { name: 'new' }, { master: 201, admin: 201, viewer: 403, org: 403, user: 403 }, 'proxy_admin'],
      ['change its own team', 'PATCH', '/api/teams/sso-grp-a', { max_budget: 50 }, { master: 200, admin: 200, viewer: 403, org: 200, user: 403 }, 'org_admin'],
      ["change another team", 'PATCH', '/api/teams/sso-grp-b', { max_budget: 50 }, { master: 200, admin: 200, viewer: 403, org: 403, user: 403 }],
      ["reset its team's budget", 'POST', '/api/teams/sso-grp-a/reset', undefined, { master: 200, admin: 200, viewer: 403, org: 200, user: 403 }, 'org_admin'],
      ['read its team', 'GET', '/api/teams/sso-grp-a', undefined, { master: 200, admin: 200, viewer: 200, org: 200, user: 200 }],
      ['read another team', 'GET', '/api/teams/sso-grp-b', undefined, { master: 200, admin: 200, viewer: 200, org: 403, user: 403 }],
      ['create a key in its team', 'POST', '/api/enterprise/vkeys', { team_id: 'sso-grp-a' }, { master: 201, admin: 201, viewer: 403, org: 201, user: 201 }, 'internal_user'],
      ['create a key in another team', 'POST', '/api/enterprise/vkeys', { team_id: 'sso-grp-b' }, { master: 201, admin: 201, viewer: 403, org: 403, user: 403 }],
      ['create a key with BYOK', 'POST', '/api/enterprise/vkeys', { team_id: 'sso-grp-a', allow_byok: true }, { master: 201, admin: 201, viewer: 403, org: 201, user: 403 }],
      ["read a team-mate's key", 'GET', `/api/enterprise/vkeys/${'A'}`, undefined, { master: 200, admin: 200, viewer: 200, org: 200, user: 403 }],
      ["read another team's key", 'GET', `/api/enterprise/vkeys/${'B'}`, undefined, { master: 200, admin: 200, viewer: 200, org: 403, user: 403 }],
      ["change a team's key", 'PATCH', `/api/enterprise/vkeys/${'A'}`, { tags: ['x'] }, { master: 200, admin: 200, viewer: 403, org: 200, user: 403 }],
      ['read MCP servers', 'GET', '/api/mcp/servers', undefined, { master: 200, admin: 200, viewer: 200, org: 200, user: 403 }],
      ['register an MCP server', 'POST', '/api/mcp/servers', { alias: 'srv', transport: 'streamable-http', url: 'http://127.0.0.1:1/mcp' }, { master: 0, admin: 201, viewer: 403, org: 403, user: 403 }, 'proxy_admin'],
      ['read the fallback chains', 'GET', '/api/routing/fallback-chains', undefined, { master: 200, admin: 200, viewer: 200, org: 403, user: 403 }],
      ['flush a cache namespace', 'DELETE', '/api/cache?namespace=global', undefined, { master: 200, admin: 200, viewer: 403, org: 403, user: 403 }, 'proxy_admin'],
      ['read the SSO config', 'GET', '/api/auth/sso/config', undefined, { master: 200, admin: 200, viewer: 200, org: 403, user: 403 }],
      ['change the SSO config', 'POST', '/api/auth/sso/config', { tenant_id: TENANT, client_id: 'gateway', issuer: 'http://127.0.0.1:1' }, { master: 200, admin: 200, viewer: 403, org: 403, user: 403 }, 'proxy_admin'],
      ['its own teams', 'GET', '/api/auth/sso/users/oid-ivy/teams', undefined, { master: 200, admin: 200, viewer: 200, org: 403, user: 200 }],
      ['read the policies', 'GET', '/api/policies', undefined, { master: 200, admin: 200, viewer: 200, org: 200, user: 403 }],
      ['create a policy', 'POST', '/api/policies', { name: 'org-wide', add: [] }, { master: 0, admin: 201, viewer: 403, org: 403, user: 403 }],
      ['attach a policy to its own team', 'POST', '/api/policies/attachments', { policy: 'org-wide', scope: 'team', pattern: 'sso-grp-a' }, { master: 0, admin: 0, viewer: 403, org: 201, user: 403 }, 'org_admin'],
      ['attach a policy to another team', 'POST', '/api/policies/attachments', { policy: 'org-wide', scope: 'team', pattern: 'sso-grp-b' }, { master: 0, admin: 201, viewer: 403, org: 403, user: 403 }],
      ['attach a policy to a model', 'POST', '/api/policies/attachments', { policy: 'org-wide', scope: 'model', pattern: 'gpt-*' }, { master: 0, admin: 201, viewer: 403, org: 403, user: 403 }],
      ['create a guardrail', 'POST', '/api/guardrails', { name: 'g1', type: 'pii', mode: 'mask', stage: 'pre' }, { master: 0, admin: 201, viewer: 403, org: 403, user: 403 }, 'proxy_admin'],
      ['read the A2A agents', 'GET', '/api/a2a/agents', undefined, { master: 200, admin: 200, viewer: 200, org: 403, user: 403 }],
    ];
    for (const [what, method, rawPath, body, expected, role] of rows) {
      const path = rawPath.replace('/vkeys/A', `/vkeys/${keyInA}`).replace('/vkeys/B', `/vkeys/${keyInB}`);
      for (const who of ['user', 'org', 'viewer', 'admin', 'master'] as const) {
        const want = expected[who];
        // 0: not asked (the alias is taken once the proxy_admin registered it).
        if (want === 0) continue;
        const res = await as(who, path, { method, ...(body !== undefined ? { body } : {}) });
        assert.equal(res.status, want, `${what} as ${who}: ${res.text}`);
        if (want === 403) {
          assert.equal(res.json.error.code, 'forbidden');
          if (role) assert.match(res.json.error.message, new RegExp(`\\b${role}\\b`), `${what} as ${who}: ${res.text}`);
        }
      }
    }
  });

  test('an internal_user creates keys only for itself in its teams (inheriting the team budget) and sees only its own keys', async () => {
    const forSomeoneElse = await as('user', '/api/enterprise/vkeys', { body: { team_id: 'sso-grp-a', user_id: 'someone-else' } });
    assert.equal(forSomeoneElse.status, 403);
    assert.match(forSomeoneElse.json.error.message, /may not set user_id/);
    const created = await as('user', '/api/enterprise/vkeys', { body: { team_id: 'sso-grp-a', alias: 'ivy-own', max_budget: 5 } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.user_id, 'oid-ivy');
    const noTeam = await as('user', '/api/enterprise/vkeys', { body: {} });
    assert.equal(noTeam.status, 403);
    assert.match(noTeam.json.error.message, /team_id is required/);
    const list = await as('user', '/api/enterprise/vkeys');
    assert.ok(list.json.data.length >= 1);
    assert.ok(list.json.data.every((k: { user_id: string }) => k.user_id === 'oid-ivy'), list.text);
    const orgList = await as('org', '/api/enterprise/vkeys');
    assert.ok(orgList.json.data.every((k: { team_id: string }) => k.team_id === 'sso-grp-a'), orgList.text);
    const teams = await as('user', '/api/teams');
    assert.deepEqual(teams.json.data.map((t: { id: string }) => t.id), ['sso-grp-a']);
    assert.equal((await as('user', `/api/enterprise/vkeys/${created.json.id}/revoke`, { method: 'POST' })).status, 200);

    // Its virtual key is self-service for the same user: its keys, nothing else.
    tokens.vkey = (await as('user', '/api/enterprise/vkeys', { body: { team_id: 'sso-grp-a' } })).json.key;
    const viaKey = await as('vkey', '/api/enterprise/vkeys');
    assert.equal(viaKey.status, 200, viaKey.text);
    assert.ok(viaKey.json.data.every((k: { user_id: string }) => k.user_id === 'oid-ivy'));
    assert.equal((await as('vkey', `/api/enterprise/vkeys/${keyInA}`)).status, 403);
    const audit = await as('vkey', '/api/audit');
    assert.equal(audit.status, 403);
    assert.match(audit.json.error.message, /proxy_admin_viewer/);
  });

  test('every /api route declares a permission, or says it is open to anyone or any key', async () => {
    await gw.gateway.app.ready();
    const table = routeTableOf(gw.gateway.app).filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD');
    assert.ok(table.length > 30, `only ${table.length} /api routes recorded`);
    const undeclared = table.filter((r) => r.permission === undefined && r.openTo === undefined).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(undeclared, []);
    const open = table.filter((r) => r.openTo === 'anyone').map((r) => `${r.method} ${r.url}`).sort();
    assert.deepEqual(open, ['GET /api/auth/sso/callback', 'GET /api/auth/sso/login', 'GET /api/mcp/auth/callback', 'POST /api/auth/sso/logout', 'POST /api/auth/sso/signin']);
  });
});
