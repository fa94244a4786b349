import type { RequestLog } from '../core/request-log.js';
import type { Store, Unsubscribe } from '../storage/types.js';

export interface CooldownSettings {
  failures: number;
  window_ms: number;
  cooldown_ms: number;
}

const CHANNEL = 'deployment-cooldown';

interface CooldownMessage {
  id: string;
  until: number;
}

/**
 * The circuit breaker: a deployment that fails `failures` times within a `window_ms` window is
 * skipped for `cooldown_ms`. Failures are counted in the shared store, so every instance's
 * failures count; the trip is announced on pub/sub, so every instance skips the deployment at
 * once. Checking is a local map lookup: no store round trip on the request path.
 */
export class Cooldowns {
  private readonly until = new Map<string, number>();
  private unsubscribe: Unsubscribe | null = null;

  constructor(
    private readonly deps: { store: Store; now: () => number; settings: CooldownSettings; log: RequestLog },
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.store.subscribe(CHANNEL, (message) => {
      try {
        const { id, until } = JSON.parse(message) as CooldownMessage;
        if (typeof id === 'string' && typeof until === 'number') this.until.set(id, Math.max(until, this.until.get(id) ?? 0));
      } catch {
        this.deps.log.warn('ignored a malformed cooldown message');
      }
    });
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  isCooling(id: string): boolean {
    return this.coolingUntil(id) !== undefined;
  }

  /** When the deployment's cooldown ends (epoch ms), or undefined when it is not cooling down. */
  coolingUntil(id: string): number | undefined {
    const until = this.until.get(id);
    if (until === undefined) return undefined;
    if (until > this.deps.now()) return until;
    this.until.delete(id);
    return undefined;
  }

  /** Counts a retryable failure; trips the breaker on the failure that reaches the threshold. */
  async recordFailure(id: string): Promise<void> {
    const { settings, store, now } = this.deps;
    if (settings.cooldown_ms === 0) return;
    const at = now();
    const windowStart = at - (at % settings.window_ms);
    const count = await store.incrCounter(`cooldown-failures:${id}:${windowStart}`, 1, settings.window_ms * 2);
    if (count < settings.failures || this.isCooling(id)) return;
    const message: CooldownMessage = { id, until: at + settings.cooldown_ms };
    this.until.set(id, message.until);
    await store.publish(CHANNEL, JSON.stringify(message));
  }
}
