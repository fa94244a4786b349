import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

/**
 * A server started as its users start it (a command line, no control channel), pinned with
 * taskset, its console output to /dev/null, ready once an HTTP GET answers. `npm run
 * bench:compare` starts the peer gateway and `smartflow serve` this way; their CPU time and
 * memory are read from /proc (bench/proc-stats.ts).
 */

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** For process 'exit' handlers, where nothing can be awaited. */
export function killServersSync(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

/** A free loopback port, for servers that take `--port=N` and cannot report one they picked. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ServerSpec {
  name: string;
  /** Arguments to node (script first). */
  nodeArgs: string[];
  cwd: string;
  port: number;
  /** Core to pin to, or null. taskset execs node, so the pid is node's own. */
  cpu: number | null;
  /** GET this path; ready when `ready(status, body)` says so. */
  readyPath: string;
  ready: (status: number, body: string) => boolean;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

export async function startServer(spec: ServerSpec): Promise<ServerProcess> {
  const [cmd, args] = spec.cpu === null ? [process.execPath, spec.nodeArgs] : ['taskset', ['-c', String(spec.cpu), process.execPath, ...spec.nodeArgs]];
  const devNull = openSync('/dev/null', 'w');
  let proc: ChildProcess;
  try {
    proc = spawn(cmd, args, { cwd: spec.cwd, stdio: ['ignore', devNull, 'pipe'], env: spec.env ?? process.env });
  } finally {
    closeSync(devNull);
  }
  live.add(proc);
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  void exited.then(() => live.delete(proc));
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (c: string) => {
    stderr = (stderr + c).slice(-2000);
  });
  const url = `http://127.0.0.1:${spec.port}`;
  const stop = async () => {
    if (gone()) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const timeoutMs = spec.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone()) throw new Error(`${spec.name} exited before it was ready (code ${proc.exitCode}, signal ${proc.signalCode})\n${stderr.trim()}`);
    try {
      const res = await request(`${url}${spec.readyPath}`);
      if (spec.ready(res.statusCode, await res.body.text())) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${spec.name} did not answer GET ${spec.readyPath} within ${timeoutMs} ms\n${stderr.trim()}`);
    }
    await sleep(100);
  }
  return { name: spec.name, url, pid: proc.pid!, stop };
}
