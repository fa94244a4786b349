import cluster from 'node:cluster';
import { join } from 'node:path';
import { clusterDirFromEnv } from '../config/load.js';

/** Env variable through which the primary tells its workers the cluster's private folder. */
export const CLUSTER_DIR_ENV = 'SMARTFLOW_CLUSTER_DIR';

export interface WorkerIdentity {
  /** cluster.worker.id: unique for the primary's lifetime (a restarted worker gets a new one). */
  id: number;
  /** The folder (mode 0700, made by the primary) holding every worker's internal socket. */
  dir: string;
}

/** This process's place in a `--workers N` cluster, or null in a single-process gateway. */
export function workerIdentity(): WorkerIdentity | null {
  const dir = clusterDirFromEnv();
  if (!cluster.isWorker || !cluster.worker || dir === undefined) return null;
  return { id: cluster.worker.id, dir };
}

/** The internal socket on which worker `id` takes requests that other workers forward to it. */
export function internalSocketPath(dir: string, id: number): string {
  return process.platform === 'win32' ? `\\\\.\\pipe\\${dir.replace(/[\\/:]/g, '-')}-w${id}` : join(dir, `w${id}.sock`);
}
