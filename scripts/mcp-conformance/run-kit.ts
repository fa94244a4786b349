import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const KIT = resolve('node_modules/@modelcontextprotocol/conformance/dist/index.js');

/** The scenarios that any MCP server must pass whatever tools it offers; the gateway's /mcp must pass them all. */
export const REQUIRED_SCENARIOS = ['server-initialize', 'ping', 'tools-list', 'server-sse-multiple-streams', 'server-sse-polling', 'dns-rebinding-protection'] as const;

export interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
}

export interface ScenarioResult {
  scenario: string;
  passed: number;
  failed: number;
  warnings: number;
  /** The ids of the informational checks (what the kit found not applicable, say). */
  info: string[];
  /** No failed check (and the kit ran). */
  ok: boolean;
  /** The first failure or warning, for the table. */
  note: string;
}

/** Every server scenario the installed kit knows (its `list` output), pending ones included. */
export async function listServerScenarios(node: string): Promise<string[]> {
  const { stdout } = await run(node, [KIT, 'list'], { timeout: 30_000 });
  const section = stdout.split(/Client scenarios/)[0] ?? '';
  return [...section.matchAll(/^\s+- ([a-z0-9-]+)/gm)].map((m) => m[1]!);
}

/** Runs one scenario of the kit in server mode against `url` and reads back its checks. */
export async function runScenario(node: string, url: string, scenario: string): Promise<ScenarioResult> {
  const out = await mkdtemp(join(tmpdir(), 'sf-mcp-conformance-'));
  try {
    // The kit exits non-zero when a check fails; its checks.json says which.
    await run(node, [KIT, 'server', '--url', url, '--scenario', scenario, '-o', out], { timeout: 120_000 }).catch(() => undefined);
    const [dir] = await readdir(out);
    if (!dir) return { scenario, passed: 0, failed: 1, warnings: 0, info: [], ok: false, note: 'the kit wrote no results' };
    const checks = JSON.parse(await readFile(join(out, dir, 'checks.json'), 'utf8')) as Check[];
    const failed = checks.filter((c) => c.status === 'FAILURE');
    const warned = checks.filter((c) => c.status === 'WARNING');
    const noteOf = (c: Check | undefined) => (c ? `${c.id}: ${c.errorMessage ?? c.status}` : '');
    return {
      scenario,
      passed: checks.filter((c) => c.status === 'SUCCESS').length,
      failed: failed.length,
      warnings: warned.length,
      info: checks.filter((c) => c.status === 'INFO').map((c) => c.id),
      ok: failed.length === 0,
      note: noteOf(failed[0] ?? warned[0]),
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
