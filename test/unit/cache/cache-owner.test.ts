import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheOwner, namespaceOf, ownedNamespace, splitNamespace, withinNamespace } from '../../../src/cache/cache-owner.js';
import type { Principal } from '../../../src/keys/principal.js';

const master: Principal = { id: 'master', kind: 'master', keyId: null, teamId: null, isAdmin: true, policy: null };
function key(teamId: string | null, pin: string | null = null): Principal {
  const policy = { allowModel: () => true, allowMcpServer: () => true, allowMcpTool: () => true, budgets: [], rates: [], cache: null, allowByok: true, cacheNamespace: pin, fingerprint: 'f' };
  return { id: 'vk_1', kind: 'virtual_key', keyId: 'vk_1', teamId, isAdmin: false, policy };
}

describe('cacheOwner', () => {
  test('team scope: the team, or the key without one; the master key is its own', () => {
    assert.equal(cacheOwner('team', key('acme'), false), 'team/acme');
    assert.equal(cacheOwner('team', key(null), false), 'key/vk_1');
    assert.equal(cacheOwner('team', master, false), 'master');
  });

  test('key and global scopes; a pin wins over either; an own provider key wins over everything', () => {
    assert.equal(cacheOwner('key', key('acme'), false), 'key/vk_1');
    assert.equal(cacheOwner('global', key('acme'), false), 'global');
    assert.equal(cacheOwner('global', master, false), 'global');
    assert.equal(cacheOwner('team', key('acme', 'support'), false), 'pin/support');
    assert.equal(cacheOwner('global', key('acme', 'support'), false), 'pin/support');
    assert.equal(cacheOwner('global', key('acme', 'support'), true), 'key/vk_1');
    assert.equal(cacheOwner('global', master, true), 'master');
  });
});

describe('owned namespaces', () => {
  test('an owner, optionally narrowed once; nothing else', () => {
    for (const ok of ['global', 'master', 'master/faq', 'team/acme', 'team/acme/faq', 'key/vk_01H/x.y', 'pin/support']) assert.ok(ownedNamespace.safeParse(ok).success, ok);
    for (const bad of ['default', 'team', 'team/', 'team/a/b/c', 'user/x', 'master/../x', 'team/a:b', 'global/a/b']) assert.ok(!ownedNamespace.safeParse(bad).success, bad);
  });

  test('namespaceOf, splitNamespace and withinNamespace agree', () => {
    assert.equal(namespaceOf('team/acme', 'faq'), 'team/acme/faq');
    assert.deepEqual(splitNamespace('team/acme/faq'), { owner: 'team/acme', name: 'faq' });
    assert.deepEqual(splitNamespace('master'), { owner: 'master', name: undefined });
    assert.deepEqual(splitNamespace('global/x'), { owner: 'global', name: 'x' });
    assert.ok(withinNamespace('team/acme/faq', 'team/acme'));
    assert.ok(withinNamespace('team/acme', 'team/acme'));
    assert.ok(!withinNamespace('team/acme2', 'team/acme'));
  });
});
