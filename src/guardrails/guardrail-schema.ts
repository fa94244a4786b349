import { z } from 'zod';
import { complianceConfigSchema } from './compliance.js';
import { customConfigSchema } from './custom.js';
import { piiConfigSchema } from './pii.js';
import { promptInjectionConfigSchema } from './prompt-injection.js';
import { toxicityConfigSchema } from './toxicity.js';

/** Guardrail and policy names: they appear in headers, so no commas, spaces or odd characters. */
export const guardrailName = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" or "_", starting with a letter (at most 64)');

const common = {
  name: guardrailName,
  mode: z.enum(['block', 'mask', 'flag']),
  stage: z.enum(['pre', 'post', 'both']).default('pre'),
  description: z.string().max(500).default(''),
};

/** One guardrail as the admin API and smartflow.yaml take it: its type decides the shape of `config`. */
export const guardrailSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...common, type: z.literal('pii'), config: piiConfigSchema.default(piiConfigSchema.parse({})) }),
  z.strictObject({ ...common, type: z.literal('toxicity'), config: toxicityConfigSchema.default(toxicityConfigSchema.parse({})) }),
  z.strictObject({ ...common, type: z.literal('prompt_injection'), config: promptInjectionConfigSchema.default(promptInjectionConfigSchema.parse({})) }),
  z.strictObject({ ...common, type: z.literal('compliance'), config: complianceConfigSchema }),
  z.strictObject({ ...common, type: z.literal('custom'), config: customConfigSchema }),
]);
export type GuardrailDefinition = z.output<typeof guardrailSchema>;
export type GuardrailType = GuardrailDefinition['type'];
