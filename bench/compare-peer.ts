import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServer, type ServerProcess } from './server-process.js';

/**
 * The peer gateway of `npm run bench:compare`: Portkey's open-source gateway, the npm package
 * `@portkey-ai/gateway` at a pinned version, installed into a cache folder (never into this
 * project's node_modules or package.json) and started as its own process from the package's
 * node build (`build/start-server.js --port=N --headless`). It routes to any OpenAI-compatible
 * host named per request: `x-portkey-provider: openai` and `x-portkey-custom-host: <base URL
 * with /v1>` (it appends `/chat/completions`; without `/v1` the fake upstream answers 404).
 */

export const PEER_PACKAGE = '@portkey-ai/gateway';
export const PEER_VERSION = '1.15.2';
export const PEER_DESCRIPTION = `Portkey gateway ${PEER_VERSION} (npm \`${PEER_PACKAGE}\`)`;

/** `SMARTFLOW_BENCH_CACHE` moves the cache (default `~/.cache/smartflow-bench`). */
export function peerCacheDir(): string {
  return join(process.env.SMARTFLOW_BENCH_CACHE ?? join(homedir(), '.cache', 'smartflow-bench'), 'portkey');
}

export interface PeerInstall {
  dir: string;
  entry: string;
  /** Versions of what was installed, from the cache's node_modules (the peer's own dependencies float within its ranges; the lock file in the cache keeps them for later runs). */
  versions: Record<string, string>;
  reused: boolean;
}

function installedVersion(dir: string, pkg: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * Installs the pinned peer into the cache folder unless that version is already there. A
 * manifest and lock file in the folder make later runs reuse the same dependency versions.
 * Returns why not when it cannot (offline, npm missing): the comparison then runs without it.
 */
export function ensurePeer(log: (line: string) => void): PeerInstall | { problem: string } {
  const dir = peerCacheDir();
  const entry = join(dir, 'node_modules', PEER_PACKAGE, 'build', 'start-server.js');
  const versionsOf = () => Object.fromEntries(([PEER_PACKAGE, 'hono', '@hono/node-server'] as const).map((p) => [p, installedVersion(dir, p) ?? 'unknown']));
  if (existsSync(entry) && installedVersion(dir, PEER_PACKAGE) === PEER_VERSION) return { dir, entry, versions: versionsOf(), reused: true };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ private: true, description: 'npm run bench:compare: the peer gateway, installed here rather than in the project', dependencies: { [PEER_PACKAGE]: PEER_VERSION } }, null, 2)}\n`);
  log(`installing ${PEER_PACKAGE}@${PEER_VERSION} into ${dir} (npm install --prefix)`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'], { encoding: 'utf8', timeout: 300_000 });
  if (r.error) return { problem: `npm could not run: ${r.error.message}` };
  if (r.status !== 0) return { problem: `npm install failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}` };
  if (!existsSync(entry)) return { problem: `npm install finished but ${entry} is missing` };
  return { dir, entry, versions: versionsOf(), reused: false };
}

/**
 * Starts the peer pinned to `cpu` and waits until `GET /` answers. `--headless` leaves out the
 * log-viewer UI, as a server deployment would; its per-request log middleware stays, as shipped.
 * It listens on every interface (it has no host option) while the run lasts.
 */
export async function startPeer(install: PeerInstall, cpu: number | null): Promise<ServerProcess> {
  const port = await freePort();
  return startServer({
    name: 'peer',
    nodeArgs: [install.entry, `--port=${port}`, '--headless'],
    cwd: install.dir,
    port,
    cpu,
    readyPath: '/',
    ready: (status, body) => status === 200 && body.includes('AI Gateway'),
  });
}

/** The headers that route a request through the peer to the fake upstream, which wants `/v1` in the host. */
export function peerHeaders(upstreamUrl: string, upstreamKey: string): Record<string, string> {
  return {
    authorization: `Bearer ${upstreamKey}`,
    'content-type': 'application/json',
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': `${upstreamUrl}/v1`,
  };
}
