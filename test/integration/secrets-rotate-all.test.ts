import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli.js';
import { SecretBox, secretKeyFrom } from '../../src/crypto/secret-box.js';
import { createStore } from '../../src/storage/index.js';
import { authHeaders, MASTER_KEY, startTestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';

test('smartflow secrets rotate also moves the SSO client secret and A2A remote agent headers to the new key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sf-rotate-all-'));
  const store = { type: 'sqlite' as const, path: join(dir, 'smartflow.db') };
  const newKey = randomBytes(32).toString('hex');
  try {
    const before = await startTestGateway({ store });
    const sso = await call(`${before.url}/api/auth/sso/config`, { headers: authHeaders(), body: { tenant_id: 'tenant-1', client_id: 'gateway', client_secret: 'sso-secret-value', issuer: 'http://127.0.0.1:1' } });
    assert.equal(sso.status, 200, sso.text);
    const agent = await call(`${before.url}/api/a2a/agents`, { headers: authHeaders(), body: { id: 'elsewhere', name: 'Elsewhere', remote: { card_url: 'http://127.0.0.1:1/.well-known/agent-card.json', headers: { Authorization: 'Bearer remote-secret-value' } } } });
    assert.equal(agent.status, 201, agent.text);
    await before.close();

    const config = join(dir, 'smartflow.yaml');
    await writeFile(config, `master_key: ${MASTER_KEY}\nstore:\n  type: sqlite\n  path: ${store.path}\n`);
    assert.equal(await main(['secrets', 'rotate', '--config', config, '--new-key', newKey]), 0);

    const fresh = new SecretBox(secretKeyFrom({ key: newKey, masterKey: MASTER_KEY }));
    const old = new SecretBox(secretKeyFrom({ masterKey: MASTER_KEY }));
    const raw = await createStore(store);
    try {
      const ssoDoc = await raw.getDoc<{ client_secret_sealed: string }>('sso_config', 'current');
      assert.equal(fresh.open(ssoDoc!.client_secret_sealed, 'sso:client_secret'), 'sso-secret-value');
      assert.throws(() => old.open(ssoDoc!.client_secret_sealed, 'sso:client_secret'));
      const agentDoc = await raw.getDoc<{ profile: { remote: { headers: Record<string, string> } } }>('a2a_agents', 'elsewhere');
      const sealed = agentDoc!.profile.remote.headers['Authorization']!;
      assert.equal(fresh.open(sealed, 'a2a/elsewhere/authorization'), 'Bearer remote-secret-value');
      assert.throws(() => old.open(sealed, 'a2a/elsewhere/authorization'));
    } finally {
      await raw.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
