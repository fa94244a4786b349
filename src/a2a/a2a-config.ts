import { z } from 'zod';

/** `a2a:` in smartflow.yaml (docs/a2a.md). */
export const a2aConfigSchema = z.strictObject({
  /** Tasks (with their history, events and steps) are kept this long after their last change. */
  task_retention_ms: z.number().int().positive().default(7 * 24 * 3600_000),
  /** The base URL agent cards name (`https://gateway.example.com`); else taken from the request's Host. */
  public_url: z.url({ protocol: /^https?$/ }).optional(),
  /** Push-notification webhooks may target loopback, link-local and private addresses (tests, a private network). */
  push_allow_private: z.boolean().default(false),
  /** Text of one incoming message, in bytes: larger messages are refused with -32602. */
  max_message_bytes: z.number().int().positive().default(1_000_000),
});

export type A2aConfig = z.infer<typeof a2aConfigSchema>;
