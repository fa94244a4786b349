import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { isChildMessage, type ChildStats, type ParentMessage } from './protocol.js';
import { processMemory } from './proc-stats.js';

/** Every child spawned and not yet exited, ready or not: what cleanup must kill. */
const live = new Set<ChildProcess>();

function hasExited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** Kills every child still running and waits (up to `timeoutMs`) until they are gone, so nothing writes into removed temp dirs. */
export async function killAllChildren(timeoutMs = 3000): Promise<void> {
  const waits = [...live].map(
    (proc) =>
      new Promise<void>((resolve) => {
        if (hasExited(proc)) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
  );
  await Promise.race([Promise.all(waits), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
}

/** Last resort for process 'exit' handlers, where nothing can be awaited. */
export function killAllChildrenSync(): void {
  for (const proc of live) if (!hasExited(proc)) proc.kill('SIGKILL');
}

/** True when util-linux `taskset` is installed and allowed to set affinity here. */
export function tasksetAvailable(): boolean {
  const r = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Pins every thread of this process to `cpu` (the load generator shares a core with the upstream). */
export function pinSelf(cpu: number): boolean {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
  return r.status === 0;
}

export interface ChildSpec {
  name: string;
  /** Script path, run with `node --import tsx`. */
  script: string;
  /** Core to pin to with taskset, or null to leave unpinned. */
  cpu: number | null;
  env?: Record<string, string>;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** A command that runs node (e.g. valgrind and its options: bench/hotpath.ts --instructions). */
  wrapper?: string[];
  readyTimeoutMs?: number;
  /** Working directory (where `tsx` resolves from). */
  cwd: string;
}

/** A benchmark child process (fake upstream or gateway) with its control channel. */
export class BenchChild {
  readonly url: string;
  readonly pid: number;
  private nextId = 1;
  private readonly pending = new Map<number, (s: ChildStats) => void>();
  private exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
    ready: { url: string; pid: number },
    private readonly stderrTail: () => string,
  ) {
    this.url = ready.url;
    this.pid = ready.pid;
    proc.on('message', (m: unknown) => {
      if (isChildMessage(m) && m.type === 'stats') {
        this.pending.get(m.id)?.(m.stats);
        this.pending.delete(m.id);
      }
    });
    this.exited = hasExited(proc) ? Promise.resolve() : new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  static async start(spec: ChildSpec): Promise<BenchChild> {
    const nodeArgs = [...(spec.nodeArgs ?? []), '--import', 'tsx', spec.script];
    const command = [...(spec.wrapper ?? []), process.execPath, ...nodeArgs];
    const [cmd, args] = spec.cpu === null ? [command[0]!, command.slice(1)] : ['taskset', ['-c', String(spec.cpu), ...command]];
    // stdout (where the gateway's pino logs go) to /dev/null; stderr kept for error reports.
    const devNull = openSync('/dev/null', 'w');
    let proc: ChildProcess;
    try {
      proc = spawn(cmd, args, { cwd: spec.cwd, stdio: ['ignore', devNull, 'pipe', 'ipc'], env: { ...process.env, ...spec.env } });
    } finally {
      closeSync(devNull);
    }
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    let stderr = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (c: string) => {
      stderr = (stderr + c).slice(-4000);
    });
    const tail = () => stderr.trim();
    const ready = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`${spec.name} did not report ready within ${spec.readyTimeoutMs ?? 30_000} ms\n${tail()}`));
      }, spec.readyTimeoutMs ?? 30_000);
      const onExit = (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        reject(new Error(`${spec.name} exited before it was ready (code ${code}, signal ${signal})\n${tail()}`));
      };
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      proc.once('exit', onExit);
      proc.on('message', (m: unknown) => {
        if (isChildMessage(m) && m.type === 'ready') {
          clearTimeout(timer);
          proc.off('exit', onExit);
          resolve({ url: m.url, pid: m.pid });
        }
      });
    });
    return new BenchChild(spec.name, proc, ready, tail);
  }

  /** The child's own CPU time and memory, as it reports them. */
  stats(timeoutMs = 5000): Promise<ChildStats> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name} did not answer a stats request\n${this.stderrTail()}`));
      }, timeoutMs);
      this.pending.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      const msg: ParentMessage = { type: 'stats', id };
      this.proc.send(msg);
    });
  }

  /** Resident set size and its high-water mark from /proc (bytes), or null once the process is gone. */
  memory(): { rssBytes: number; hwmBytes: number } | null {
    return processMemory(this.pid);
  }

  /** Asks the child to close cleanly (so --cpu-prof profiles get written); kills it after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (hasExited(this.proc)) return;
    try {
      const msg: ParentMessage = { type: 'shutdown' };
      if (this.proc.connected) this.proc.send(msg);
      else this.proc.kill('SIGTERM');
    } catch {
      this.proc.kill('SIGTERM');
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
