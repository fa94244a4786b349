/** Lifecycle messages between the cluster primary and its workers (the store's pub/sub has its own: storage/sqlite/cluster-relay.ts). */
export type WorkerMessage = { sf: 'ready'; url: string };
export type PrimaryMessage = { sf: 'shutdown' };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return typeof value === 'object' && value !== null && (value as { sf?: unknown }).sf === 'ready' && typeof (value as { url?: unknown }).url === 'string';
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return typeof value === 'object' && value !== null && (value as { sf?: unknown }).sf === 'shutdown';
}
