import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { SecretBox, secretKeyFrom } from '../../../src/crypto/secret-box.js';

describe('secret box (AES-256-GCM)', () => {
  const box = new SecretBox(randomBytes(32));

  test('seals to enc:v1:<iv>:<tag>:<ciphertext> without the plaintext, opens back, and never seals twice alike', () => {
    const sealed = box.seal('Bearer top-secret', 'mcp_1/headers/Authorization');
    assert.match(sealed, /^enc:v1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
    assert.ok(!sealed.includes('top-secret'));
    assert.equal(box.open(sealed, 'mcp_1/headers/Authorization'), 'Bearer top-secret');
    assert.notEqual(box.seal('Bearer top-secret', 'c'), box.seal('Bearer top-secret', 'c'));
    assert.equal(box.open(box.seal('', 'c'), 'c'), '');
  });

  test('another context, another key or a changed byte does not open', () => {
    const sealed = box.seal('value', 'mcp_1/env/TOKEN');
    assert.throws(() => box.open(sealed, 'mcp_2/env/TOKEN'));
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'mcp_1/env/TOKEN'));
    const parts = sealed.split(':');
    parts[4] = (parts[4]![0] === 'A' ? 'B' : 'A') + parts[4]!.slice(1);
    assert.throws(() => box.open(parts.join(':'), 'mcp_1/env/TOKEN'));
    assert.throws(() => box.open('plain', 'x'));
  });

  test('keys: hex or base64 of 32 bytes, else HKDF from the master key (stable, and not the master key)', () => {
    const raw = randomBytes(32);
    assert.deepEqual(secretKeyFrom({ key: raw.toString('hex'), masterKey: 'm' }), raw);
    assert.deepEqual(secretKeyFrom({ key: raw.toString('base64'), masterKey: 'm' }), raw);
    assert.throws(() => secretKeyFrom({ key: randomBytes(16).toString('base64'), masterKey: 'm' }), /32 bytes/);
    const derived = secretKeyFrom({ masterKey: 'sk-master-123456' });
    assert.equal(derived.length, 32);
    assert.deepEqual(secretKeyFrom({ masterKey: 'sk-master-123456' }), derived);
    assert.notDeepEqual(secretKeyFrom({ masterKey: 'sk-master-654321' }), derived);
  });
});
