import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'sf-config-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

function loadError(path: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig({ path, env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the config to be rejected');
}

describe('config loading', () => {
  test('reads the documented shape, interpolates ${VAR} and applies defaults', () => {
    const path = file(`server: { host: 0.0.0.0, port: 8080 }
master_key: \${SF_KEY}
providers:
  openai: { type: openai, base_url: https://example.test/v1, api_key: \${OPENAI_API_KEY} }
  anthropic: { type: anthropic, api_key: "\${ANTHROPIC_API_KEY:-sk-ant-default}" }
models:
  - { name: gpt-4o-mini, provider: openai, model: gpt-4o-mini, input_cost_per_mtok: 0.15, output_cost_per_mtok: 0.60 }
`);
    const { config, source } = loadConfig({ path, env: { SF_KEY: 'sk-master-123456', OPENAI_API_KEY: 'sk-openai' } });
    assert.equal(source, path);
    assert.equal(config.server.port, 8080);
    assert.equal(config.server.host, '0.0.0.0');
    assert.equal(config.master_key, 'sk-master-123456');
    assert.equal(config.providers.openai?.api_key, 'sk-openai');
    assert.equal(config.providers.anthropic?.api_key, 'sk-ant-default');
    assert.deepEqual(config.store, { type: 'sqlite', path: './data/smartflow.db' });
    assert.equal(config.server.body_limit_bytes, 20 * 1024 * 1024);
    assert.equal(config.models[0]?.input_cost_per_mtok, 0.15);
  });

  test('an unset variable drops its field and is reported', () => {
    const path = file(`providers:\n  google: { type: gemini, api_key: \${GEMINI_API_KEY} }\n`);
    const loaded = loadConfig({ path, env: {} });
    assert.equal(loaded.config.providers.google?.api_key, undefined);
    assert.deepEqual(loaded.missingEnv, ['GEMINI_API_KEY']);
  });

  test('a variable cannot inject YAML structure', () => {
    const path = file(`master_key: \${EVIL}\n`);
    const { config } = loadConfig({ path, env: { EVIL: 'abcdefgh\nstore: { type: redis, url: redis://evil }' } });
    assert.equal(config.store.type, 'sqlite');
    assert.match(config.master_key ?? '', /^abcdefgh\n/);
  });

  test('a bad field is named with its file line', () => {
    const path = file(`server:\n  host: 127.0.0.1\n  port: "eighty"\n`);
    const msg = loadError(path);
    assert.match(msg, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: server\\.port:`));
  });

  test('an unknown key is rejected (typos do not pass silently)', () => {
    const msg = loadError(file(`servr: { port: 1 }\n`));
    assert.match(msg, /servr/);
  });

  test('a model that names an unknown provider is rejected with its line', () => {
    const path = file(`providers:\n  openai: { type: openai }\nmodels:\n  - name: x\n    provider: opneai\n    model: gpt-4o\n`);
    const msg = loadError(path);
    assert.match(msg, /:5: models\.0\.provider: unknown provider "opneai" \(configured: openai\)/);
  });

  test('passthrough.anthropic.byok_provider must name an Anthropic provider', () => {
    const providers = `providers:\n  anthropic: { type: anthropic }\n  openai: { type: openai }\n`;
    assert.match(loadError(file(`${providers}passthrough:\n  anthropic: { byok_provider: anthropc }\n`)), /passthrough\.anthropic\.byok_provider: unknown Anthropic provider "anthropc" \(configured: anthropic\)/);
    assert.match(loadError(file(`${providers}passthrough:\n  anthropic: { byok_provider: openai }\n`)), /byok_provider: unknown Anthropic provider "openai"/);
    assert.equal(loadConfig({ path: file(`${providers}passthrough:\n  anthropic: { byok_provider: anthropic }\n`), env: {} }).config.passthrough.anthropic.byok_provider, 'anthropic');
  });

  test('an unknown provider type is rejected', () => {
    assert.match(loadError(file(`providers:\n  x: { type: cohere }\n`)), /providers\.x\.type/);
  });

  test('invalid YAML names the line', () => {
    assert.match(loadError(file(`server:\n  port: [1,\n`)), /:\d+: not valid YAML/);
  });

  test('a missing file is a clear error', () => {
    assert.match(loadError(join(dir, 'nope.yaml')), /cannot read config file .*ENOENT/);
  });

  test('without a file, providers come from whichever API keys are set', () => {
    const { config, source } = loadConfig({ env: { SMARTFLOW_CONFIG: '', OPENAI_API_KEY: 'sk-o', GEMINI_API_KEY: 'g-key', SMARTFLOW_MASTER_KEY: 'sk-master-abcdef' } });
    assert.equal(source, null);
    assert.deepEqual(Object.keys(config.providers).sort(), ['google', 'openai']);
    assert.equal(config.providers.google?.type, 'gemini');
    assert.equal(config.master_key, 'sk-master-abcdef');
  });

  test('SMARTFLOW_METRICS_TOKEN sets the metrics token the file does not set; auth "token" without one is refused', () => {
    const fromEnv = loadConfig({ path: file(`metrics: { auth: token }\n`), env: { SMARTFLOW_METRICS_TOKEN: 'metrics-token-from-env-0123' } });
    assert.deepEqual(fromEnv.config.metrics, { auth: 'token', token: 'metrics-token-from-env-0123' });
    const fromFile = loadConfig({ path: file(`metrics: { token: metrics-token-from-file-0123 }\n`), env: { SMARTFLOW_METRICS_TOKEN: 'metrics-token-from-env-0123' } });
    assert.equal(fromFile.config.metrics.token, 'metrics-token-from-file-0123');
    assert.match(loadError(file(`metrics: { auth: token }\n`)), /metrics\.token: auth "token" needs metrics\.token/);
  });

  test('REDIS_URL selects the Redis store when the file does not choose one', () => {
    const { config } = loadConfig({ path: file(`providers: {}\n`), env: { REDIS_URL: 'redis://127.0.0.1:6379' } });
    assert.deepEqual(config.store, { type: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'sf:', spend_log_max_rows: 1_000_000 });
  });

  test('SMARTFLOW_CONFIG names the file', () => {
    const path = file(`server: { port: 4111 }\n`);
    assert.equal(loadConfig({ env: { SMARTFLOW_CONFIG: path } }).config.server.port, 4111);
  });
});
