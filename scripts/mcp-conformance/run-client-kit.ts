import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const KIT = resolve('node_modules/@modelcontextprotocol/conformance/dist/index.js');
const WRAPPER = resolve('scripts/mcp-conformance/auth-client.ts');
const TSX = resolve('node_modules/tsx/dist/esm/index.mjs');

/**
 * The client-mode scenarios the gateway's upstream client and OAuth code pass (docs/mcp-auth.md
 * has the table, with the reasons for the others).
 */
export const CLIENT_SCENARIOS = [
  'initialize',
  'tools_call',
  'auth/metadata-default',
  'auth/metadata-var1',
  'auth/metadata-var2',
  'auth/metadata-var3',
  'auth/basic-cimd',
  'auth/scope-from-www-authenticate',
  'auth/scope-from-scopes-supported',
  'auth/scope-omitted-when-undefined',
  'auth/scope-retry-limit',
  'auth/scope-step-up',
  'auth/token-endpoint-auth-basic',
  'auth/token-endpoint-auth-post',
  'auth/token-endpoint-auth-none',
  'auth/pre-registration',
  'auth/2025-03-26-oauth-metadata-backcompat',
  'auth/2025-03-26-oauth-endpoint-fallback',
  'auth/resource-mismatch',
  'auth/offline-access-scope',
  'auth/offline-access-not-supported',
  'auth/client-credentials-basic',
  'auth/client-credentials-jwt',
] as const;

export interface ClientScenarioResult {
  scenario: string;
  passed: number;
  total: number;
  failed: number;
  warnings: number;
  output: string;
}

/**
 * Runs one client-mode scenario: the kit (on `node`, 22+) starts its server (and authorization
 * server) and runs the wrapper (on this process's Node, through tsx) against it.
 */
export async function runClientScenario(node: string, scenario: string): Promise<ClientScenarioResult> {
  const command = `${process.execPath} --import ${TSX} ${WRAPPER}`;
  const res = await run(node, [KIT, 'client', '--command', command, '--scenario', scenario], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
  // eslint-disable-next-line no-control-regex
  const output = `${res.stdout}\n${res.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  const m = /Passed: (\d+)\/(\d+), (\d+) failed, (\d+) warnings/.exec(output);
  if (!m) return { scenario, passed: 0, total: 0, failed: 1, warnings: 0, output };
  return { scenario, passed: Number(m[1]), total: Number(m[2]), failed: Number(m[3]), warnings: Number(m[4]), output };
}
