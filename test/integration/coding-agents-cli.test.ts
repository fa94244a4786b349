import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { createKey } from '../helpers/vkeys.js';

/**
 * The two most used coding agents, run for real (the npm packages' own binaries, installed as dev
 * dependencies) against the gateway on 127.0.0.1, with fake upstreams behind it: no login, no
 * network. Each CLI must print the fake upstream's answer, and the upstream must have received
 * the CLI's request with the fields these versions send (Claude Code 2.1: `role: "system"`
 * messages, `context_management`, `output_config`; Codex 0.171: namespace tools, a web_search
 * tool with `external_web_access: false`, `include`, `prompt_cache_key`, `client_metadata`).
 */

const BIN = join(import.meta.dirname, '..', '..', 'node_modules', '.bin');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CLI with only the environment given (plus PATH), stdin closed, killed after `timeoutMs`. */
function run(bin: string, args: string[], env: Record<string, string>, cwd: string, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(join(BIN, bin), args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, cwd, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

describe('real coding agents through the gateway', () => {
  let anthropicFake: FakeUpstream;
  let openaiFake: FakeUpstream;
  let gw: TestGateway;
  let home: string;
  let key: string;

  before(async () => {
    [anthropicFake, openaiFake] = await Promise.all([startFakeAnthropic(), startFakeOpenAI()]);
    gw = await startTestGateway({
      providers: fakeProviders({ openai: openaiFake.url, anthropic: anthropicFake.url }),
      models: [
        { name: 'gpt-5-codex', provider: 'openai', model: 'gpt-5-codex' },
        { name: 'claude-sonnet-4-5', provider: 'anthropic', model: 'claude-sonnet-4-5' },
        // Claude Code 2.1's default model, which is the one it sends role: "system" messages to; priced here so a budgeted key may use it.
        { name: 'claude-opus-5-5', provider: 'anthropic', model: 'claude-opus-5-5', input_cost_per_mtok: 5, output_cost_per_mtok: 25 },
      ],
      logging: { level: 'warn' },
    });
    // A budgeted virtual key, as a team would hand out: the agents must work with it.
    key = (await createKey(gw.url, { max_budget: 5 })).key;
    home = await mkdtemp(join(tmpdir(), 'sf-agents-'));
  });

  after(async () => {
    await gw.close();
    await Promise.all([anthropicFake.close(), openaiFake.close()]);
    await rm(home, { recursive: true, force: true });
  });

  function claudeEnv(): Record<string, string> {
    return {
      HOME: home,
      CLAUDE_CONFIG_DIR: join(home, '.claude'),
      ANTHROPIC_BASE_URL: `${gw.url}/anthropic`,
      ANTHROPIC_API_KEY: key,
      // No telemetry, error reports, update checks or other calls that would leave the machine.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_MAX_RETRIES: '0',
    };
  }

  test('Claude Code (claude -p) answers through /anthropic; the upstream gets its request as sent', async () => {
    anthropicFake.reset();
    anthropicFake.steer = { noToolCall: true };
    const res = await run('claude', ['-p', 'say hi through the gateway', '--model', 'claude-opus-5-5'], claudeEnv(), home);
    assert.equal(res.code, 0, `claude failed: ${res.stderr}${res.stdout}`);
    assert.match(res.stdout, /^Echo: [\s\S]*say hi through the gateway/);

    const up = anthropicFake.requests.find((r) => r.url.startsWith('/v1/messages'));
    assert.ok(up, 'the upstream got the messages request');
    assert.equal(up.headers['x-api-key'], 'sk-ant-upstream-secret', 'the provider key replaced the gateway key');
    const body = up.body;
    assert.equal(body.model, 'claude-opus-5-5');
    assert.ok(body.messages.some((m: { role: string }) => m.role === 'system'), 'a role: "system" message passed');
    assert.ok(body.context_management, 'context_management passed');
    assert.ok(body.output_config, 'output_config passed');
    assert.ok(String(up.headers['anthropic-beta']).includes('claude-code-'), 'the beta flags passed');
  });

  test('Claude Code runs a tool the model called and sends its result back through the gateway', async () => {
    anthropicFake.reset();
    const res = await run('claude', ['-p', 'use a tool', '--model', 'claude-sonnet-4-5'], claudeEnv(), home);
    assert.equal(res.code, 0, `claude failed: ${res.stderr}${res.stdout}`);
    // The fake calls Claude Code's first tool with arguments it rejects; Claude Code answers with
    // the error as the tool result, and the fake repeats what the tool said.
    assert.match(res.stdout, /^Tool said: /);
    const turns = anthropicFake.requests.filter((r) => r.url.startsWith('/v1/messages')).map((r) => r.body);
    assert.equal(turns.length, 2);
    const last = turns[1].messages.at(-1);
    assert.ok(last.content.some((b: { type: string }) => b.type === 'tool_result'), 'the tool result reached the upstream');
  });

  async function codexHome(model: string): Promise<string> {
    const dir = await mkdtemp(join(home, 'codex-'));
    await writeFile(
      join(dir, 'config.toml'),
      [
        `model = "${model}"`,
        'model_provider = "smartflow"',
        '',
        '[model_providers.smartflow]',
        'name = "Smartflow"',
        `base_url = "${gw.url}/v1"`,
        'env_key = "SMARTFLOW_API_KEY"',
        'wire_api = "responses"',
        'request_max_retries = 0',
        'stream_max_retries = 0',
        '',
      ].join('\n'),
    );
    return dir;
  }

  function codex(codexHomeDir: string, prompt: string): Promise<Run> {
    return run('codex', ['exec', '--skip-git-repo-check', prompt], { HOME: home, CODEX_HOME: codexHomeDir, SMARTFLOW_API_KEY: key }, home);
  }

  test('Codex CLI (codex exec) answers through /v1/responses natively; the upstream gets namespace and web_search tools, include, prompt_cache_key, client_metadata', async () => {
    openaiFake.reset();
    openaiFake.steer = { noToolCall: true };
    const res = await codex(await codexHome('gpt-5-codex'), 'say hi natively');
    assert.equal(res.code, 0, `codex failed: ${res.stderr}${res.stdout}`);
    assert.match(res.stdout, /Echo: say hi natively/);

    const up = openaiFake.requests.find((r) => r.url === '/v1/responses');
    assert.ok(up, 'the upstream got the responses request');
    assert.equal(up.headers.authorization, 'Bearer sk-upstream-openai-secret');
    const body = up.body;
    assert.ok(body.tools.some((t: { type: string }) => t.type === 'namespace'), 'a namespace tool passed');
    assert.ok(body.tools.some((t: { type: string; external_web_access?: boolean }) => t.type === 'web_search' && t.external_web_access === false), 'the web_search tool passed');
    assert.deepEqual(body.include, ['reasoning.encrypted_content']);
    assert.equal(typeof body.prompt_cache_key, 'string');
    assert.equal(typeof body.client_metadata, 'object');
  });

  test('Codex CLI with a Claude model: the translated answer reaches it, a tool call runs and its result goes back', async () => {
    anthropicFake.reset();
    const res = await codex(await codexHome('claude-sonnet-4-5'), 'list the files');
    assert.equal(res.code, 0, `codex failed: ${res.stderr}${res.stdout}`);
    // The fake calls Codex's first tool; Codex runs it (or reports why it could not) and sends the
    // output back; the fake then answers with what the tool said.
    assert.match(res.stdout, /Tool said: /);
    assert.equal(anthropicFake.requests.length, 2, 'the call and its result: two turns');
    const [first, second] = anthropicFake.requests.map((r) => r.body);
    const names = first.tools.map((t: { name: string }) => t.name);
    assert.ok(names.some((n: string) => n.startsWith('multi_agent_v1__')), `namespace functions offered as functions: ${names.join(', ')}`);
    assert.ok(!first.tools.some((t: { type?: string }) => t.type === 'web_search_20250305'), 'a search limited to cached results is not turned into live search');
    const use = second.messages.flatMap((m: { content: unknown }) => (Array.isArray(m.content) ? m.content : [])).find((b: { type: string }) => b.type === 'tool_result');
    assert.ok(use, 'the tool result went back as a tool_result');
  });
});
