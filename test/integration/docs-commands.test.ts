import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startDemoWorld } from '../../src/demo/world.js';
import { createLogger } from '../../src/log/logger.js';
import { createGateway } from '../../src/main.js';
import { docPages, gatewayBlocks, splitCommands, type DocCommand } from '../helpers/doc-commands.js';
import { LogCollector } from '../helpers/build-app.js';
import { runShellSession, type CommandResult } from '../helpers/shell-session.js';

/**
 * Every shell command in README.md and docs/*.md runs against a demo gateway and must answer as
 * the page says (the marker convention is in test/helpers/doc-commands.ts and
 * docs/development.md). A failure names the page, line and command, so a doc change that no
 * longer matches the gateway is found where it was made.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const MASTER_KEY = 'sk-docs-test-master-key';
const pages = docPages(ROOT);

/** What is wrong with one command's run, or undefined when it answered as documented. */
function problem(c: DocCommand, r: CommandResult): string | undefined {
  if (r.exitCode !== 0) return `exit code ${r.exitCode}`;
  if (/(^|[\s$(|&;])curl\s/m.test(c.text) && r.statuses.length === 0) return 'no HTTP answer';
  if (c.expect) {
    const odd = r.statuses.filter((s) => !c.expect!.includes(s));
    if (odd.length) return `answered ${r.statuses.join(', ')}, documented # -> ${c.expect.join(', ')}`;
    const missing = c.expect.filter((s) => !r.statuses.includes(s));
    if (missing.length) return `never answered ${missing.join(', ')} (answered ${r.statuses.join(', ')})`;
    return undefined;
  }
  const bad = r.statuses.filter((s) => s < 200 || s > 299);
  return bad.length ? `answered ${r.statuses.join(', ')}; mark an expected error status with a trailing # -> ${bad[0]}` : undefined;
}

describe('the commands in README.md and docs/*.md work against the demo', () => {
  test('jq and curl are installed (docs use them)', () => {
    execFileSync('sh', ['-c', 'command -v jq && command -v curl']);
  });

  test('the pages have commands to run', () => {
    assert.ok(pages.some((p) => p.file === 'README.md'));
    assert.ok(pages.reduce((n, p) => n + p.commands.length, 0) >= 20);
  });

  test('commands the demo cannot run are marked with what they need, and listed', (t) => {
    const marked = pages.flatMap((p) => p.commands.filter((c) => c.needs !== undefined));
    for (const c of marked) t.diagnostic(`not run: ${c.where} needs ${c.needs}: ${c.text.split('\n')[0]}`);
    assert.ok(marked.every((c) => c.needs!.length > 3));
  });

  for (const page of pages) {
    test(page.file, async () => {
      const world = await startDemoWorld({ host: '127.0.0.1', port: 0, masterKey: MASTER_KEY, chunkDelayMs: 0 });
      const gateway = await createGateway({ config: world.config, logger: createLogger({ level: 'warn', destination: new LogCollector() }), defaultMetrics: false });
      try {
        const url = await gateway.listen('127.0.0.1', 0);
        const runnable = page.commands.filter((c) => c.needs === undefined);
        const texts = runnable.map((c) => c.text.replaceAll('http://127.0.0.1:4000', url));
        const results = await runShellSession(texts, { env: { SMARTFLOW_MASTER_KEY: MASTER_KEY, HOME: mkdtempSync(join(tmpdir(), 'sf-docs-home-')) }, cwd: mkdtempSync(join(tmpdir(), 'sf-docs-')) });
        const failures = runnable.flatMap((c, i) => {
          const why = problem(c, results[i]!);
          return why ? [`${c.where}: ${why}\n    ${c.text.replace(/\n/g, '\n    ')}\n    output: ${(results[i]!.stdout + results[i]!.stderr).slice(0, 400).replace(/\n/g, '\n    ')}`] : [];
        });
        assert.equal(failures.length, 0, `${failures.length} command(s) in ${page.file} do not answer as documented:\n\n${failures.join('\n\n')}`);
      } finally {
        await gateway.close();
        await world.close();
      }
    });
  }
});

describe('the docs marker convention', () => {
  const block = [
    '# a comment line, with an apostrophe: it\'s skipped',
    'export A=1 B="two words"',
    'curl -s http://127.0.0.1:4000/x \\',
    "  -d '{\"a\": 1,",
    "       \"b\": 2}'   # -> 200, 429",
    'KEY=$(curl -s http://127.0.0.1:4000/y |',
    "  awk '{print $1}')",
    'claude -p hi   # needs: the Claude Code CLI and a login',
    'echo "# not a comment" # -> 404',
  ].join('\n');
  const commands = splitCommands(block, 'docs/x.md', 10);

  test('commands span continuation lines, open quotes and $( ), and comment lines are dropped', () => {
    assert.deepEqual(commands.map((c) => c.where), ['docs/x.md:11', 'docs/x.md:12', 'docs/x.md:15', 'docs/x.md:17', 'docs/x.md:18']);
    assert.equal(commands[1]!.text.split('\n').length, 3);
  });

  test('a trailing # -> lists the expected statuses; # needs: says why a command is not run', () => {
    assert.deepEqual(commands.map((c) => c.expect), [undefined, [200, 429], undefined, undefined, [404]]);
    assert.deepEqual(commands.map((c) => c.needs), [undefined, undefined, undefined, 'the Claude Code CLI and a login', undefined]);
  });

  test('only bash blocks with a curl command are taken', () => {
    const md = ['```bash', 'npm start', '```', '```bash', 'curl -s $SF/v1/models', '```', '```json', '{"curl ": 1}', '```'].join('\n');
    assert.deepEqual(gatewayBlocks(md), [{ body: 'curl -s $SF/v1/models', line: 5 }]);
  });
});
