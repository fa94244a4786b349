import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'sf-mcp-config-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

function loadError(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig({ path: file(text), env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the config to be rejected');
}

describe('mcp_servers, mcp and secrets in smartflow.yaml', () => {
  test('servers load with ${VAR} header values and an inferred transport', () => {
    const { config } = loadConfig({
      path: file(`mcp:
  stdio_allowed_commands: [npx]
mcp_servers:
  - alias: files
    command: npx
    args: ["-y", "@modelcontextprotocol/server-filesystem", "/srv"]
  - alias: github
    url: https://api.githubcopilot.com/mcp/
    headers: { Authorization: "Bearer \${GH_TOKEN}" }
`),
      env: { GH_TOKEN: 'ghp_x' },
    });
    assert.equal(config.mcp_servers.length, 2);
    assert.equal(config.mcp_servers[1]!.headers!.Authorization, 'Bearer ghp_x');
    assert.deepEqual(config.mcp.stdio_allowed_commands, ['npx']);
  });

  test('errors carry file:line and the field', () => {
    assert.match(loadError(`mcp_servers:\n  - alias: files\n    transport: stdio\n`), /:2: mcp_servers\.0\.command: a stdio server needs a command/);
    assert.match(loadError(`mcp_servers:\n  - alias: Files\n    command: npx\n`), /:2: mcp_servers\.0\.alias:/);
    assert.match(loadError(`mcp_servers:\n  - alias: a\n    url: https://x.example\n    colour: red\n`), /mcp_servers\.0: Unrecognized key: "colour"/);
    assert.match(loadError(`mcp_servers:\n  - alias: a\n    url: https://x.example\n  - alias: a\n    url: https://y.example\n`), /:4: mcp_servers\.1\.alias: the alias "a" is used by an earlier server/);
    assert.match(loadError(`mcp:\n  stdio_allowed_commands: [npx]\nmcp_servers:\n  - alias: sh\n    command: bash\n`), /:5: mcp_servers\.0\.command: "bash" is not in mcp\.stdio_allowed_commands/);
  });

  test('secrets.key must be 32 bytes; SMARTFLOW_SECRET_KEY sets it', () => {
    assert.match(loadError(`secrets:\n  key: c2hvcnQ=\n`), /:2: secrets\.key: .*32 bytes/);
    const key = 'ab'.repeat(32);
    assert.equal(loadConfig({ path: file(`providers: {}\n`), env: { SMARTFLOW_SECRET_KEY: key } }).config.secrets.key, key);
  });

  test('the MCP endpoint\'s Host check and resumption limits: safe defaults, mistakes named', () => {
    const { config } = loadConfig({ path: file(`providers: {}\n`), env: {} });
    assert.equal(config.mcp.host_check, 'loopback');
    assert.deepEqual(config.mcp.allowed_hosts, []);
    assert.equal(config.mcp.resume_max_events, 1000);
    assert.equal(config.mcp.resume_max_bytes, 1024 * 1024);
    const set = loadConfig({ path: file(`mcp:\n  host_check: always\n  allowed_hosts: [gateway.internal, "[::1]"]\n`), env: {} }).config.mcp;
    assert.equal(set.host_check, 'always');
    assert.deepEqual(set.allowed_hosts, ['gateway.internal', '[::1]']);
    assert.match(loadError(`mcp:\n  host_check: sometimes\n`), /:2: mcp\.host_check/);
    assert.match(loadError(`mcp:\n  allowed_hosts: ["gateway.internal:4000"]\n`), /:2: mcp\.allowed_hosts\.0: a host name without port/);
  });
});
