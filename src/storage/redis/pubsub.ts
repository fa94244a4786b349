import type { Redis } from 'ioredis';
import { deliverMessage } from '../deliver-message.js';

type Handler = (message: string) => void;

/**
 * Fans one subscriber connection out to any number of handlers per channel. Redis is told to
 * SUBSCRIBE when a channel gets its first handler and to UNSUBSCRIBE when it loses its last.
 * Those commands are serialised per channel so a quick subscribe/unsubscribe/subscribe cannot
 * leave Redis out of step with the handler table.
 */
export class SubscriberFanout {
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly subscribed = new Set<string>();
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly connection: Redis) {
    connection.on('message', (channel: string, message: string) => deliverMessage(this.handlers.get(channel), message));
  }

  /** Adds the handler and resolves once Redis confirms the subscription. */
  async add(channel: string, handler: Handler): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    // Each subscription gets its own wrapper so the same function subscribed twice is two subscriptions.
    const entry: Handler = (message) => handler(message);
    set.add(entry);
    try {
      await this.sync(channel);
    } catch (err) {
      this.remove(channel, entry);
      throw err;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      this.remove(channel, entry);
      await this.sync(channel);
    };
  }

  /** Forgets every handler (the connection is about to close). */
  clear(): void {
    this.handlers.clear();
  }

  private remove(channel: string, entry: Handler): void {
    const set = this.handlers.get(channel);
    if (!set) return;
    set.delete(entry);
    if (set.size === 0) this.handlers.delete(channel);
  }

  /** Brings Redis's subscription for `channel` in line with whether it has handlers. */
  private sync(channel: string): Promise<void> {
    const previous = this.queues.get(channel) ?? Promise.resolve();
    const run = previous.then(async () => {
      const wanted = this.handlers.has(channel);
      if (wanted && !this.subscribed.has(channel)) {
        await this.connection.subscribe(channel);
        this.subscribed.add(channel);
      } else if (!wanted && this.subscribed.has(channel)) {
        // Forget it first: if UNSUBSCRIBE fails the connection is gone, and a resubscribe is what we want.
        this.subscribed.delete(channel);
        await this.connection.unsubscribe(channel);
      }
    });
    // The queue must survive a failed command; the caller still sees the failure through `run`.
    const settled = run.catch(() => undefined);
    this.queues.set(channel, settled);
    void settled.then(() => {
      if (this.queues.get(channel) === settled) this.queues.delete(channel);
    });
    return run;
  }
}
