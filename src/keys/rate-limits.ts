import type { RateRule } from './access-policy.js';

/**
 * Rate limits count in fixed one-minute windows aligned to the clock minute, the way OpenAI's
 * and LiteLLM's per-minute limits read: the count starts again at every minute boundary.
 */
export const RATE_WINDOW_MS = 60_000;
/** Window counters outlive their minute briefly, so late settlements still find them. */
const COUNTER_TTL_MS = 2 * RATE_WINDOW_MS;

export interface RateCounters {
  rule: RateRule;
  windowEnd: number;
  requestsKey: string;
  tokensKey: string;
  ttlMs: number;
}

export function rateCounters(rule: RateRule, now: number): RateCounters {
  const start = now - (now % RATE_WINDOW_MS);
  const base = `rate:${rule.scope}:${rule.id}:${start}`;
  return { rule, windowEnd: start + RATE_WINDOW_MS, requestsKey: `${base}:requests`, tokensKey: `${base}:tokens`, ttlMs: COUNTER_TTL_MS };
}

/** OpenAI's rate-limit response headers, for the given limits and counter values. */
export function rateLimitHeaders(rule: RateRule, requests: number | undefined, tokens: number | undefined, windowEnd: number, now: number): Record<string, string> {
  const headers: Record<string, string> = {};
  const reset = `${Math.max(0, Math.ceil((windowEnd - now) / 1000))}s`;
  if (rule.rpm !== null && requests !== undefined) {
    headers['x-ratelimit-limit-requests'] = String(rule.rpm);
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, rule.rpm - requests));
    headers['x-ratelimit-reset-requests'] = reset;
  }
  if (rule.tpm !== null && tokens !== undefined) {
    headers['x-ratelimit-limit-tokens'] = String(rule.tpm);
    headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, rule.tpm - tokens));
    headers['x-ratelimit-reset-tokens'] = reset;
  }
  return headers;
}
