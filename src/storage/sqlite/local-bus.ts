import { EventEmitter } from 'node:events';
import { clusterRelay } from './cluster-relay.js';

/**
 * Publish/subscribe for the SQLite store. SQLite has no notification channel, so stores opened on
 * the same file in one process share an EventEmitter through this registry, and the workers of
 * one `smartflow serve --workers N` relay it to each other (cluster-relay.ts). Other processes
 * that open the same file do not see the messages (the Store interface documents this).
 */
export interface LocalBus {
  /** Resolves once the other workers of the cluster (if any) have handled the message. */
  publish(channel: string, message: string): Promise<void>;
  /** Returns a function that removes the handler. */
  subscribe(channel: string, handler: (message: string) => void): () => void;
  /** Drops this store's handlers and its reference to the shared emitter. */
  release(): void;
}

interface SharedEmitter {
  emitter: EventEmitter;
  refs: number;
}

const shared = new Map<string, SharedEmitter>();

let relayHooked = false;

/** The cluster relay for a file's bus, wired once per process to deliver into the shared emitters. */
function relayFor(key: string | null) {
  if (key === null) return null;
  const relay = clusterRelay();
  if (relay && !relayHooked) {
    relayHooked = true;
    // Another worker's message: emitted synchronously, so the relay's acknowledgement means handled.
    relay.onMessage((busKey, channel, message) => shared.get(busKey)?.emitter.emit(`ch:${channel}`, message));
  }
  return relay;
}

/**
 * The bus for a database file. `key` is the resolved file path; null (':memory:') gets a private
 * bus because every in-memory database is a separate database.
 */
export function acquireLocalBus(key: string | null): LocalBus {
  let entry = key === null ? undefined : shared.get(key);
  if (!entry) {
    const emitter = new EventEmitter();
    // Any number of subscribers per channel is legitimate here, not a leak.
    emitter.setMaxListeners(0);
    entry = { emitter, refs: 0 };
    if (key !== null) shared.set(key, entry);
  }
  entry.refs += 1;
  const { emitter } = entry;
  const relay = relayFor(key);
  const owned = new Set<{ event: string; listener: (message: string) => void }>();
  let released = false;

  return {
    publish(channel, message) {
      // Deliver after the publisher's call returns, as Redis does, so code written against one
      // backend does not come to rely on synchronous delivery.
      // The 'ch:' prefix keeps user channel names away from EventEmitter's special 'error' event.
      setImmediate(() => emitter.emit(`ch:${channel}`, message));
      return relay && key !== null ? relay.send(key, channel, message) : Promise.resolve();
    },
    subscribe(channel, handler) {
      const event = `ch:${channel}`;
      const listener = (message: string): void => {
        try {
          handler(message);
        } catch {
          // A failing subscriber must neither crash the process (we run from setImmediate)
          // nor stop delivery to the other subscribers; handlers own their error reporting.
        }
      };
      const item = { event, listener };
      owned.add(item);
      emitter.on(event, listener);
      return () => {
        if (owned.delete(item)) emitter.off(event, listener);
      };
    },
    release() {
      if (released) return;
      released = true;
      for (const { event, listener } of owned) emitter.off(event, listener);
      owned.clear();
      if (entry && --entry.refs === 0 && key !== null) shared.delete(key);
    },
  };
}
