import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';

describe('sso: in smartflow.yaml', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ sso: { tenant_id: 'contoso-tenant', client_id: 'app-id', client_secret: 'file-secret-value', group_filter: { ids: ['g1'] } } });
  });
  after(() => gw?.close());

  test('GET shows the file settings with the Entra defaults and without the secret; POST is refused', async () => {
    const got = await call(`${gw.url}/api/auth/sso/config`, { headers: authHeaders() });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.source, 'file');
    assert.equal(got.json.issuer, 'https://login.microsoftonline.com/contoso-tenant/v2.0');
    assert.equal(got.json.discovery_url, 'https://login.microsoftonline.com/contoso-tenant/v2.0/.well-known/openid-configuration');
    assert.equal(got.json.client_secret_set, true);
    assert.ok(!got.text.includes('file-secret-value'));
    const post = await call(`${gw.url}/api/auth/sso/config`, { headers: authHeaders(), body: { tenant_id: 't', client_id: 'c' } });
    assert.equal(post.status, 409);
    assert.match(post.json.error.message, /smartflow\.yaml/);
  });

  test('a config that allows none or HS256 does not load', () => {
    for (const algorithms of [['none'], ['HS256']]) {
      assert.equal(configSchema.safeParse({ sso: { tenant_id: 't', client_id: 'c', algorithms } }).success, false);
    }
  });
});

describe('SSO not configured', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw?.close());

  test('sign-in, login and the config are 404 sso_not_configured', async () => {
    const signin = await call(`${gw.url}/api/auth/sso/signin`, { headers: { 'content-type': 'application/json' }, body: { id_token: 'x.y.z' } });
    assert.equal(signin.status, 404);
    assert.equal(signin.json.error.code, 'sso_not_configured');
    assert.equal((await call(`${gw.url}/api/auth/sso/login`)).status, 404);
    assert.equal((await call(`${gw.url}/api/auth/sso/config`, { headers: authHeaders() })).json.error.code, 'sso_not_configured');
    const bad = await call(`${gw.url}/api/auth/sso/signin`, { headers: { 'content-type': 'application/json' }, body: { token: 'x' } });
    assert.equal(bad.status, 400);
  });
});
