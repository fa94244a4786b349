import { AggregatorRegistry, type Registry } from 'prom-client';
import type { WorkerMessage } from './messages.js';

/** How long a /metrics scrape waits for the primary to gather every worker's numbers. */
const GATHER_TIMEOUT_MS = 5_000;

let nextId = 1;
const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
let listening = false;

/**
 * Worker side of cluster-wide metrics: this worker's registry answers the primary's
 * prom-client aggregation requests, so a scrape that lands on any worker can report the sum
 * over all of them (counters and histograms summed, per prom-client's aggregators).
 */
export function shareMetrics(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's worker-side listener.
  new AggregatorRegistry();
}

/** The Prometheus text of every worker together, gathered by the primary (cluster/primary.ts). */
export function clusterMetricsText(): Promise<string> {
  if (!listening) {
    listening = true;
    process.on('message', (raw: unknown) => {
      const msg = raw as { sf?: unknown; id?: unknown; text?: unknown; error?: unknown };
      if (msg?.sf !== 'metrics-text' || typeof msg.id !== 'number') return;
      const pending = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (typeof msg.text === 'string') pending?.resolve(msg.text);
      else pending?.reject(new Error(String(msg.error ?? 'the primary could not gather the workers\' metrics')));
    });
  }
  const id = nextId++;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error('timed out gathering the workers\' metrics'));
    }, GATHER_TIMEOUT_MS);
    timer.unref();
    waiting.set(id, {
      resolve: (text) => {
        clearTimeout(timer);
        resolve(text);
      },
      reject: (err) => {
        clearTimeout(timer);
        reject(err);
      },
    });
    process.send?.({ sf: 'metrics', id } satisfies WorkerMessage);
  });
}
