import { GatewayError } from '../errors/gateway-error.js';

type Listener = () => void;

/**
 * Cancels one request's upstream work (client gone, shutdown). undici accepts any object with
 * `aborted`, `once` and `removeListener` as a request signal; an AbortController costs about
 * 4 µs per request here and an EventEmitter still allocates more than this, and every request
 * needs one. The only event is 'abort', and it fires at most once.
 */
export class Cancellation {
  aborted = false;
  private listeners: Listener[] | null = null;

  on(_event: 'abort', listener: Listener): this {
    (this.listeners ??= []).push(listener);
    return this;
  }

  once(event: 'abort', listener: Listener): this {
    return this.on(event, listener);
  }

  removeListener(_event: 'abort', listener: Listener): this {
    const i = this.listeners?.indexOf(listener) ?? -1;
    if (i !== -1) this.listeners!.splice(i, 1);
    return this;
  }

  off(event: 'abort', listener: Listener): this {
    return this.removeListener(event, listener);
  }

  cancel(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = null;
    if (listeners) for (const listener of listeners) listener();
  }
}

/** What adapters see: they can check it and listen to it, not trigger it. */
export type CancelSignal = Pick<Cancellation, 'aborted' | 'on' | 'once' | 'off' | 'removeListener'>;

/** Waits `ms`, or rejects with SF_ERR_CLIENT_CLOSED as soon as the request is cancelled. */
export function pause(ms: number, signal: CancelSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new GatewayError('SF_ERR_CLIENT_CLOSED'));
    const onCancel = () => {
      clearTimeout(timer);
      reject(new GatewayError('SF_ERR_CLIENT_CLOSED'));
    };
    const timer = setTimeout(() => {
      signal.off('abort', onCancel);
      resolve();
    }, ms);
    signal.once('abort', onCancel);
  });
}
