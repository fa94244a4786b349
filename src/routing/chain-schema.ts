import { z } from 'zod';

/** zod schemas for fallback chains and retry policies, shared by smartflow.yaml and the admin API. */

export const chainId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a chain id is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** What counts as worth retrying: HTTP statuses, plus failures that have none. */
export const retryCondition = z.union([
  z.number().int().min(400).max(599),
  z.enum(['connection_error', 'timeout'], 'retry_on holds statuses (400-599), "connection_error" or "timeout"'),
]);

/** 529 is Anthropic's "overloaded": the commonest transient failure there is. */
export const DEFAULT_RETRY_ON: Array<z.infer<typeof retryCondition>> = [408, 429, 500, 502, 503, 504, 529, 'connection_error', 'timeout'];

export const retryPolicySchema = z.strictObject({
  /** Attempts per target, the first included. */
  max_attempts: z.number().int().min(1).max(10).optional(),
  base_delay_ms: z.number().int().min(0).max(60_000).default(250),
  max_delay_ms: z.number().int().min(0).max(300_000).default(8_000),
  /** Fraction of each delay randomised away (0 = none, 1 = "full jitter"). */
  jitter: z.number().min(0).max(1).default(0.2),
  /** A Retry-After longer than this moves on to the next target instead of waiting. */
  max_retry_after_ms: z.number().int().min(0).max(600_000).default(30_000),
});

export const targetSchema = z
  .strictObject({
    /** A configured provider; with `model`, one explicit deployment. */
    provider: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a provider name').optional(),
    /** With `provider`: the upstream model. Alone: a model name the gateway serves (may be a load-balanced group). */
    model: z.string().min(1).max(200).optional(),
    /** Another chain, walked in place. */
    chain: chainId.optional(),
    /** Share of first picks in a `loadbalance` chain. */
    weight: z.number().positive().max(1_000_000).optional(),
    timeout_ms: z.number().int().positive().max(3_600_000).optional(),
    /** Retries on this target after the first attempt (overrides the chain's max_attempts - 1). */
    max_retries: z.number().int().min(0).max(9).optional(),
  })
  .refine((t) => (t.chain !== undefined) !== (t.model !== undefined), 'a target names either a "model" (with an optional "provider") or a "chain"')
  .refine((t) => t.chain === undefined || t.provider === undefined, 'a chain target cannot have a "provider"');

export const chainSchema = z.strictObject({
  id: chainId,
  name: z.string().min(1).max(200).optional(),
  /** Requests for these model names walk this chain (a request for the chain id always does). */
  models: z.array(z.string().min(1).max(200)).max(100).default([]),
  /** `fallback`: targets in order. `loadbalance`: the first target is picked by weight, the others follow in order. */
  strategy: z.enum(['fallback', 'loadbalance']).default('fallback'),
  targets: z.array(targetSchema).min(1, 'a chain needs at least one target').max(20),
  retry: retryPolicySchema.prefault({}),
  retry_on: z.array(retryCondition).max(50).optional(),
  /** Continue a stream that breaks mid-way on the next target, sending the partial answer as an assistant prefill. */
  stream_resume: z.boolean().default(false),
});

export type ChainTarget = z.infer<typeof targetSchema>;
export type FallbackChain = z.infer<typeof chainSchema>;
export type RetryPolicy = z.infer<typeof retryPolicySchema>;
export type RetryCondition = z.infer<typeof retryCondition>;
