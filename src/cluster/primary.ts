import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import { BusHub } from './bus-hub.js';
import { isWorkerMessage, type PrimaryMessage } from './messages.js';
import { CLUSTER_DIR_ENV } from './worker-identity.js';

export interface PrimaryOptions {
  workers: number;
  log: Logger;
  /** Called once, when every first-generation worker listens, with the URL they share. */
  onListening(url: string, pids: number[]): void;
}

/** A worker that lived this long before dying counts as healthy: the next restart is immediate again. */
const HEALTHY_AFTER_MS = 10_000;
const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 10_000;

/**
 * The cluster primary of `smartflow serve --workers N`. It serves no requests: it starts the
 * workers (which share the listening socket through node:cluster), relays the SQLite store's
 * pub/sub between them (bus-hub.ts), gathers their metrics for a scrape, restarts a worker that dies (with backoff), passes
 * SIGTERM/SIGINT on as a drain, and resolves with the exit code once every worker is gone.
 * A worker that fails before the first generation is up (bad port, store unreachable) stops
 * the whole start: restarting it would only fail again.
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { log } = options;
  const dir = mkdtempSync(join(tmpdir(), 'smartflow-'));
  const hub = new BusHub();
  // Gathers every worker's registry for a /metrics scrape that landed on any one of them (metrics-relay.ts).
  const metrics = new AggregatorRegistry();
  const startedAt = new Map<number, number>();
  const ready = new Set<number>();
  let started = false;
  let stopping = false;
  let failed = false;
  let quickDeaths = 0;
  let pendingRestarts = 0;

  return new Promise<number>((resolve) => {
    const send = (worker: Worker, msg: PrimaryMessage): void => {
      if (worker.isConnected()) worker.send(msg);
    };
    const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

    const fork = (): void => {
      const worker = cluster.fork({ [CLUSTER_DIR_ENV]: dir });
      startedAt.set(worker.id, Date.now());
      hub.add(worker);
      worker.on('message', (raw: unknown) => {
        if (!isWorkerMessage(raw)) return;
        if (raw.sf === 'metrics') {
          metrics.clusterMetrics().then(
            (text) => send(worker, { sf: 'metrics-text', id: raw.id, text }),
            (err: unknown) => send(worker, { sf: 'metrics-text', id: raw.id, error: String(err) }),
          );
          return;
        }
        ready.add(worker.id);
        // A shutdown sent while it was starting found no listener yet.
        if (stopping) return send(worker, { sf: 'shutdown' });
        if (started) {
          log.info({ worker: worker.id, pid: worker.process.pid }, 'worker restarted and listening');
          return;
        }
        if (ready.size === options.workers) {
          started = true;
          options.onListening(raw.url, live().map((w) => w.process.pid ?? 0));
        }
      });
    };

    const stop = (): void => {
      stopping = true;
      for (const worker of live()) send(worker, { sf: 'shutdown' });
    };

    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`\n${signal} again: exiting without waiting.\n`);
        for (const worker of live()) worker.process.kill('SIGKILL');
        failed = true;
        return;
      }
      process.stderr.write(`\n${signal}: finishing in-flight requests, then closing.\n`);
      stop();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    cluster.on('exit', (worker, code, signal) => {
      hub.remove(worker);
      const lived = Date.now() - (startedAt.get(worker.id) ?? Date.now());
      startedAt.delete(worker.id);
      const wasReady = ready.delete(worker.id);
      if (stopping) {
        if (code !== 0) failed = true;
      } else if (!started && !wasReady) {
        // The first generation could not start (the worker said why on stderr): stop the others,
        // which have accepted nothing yet.
        failed = true;
        stopping = true;
        for (const other of live()) other.process.kill('SIGTERM');
      } else {
        quickDeaths = lived >= HEALTHY_AFTER_MS ? 0 : quickDeaths + 1;
        const delay = quickDeaths === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** (quickDeaths - 1));
        log.error({ worker: worker.id, pid: worker.process.pid, code, signal, restart_in_ms: delay }, 'worker died; starting a new one');
        pendingRestarts += 1;
        setTimeout(() => {
          pendingRestarts -= 1;
          if (!stopping) fork();
          else finishIfDone();
        }, delay);
      }
      finishIfDone();
    });

    const finishIfDone = (): void => {
      if (live().length > 0 || pendingRestarts > 0 || !stopping) return;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      rmSync(dir, { recursive: true, force: true });
      resolve(failed ? 1 : 0);
    };

    for (let i = 0; i < options.workers; i++) fork();
  });
}
