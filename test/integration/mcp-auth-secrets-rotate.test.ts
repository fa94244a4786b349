import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli.js';
import { authHeaders, MASTER_KEY, startTestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { startJwtMcpServer } from '../helpers/jwt-mcp-server.js';
import { startTestIdp } from '../helpers/mcp-oauth-idp.js';

test('smartflow secrets rotate re-encrypts MCP secrets: the new key opens them, the old one no longer does', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sf-rotate-'));
  const idp = await startTestIdp();
  const mcp = await startJwtMcpServer(idp.issuer);
  const store = { type: 'sqlite', path: join(dir, 'smartflow.db') };
  const newKey = randomBytes(32).toString('hex');
  try {
    const before = await startTestGateway({ store });
    const server = { alias: 'cc', transport: 'streamable-http', url: mcp.url, headers: { 'x-extra': 'static-secret-value' }, auth: { type: 'oauth2_client_credentials', token_url: `${idp.issuer}/token`, client_id: 'svc', client_secret: 'svc-secret', resource: mcp.url } };
    assert.equal((await call(`${before.url}/api/mcp/servers`, { headers: authHeaders(), body: server })).status, 201);
    await before.close();

    const config = join(dir, 'smartflow.yaml');
    await writeFile(config, `master_key: ${MASTER_KEY}\nstore:\n  type: sqlite\n  path: ${store.path}\n`);
    assert.equal(await main(['secrets', 'rotate', '--config', config, '--new-key', newKey]), 0);

    const rotated = await startTestGateway({ store, secrets: { key: newKey } });
    try {
      const res = await call(`${rotated.url}/api/mcp/tools/call`, { headers: authHeaders(), body: { server: 'cc', tool: 'whoami', arguments: {} } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.content[0].text, 'hello svc');
      const view = await call(`${rotated.url}/api/mcp/servers/cc`, { headers: authHeaders() });
      assert.equal(view.json.unreadable_secrets, undefined);
    } finally {
      await rotated.close();
    }
    const old = await startTestGateway({ store });
    try {
      const view = await call(`${old.url}/api/mcp/servers/cc`, { headers: authHeaders() });
      assert.deepEqual(view.json.unreadable_secrets, ['headers.x-extra', 'auth.client_secret']);
    } finally {
      await old.close();
    }
  } finally {
    await mcp.close();
    await idp.close();
    await rm(dir, { recursive: true, force: true });
  }
});
