/**
 * The control channel between bench/run.ts and its child processes (the fake upstream, the
 * bare pass-through and the gateway), over Node's IPC channel. Children answer `stats` with
 * their own CPU time at microsecond precision, which /proc/<pid>/stat (clock ticks of 10 ms)
 * cannot give.
 */

export interface ChildStats {
  /** process.cpuUsage(): all threads of the process, microseconds. */
  userUs: number;
  systemUs: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** process.hrtime in µs (CLOCK_MONOTONIC, the clock V8 stamps .cpuprofile samples with). */
  monotonicUs: number;
}

export type ChildMessage =
  | { type: 'ready'; url: string; pid: number }
  | { type: 'stats'; id: number; stats: ChildStats };

export type ParentMessage = { type: 'stats'; id: number } | { type: 'shutdown' };

export function isParentMessage(m: unknown): m is ParentMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type !== undefined;
}

export function isChildMessage(m: unknown): m is ChildMessage {
  return typeof m === 'object' && m !== null && ((m as { type?: unknown }).type === 'ready' || (m as { type?: unknown }).type === 'stats');
}

function currentStats(): ChildStats {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return { userUs: cpu.user, systemUs: cpu.system, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, monotonicUs: Number(process.hrtime.bigint() / 1000n) };
}

/**
 * Child side: reports readiness and answers the parent's commands. Without an IPC channel
 * (started by hand) it prints the ready message as one JSON line on stdout and stops on
 * SIGINT/SIGTERM instead. A child whose parent went away stops too.
 */
export function serveControl(ready: { url: string }, shutdown: () => Promise<void>): void {
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(code), 5000);
    force.unref();
    shutdown()
      .catch((err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        code = 1;
      })
      .finally(() => {
        process.disconnect?.();
        process.exit(code);
      });
  };
  process.once('SIGTERM', () => stop(0));
  process.once('SIGINT', () => stop(0));

  const hello: ChildMessage = { type: 'ready', url: ready.url, pid: process.pid };
  if (!process.send) {
    process.stdout.write(`${JSON.stringify(hello)}\n`);
    return;
  }
  process.on('message', (m: unknown) => {
    if (!isParentMessage(m)) return;
    if (m.type === 'shutdown') return stop(0);
    if (m.type === 'stats') {
      const answer: ChildMessage = { type: 'stats', id: m.id, stats: currentStats() };
      process.send?.(answer);
    }
  });
  process.once('disconnect', () => stop(0));
  process.send(hello);
}

/** The master key the benchmark gateway accepts. */
export const BENCH_MASTER_KEY = 'sk-bench-master-0123456789';

/** Environment variable carrying the fake upstream's base URL to bench/passthrough-process.ts. */
export const PASSTHROUGH_UPSTREAM_ENV = 'SMARTFLOW_BENCH_PASSTHROUGH_UPSTREAM';

/** Environment variable carrying {@link GatewayProcessOptions} as JSON to bench/gateway-process.ts. */
export const GATEWAY_OPTIONS_ENV = 'SMARTFLOW_BENCH_GATEWAY';

export interface GatewayProcessOptions {
  /** Fake upstream base URL, without /v1. */
  upstreamUrl: string;
  /** Directory for the SQLite file; created and removed by the parent. */
  dataDir: string;
  level: 'warn' | 'info';
  accessLog: boolean;
  /** A Redis store instead of SQLite in dataDir; the parent deletes the prefix's keys afterwards. */
  redis?: { url: string; prefix: string };
  /** A PostgreSQL store (schema dropped by the parent afterwards), with Redis in front when `redis` is set. */
  postgres?: { url: string; schema: string; redis?: { url: string; prefix: string } };
  /** The config's `cache` section (bench/cache.ts); absent: the default, caching off. */
  cache?: Record<string, unknown>;
  /** More model names served by the fake upstream's gpt-4o-mini, like the bench model (bench/cache.ts: one with caching off). */
  extraModels?: string[];
  /** The config's `mcp_servers` (bench/mcp.ts). */
  mcpServers?: Array<Record<string, unknown>>;
}
