import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHostCheck } from '../../../src/mcp/downstream/host-check.js';

test('loopback (default): on a loopback connection only loopback names and allowed hosts pass, any port', () => {
  const check = createHostCheck('loopback', ['gateway.internal', '[fd00::1]']);
  for (const local of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.1.2.3']) {
    for (const host of ['localhost', 'localhost:4000', '127.0.0.1:4000', '[::1]:4000', 'LOCALHOST', 'gateway.internal:8443', '[fd00::1]:80']) assert.equal(check(host, local), true, `${host} on ${local}`);
    for (const host of [undefined, '', 'evil.example.com', 'evil.example.com:4000', 'localhost.evil.example.com', '127.0.0.1.nip.io', 'user@localhost', 'localhost/x']) assert.equal(check(host, local), false, `${host} on ${local}`);
  }
  assert.equal(check('evil.example.com', '10.0.0.5'), true, 'a connection to a public address is not checked');
  assert.equal(check('evil.example.com', undefined), true);
});

test('always checks every connection; off never does', () => {
  const always = createHostCheck('always', ['api.example.com']);
  assert.equal(always('api.example.com', '10.0.0.5'), true);
  assert.equal(always('evil.example.com', '10.0.0.5'), false);
  const off = createHostCheck('off', []);
  assert.equal(off('evil.example.com', '127.0.0.1'), true);
});
