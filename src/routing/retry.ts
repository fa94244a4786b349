import type { GatewayError } from '../errors/gateway-error.js';
import type { RetryCondition, RetryPolicy } from './chain-schema.js';

/** What to do after a failed attempt: try the same target again, or move on to the next one. */
export type RetryDecision = 'retry' | 'next';

/** The retry conditions as a set, with the two status-less failures named by their error codes. */
export function compileRetryOn(conditions: readonly RetryCondition[]): ReadonlySet<number | string> {
  return new Set(conditions);
}

/**
 * Retryable errors (by default 408, 429, 5xx, connection errors, timeouts) are retried on the same
 * target; anything else (400, 401, 403, 404, 422, a context-length error) moves on at once. The
 * decision comes from the error's code and status, never from its message.
 */
export function decide(err: GatewayError, retryOn: ReadonlySet<number | string>): RetryDecision {
  if (err.codeName === 'SF_ERR_CONTEXT_LENGTH_EXCEEDED' || err.codeName === 'SF_ERR_UPSTREAM_AUTH') return 'next';
  if (err.codeName === 'SF_ERR_UPSTREAM_UNREACHABLE') return retryOn.has('connection_error') ? 'retry' : 'next';
  if (err.codeName === 'SF_ERR_UPSTREAM_TIMEOUT') return retryOn.has('timeout') ? 'retry' : 'next';
  return retryOn.has(err.status) ? 'retry' : 'next';
}

/** Retry-After (seconds or an HTTP date) or retry-after-ms, in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(err: GatewayError, now: number): number | undefined {
  const ms = err.headers['retry-after-ms'];
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms));
  const value = err.headers['retry-after'];
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The wait before retry number `retry` (0 for the first retry): exponential from base_delay_ms,
 * capped at max_delay_ms, with `jitter` of it randomised away; a Retry-After from the provider
 * wins when it asks for longer. Returns null when the provider asks for more than
 * max_retry_after_ms: better to move to the next target than to wait that long.
 */
export function retryDelay(policy: RetryPolicy, retry: number, err: GatewayError, now: number, random: () => number): number | null {
  const exponential = Math.min(policy.max_delay_ms, policy.base_delay_ms * 2 ** retry);
  const backoff = exponential * (1 - policy.jitter * random());
  const asked = retryAfterMs(err, now);
  if (asked === undefined) return Math.round(backoff);
  if (asked > policy.max_retry_after_ms) return null;
  return Math.round(Math.max(backoff, asked));
}
