import { randomUUID } from 'node:crypto';
import { workerIdentity } from './worker-identity.js';

/**
 * MCP sessions live in the worker that opened them. Their ids carry that worker, so any worker
 * that receives a follow-up request can forward it to the owner (session-affinity.ts) without a
 * shared directory to keep in sync.
 */
const SESSION_ID = /^w(\d{1,9})\./;
/** Query parameter that the legacy SSE transport's message URL carries for the same purpose (its ids come from the SDK). */
export const WORKER_PARAM = 'sf_worker';

const self = workerIdentity();

/** A new MCP session id: a UUID, prefixed with `w{worker}.` in a cluster. */
export function newSessionId(): string {
  return self ? `w${self.id}.${randomUUID()}` : randomUUID();
}

/** The legacy SSE message path with this worker named in it (unchanged outside a cluster). */
export function withWorkerHint(messagePath: string): string {
  return self ? `${messagePath}?${WORKER_PARAM}=${self.id}` : messagePath;
}

/** The worker a session id names, if any. */
export function workerOfSessionId(id: string): number | undefined {
  const m = SESSION_ID.exec(id);
  return m ? Number(m[1]) : undefined;
}
