import type { GatewayError } from '../errors/gateway-error.js';
import type { RetryCondition, RetryPolicy } from './chain-schema.js';

/** The retry conditions as a set, with the two status-less failures named by their error codes. */
export function compileRetryOn(conditions: readonly RetryCondition[]): ReadonlySet<number | string> {
  return new Set(conditions);
}

/**
 * The one retry rule. An error says itself whether another try could fix it (`retryable`: set by
 * the provider's error mapper; false for bad credentials, a prompt too long for the model, and
 * other 4xx); `retry_on` then says which of those the operator wants retried, by status (408,
 * 429, 5xx, Anthropic's 529 by default) or by kind (`connection_error`, `timeout`). A retryable
 * failure is retried on the same target and counts toward the deployment's cooldown; anything
 * else moves on to the next target at once. Never decided from an error's message.
 */
export function isRetryable(err: GatewayError, retryOn: ReadonlySet<number | string>): boolean {
  if (!err.retryable) return false;
  if (err.codeName === 'SF_ERR_UPSTREAM_UNREACHABLE') return retryOn.has('connection_error');
  if (err.codeName === 'SF_ERR_UPSTREAM_TIMEOUT') return retryOn.has('timeout');
  return retryOn.has(err.status);
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
