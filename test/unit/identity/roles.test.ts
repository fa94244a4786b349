import assert from 'node:assert/strict';
import { test } from 'node:test';
import { highestRole, lowestRoleFor, PERMISSIONS, roleAllows } from '../../../src/identity/roles.js';
import { teamIdForGroup } from '../../../src/identity/sso-claims.js';
import { sessionTokenOf } from '../../../src/identity/sessions.js';

test('the highest role wins; none is internal_user', () => {
  assert.equal(highestRole([]), 'internal_user');
  assert.equal(highestRole(['proxy_admin_viewer', 'org_admin', 'internal_user']), 'org_admin');
  assert.equal(highestRole(['internal_user', 'proxy_admin']), 'proxy_admin');
});

test('proxy_admin may do everything, the viewer every read and nothing else', () => {
  for (const p of PERMISSIONS) {
    assert.equal(roleAllows('proxy_admin', p), true, p);
    assert.equal(roleAllows('proxy_admin_viewer', p), p === 'self' || p.endsWith(':read'), p);
  }
  assert.equal(roleAllows('internal_user', 'keys:write'), true);
  assert.equal(roleAllows('internal_user', 'budgets:write'), false);
  assert.equal(roleAllows('org_admin', 'teams:create'), false);
  assert.equal(lowestRoleFor('teams:create'), 'proxy_admin');
  assert.equal(lowestRoleFor('audit:read'), 'proxy_admin_viewer');
  assert.equal(lowestRoleFor('keys:write'), 'internal_user');
});

test('team ids from group ids: GUIDs as they are, anything else slugged with a hash so two groups never collide', () => {
  assert.equal(teamIdForGroup('6e1f3c2a-52d1-4b5e-9d6a-0c7a7d8e9f00'), 'sso-6e1f3c2a-52d1-4b5e-9d6a-0c7a7d8e9f00');
  const a = teamIdForGroup('Data Science');
  const b = teamIdForGroup('Data/Science');
  assert.match(a, /^sso-Data-Science-[0-9a-f]{10}$/);
  assert.notEqual(a, b);
  assert.match(teamIdForGroup('x'.repeat(300)), /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
});

test('the session token comes from a Bearer sf-sess- header or the sf_session cookie, nothing else', () => {
  assert.equal(sessionTokenOf({ authorization: 'Bearer sf-sess-abc' }), 'sf-sess-abc');
  assert.equal(sessionTokenOf({ authorization: 'Bearer sk-sf-abc', cookie: 'sf_session=sf-sess-x' }), undefined);
  assert.equal(sessionTokenOf({ cookie: 'a=1; sf_session=sf-sess-xyz; b=2' }), 'sf-sess-xyz');
  assert.equal(sessionTokenOf({ cookie: 'sf_session=other' }), undefined);
});
