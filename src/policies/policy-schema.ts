import { z } from 'zod';
import { guardrailName } from '../guardrails/guardrail-schema.js';

/** Names that would collide with the fixed routes under /api/policies. */
const RESERVED = new Set(['attachments', 'resolve']);

export const policyName = guardrailName.refine((n) => !RESERVED.has(n), { message: '"attachments" and "resolve" are reserved' });

/** A policy: its parent's guardrails, plus `add`, minus `remove`. */
export const policySchema = z.strictObject({
  name: policyName,
  parent: policyName.nullable().default(null),
  add: z.array(guardrailName).max(100).default([]),
  remove: z.array(guardrailName).max(100).default([]),
  description: z.string().max(500).default(''),
});
export type PolicyDefinition = z.output<typeof policySchema>;

export const SCOPES = ['team', 'key_alias', 'model', 'tag'] as const;
export type AttachmentScope = (typeof SCOPES)[number];

/** A scope pattern: literal characters and `*` (any run of characters). */
const scopePattern = z.string().min(1).max(200).regex(/^[^\s,]+$/, 'no spaces or commas');

export const attachmentSchema = z.strictObject({
  policy: policyName,
  scope: z.enum(SCOPES),
  pattern: scopePattern,
});
export type AttachmentInput = z.output<typeof attachmentSchema>;

export interface Attachment extends AttachmentInput {
  id: string;
  created_at: number;
}

/** The attachment's id: one attachment per policy, scope and pattern. */
export function attachmentId(a: AttachmentInput): string {
  return `${a.policy}@${a.scope}:${a.pattern}`;
}

/** What `POST /api/policies/resolve` takes: the request context to preview. */
export const resolveQuerySchema = z.strictObject({
  team: z.string().max(200).nullable().default(null),
  key_alias: z.string().max(200).nullable().default(null),
  model: z.string().max(200).nullable().default(null),
  tags: z.array(z.string().min(1).max(64)).max(64).default([]),
});
export type ResolveQuery = z.output<typeof resolveQuerySchema>;

export const estimateQuerySchema = attachmentSchema.extend({
  /** How far back the spend log is read. */
  days: z.number().int().min(1).max(90).default(7),
  /** How many matching requests to show. */
  sample: z.number().int().min(0).max(50).default(5),
});
export type EstimateQuery = z.output<typeof estimateQuerySchema>;
