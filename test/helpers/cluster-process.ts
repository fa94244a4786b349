import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { MASTER_KEY } from './build-app.js';

const BIN = new URL('../../bin/smartflow.js', import.meta.url).pathname;

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** The worker pids the banner named. */
  pids: number[];
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Runs the built CLI (`bin/smartflow.js serve`) in `dir` with `config` as its smartflow.yaml; resolves once the banner is out. */
export async function startServe(dir: string, config: Record<string, unknown>, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  writeFileSync(join(dir, 'smartflow.yaml'), stringify(config));
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH, SMARTFLOW_MASTER_KEY: MASTER_KEY, ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const end = Date.now() + 60_000;
  let m: RegExpMatchArray | null = null;
  while (!(m = out.match(/listening on (http:\/\/\S+)[\s\S]*workers: +(.*)\n/))) {
    if (Date.now() > end || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`smartflow serve did not start:\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pids = [...(m[2] ?? '').matchAll(/\d+(?=[,)])/g)].map((p) => Number(p[0]));
  return {
    child,
    url: m[1]!,
    pids,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface FreshResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** One request on a new TCP connection (closed after), so node:cluster may hand it to any worker. */
export function onNewConnection(url: string, options: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<FreshResponse> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method ?? (body ? 'POST' : 'GET'),
        agent: false,
        headers: { connection: 'close', ...(body ? { 'content-type': 'application/json' } : {}), ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // A connection dealt to a worker that just died may never be answered.
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
    req.end(body);
  });
}

/** The worker that answers a liveness probe on a new connection. */
export async function workerPid(url: string): Promise<number> {
  const res = await onNewConnection(`${url}/health/liveness`);
  return res.json.worker.pid as number;
}
