import type { Gateway } from '../main.js';
import { isPrimaryMessage, type WorkerMessage } from './messages.js';
import { installSessionForwarding } from './session-affinity.js';
import { shareMetrics } from './metrics-relay.js';
import type { WorkerIdentity } from './worker-identity.js';

/**
 * A worker of `smartflow serve --workers N`, from listening to exit: reachable by the other
 * workers for its MCP sessions, announced to the primary, and drained when the primary says so
 * (its SIGTERM/SIGINT), when a signal reaches the worker itself (Ctrl+C signals the whole
 * process group), or when the primary is gone. Resolves with the exit code.
 */
export async function runWorker(gateway: Gateway, url: string, self: WorkerIdentity): Promise<number> {
  const forwarding = await installSessionForwarding(gateway.app.server, self, gateway.logger);
  shareMetrics(gateway.metrics.registry);
  return new Promise<number>((resolve) => {
    let closing = false;
    const drain = (): void => {
      if (closing) return;
      closing = true;
      gateway
        .close()
        .then(
          () => 0,
          (err: unknown) => {
            gateway.logger.error({ err }, 'error while closing');
            return 1;
          },
        )
        .then(async (code) => {
          await forwarding.close();
          resolve(code);
        });
    };
    process.on('message', (raw: unknown) => {
      if (isPrimaryMessage(raw) && raw.sf === 'shutdown') drain();
    });
    process.on('SIGTERM', drain);
    process.on('SIGINT', drain);
    process.on('disconnect', drain);
    process.send?.({ sf: 'ready', url } satisfies WorkerMessage);
  });
}
