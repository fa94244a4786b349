import cluster from 'node:cluster';

/**
 * Carries the SQLite store's pub/sub between the workers of `smartflow serve --workers N`, through
 * the cluster primary's IPC channel (src/cluster/bus-hub.ts is the primary's half).
 *
 * Why IPC and not a messages table polled by every worker: a revocation must be refused by every
 * worker as soon as the admin call returns. IPC delivers in well under a millisecond, costs
 * nothing while idle, and lets the publisher wait until every other worker has run its handlers
 * (the primary collects their acknowledgements), so `await store.publish()` means "delivered
 * everywhere". A polled table would trade that for a poll interval of latency and a query per
 * worker per interval. What IPC does not reach: separate processes that open the same file
 * without being workers of one primary; they converge through the caches' own TTLs, as before.
 */
export interface BusRelay {
  /** Sends to every other worker; resolves when they have all handled it (or after a timeout). */
  send(busKey: string, channel: string, message: string): Promise<void>;
  /** Called for each message another worker published. */
  onMessage(deliver: (busKey: string, channel: string, message: string) => void): void;
}

/** Messages between a worker's relay and the primary's hub. */
export type BusWire =
  | { sf: 'bus-join'; id: 0 }
  | { sf: 'bus'; id: number; key: string; channel: string; message: string }
  | { sf: 'bus-ack'; id: number }
  | { sf: 'bus-done'; id: number };

/** A publish waits at most this long for the other workers (a stuck or dying worker must not hang an admin call). */
const DELIVERY_TIMEOUT_MS = 2_000;

function isBusWire(value: unknown): value is BusWire {
  return typeof value === 'object' && value !== null && typeof (value as { sf?: unknown }).sf === 'string' && typeof (value as { id?: unknown }).id === 'number';
}

let relay: BusRelay | null | undefined;

/** The relay of this process: null outside a cluster worker (one process: the local bus is enough). */
export function clusterRelay(): BusRelay | null {
  if (relay !== undefined) return relay;
  if (!cluster.isWorker || typeof process.send !== 'function') return (relay = null);
  let nextId = 1;
  const waiting = new Map<number, () => void>();
  const delivers: Array<(busKey: string, channel: string, message: string) => void> = [];
  process.on('message', (raw: unknown) => {
    if (!isBusWire(raw)) return;
    if (raw.sf === 'bus-done') {
      waiting.get(raw.id)?.();
      return;
    }
    if (raw.sf !== 'bus') return;
    // Handlers run synchronously before the acknowledgement, so "done" means "handled".
    for (const deliver of delivers) deliver(raw.key, raw.channel, raw.message);
    if (process.connected) process.send?.({ sf: 'bus-ack', id: raw.id } satisfies BusWire);
  });
  // From now on this worker hears and acknowledges messages: the primary may wait for it.
  process.send({ sf: 'bus-join', id: 0 } satisfies BusWire);
  relay = {
    send(key, channel, message) {
      if (!process.connected) return Promise.resolve();
      const id = nextId++;
      return new Promise<void>((resolve) => {
        const finish = (): void => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve();
        };
        const timer = setTimeout(finish, DELIVERY_TIMEOUT_MS);
        timer.unref();
        waiting.set(id, finish);
        process.send?.({ sf: 'bus', id, key, channel, message } satisfies BusWire, undefined, undefined, (err: Error | null) => {
          if (err) finish();
        });
      });
    },
    onMessage(deliver) {
      delivers.push(deliver);
    },
  };
  return relay;
}
