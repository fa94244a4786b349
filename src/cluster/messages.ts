/** Lifecycle messages between the cluster primary and its workers (the store's pub/sub has its own: storage/sqlite/cluster-relay.ts). */
export type WorkerMessage = { sf: 'ready'; url: string } | { sf: 'metrics'; id: number };
export type PrimaryMessage = { sf: 'shutdown' } | { sf: 'metrics-text'; id: number; text?: string; error?: string };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const msg = value as { sf?: unknown; url?: unknown; id?: unknown };
  return (msg.sf === 'ready' && typeof msg.url === 'string') || (msg.sf === 'metrics' && typeof msg.id === 'number');
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return typeof value === 'object' && value !== null && ((value as { sf?: unknown }).sf === 'shutdown' || (value as { sf?: unknown }).sf === 'metrics-text');
}
