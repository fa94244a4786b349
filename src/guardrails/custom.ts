import { z } from 'zod';
import { addRuleMatches } from './rule-matches.js';
import { safePattern } from './safe-pattern.js';
import type { AsyncTextCheck, Finding, GuardrailMode, TextCheck } from './types.js';

const modeSchema = z.enum(['block', 'mask', 'flag']);

export const customConfigSchema = z
  .strictObject({
    /** Regular-expression rules (case-insensitive). */
    rules: z
      .array(z.strictObject({ pattern: safePattern, category: z.string().min(1).max(64).default('custom'), action: modeSchema.optional() }))
      .min(1)
      .max(200)
      .optional(),
    /** An HTTP endpoint that judges the text: POST {text, stage, guardrail} -> {action: allow|block|mask|flag, text?, category?}. */
    webhook: z
      .strictObject({
        url: z.url({ protocol: /^https?$/ }),
        timeout_ms: z.number().int().min(10).max(30_000).default(2000),
        /** What a timeout or a broken answer means: `open` lets the text through (and flags it), `closed` blocks it. */
        on_failure: z.enum(['open', 'closed']).default('closed'),
      })
      .optional(),
  })
  .refine((c) => (c.rules === undefined) !== (c.webhook === undefined), { message: 'give either rules or a webhook' });
export type CustomConfig = z.output<typeof customConfigSchema>;

export function compileCustomRules(rules: NonNullable<CustomConfig['rules']>, mode: GuardrailMode): TextCheck {
  const compiled = rules.map((r) => ({ category: r.category, action: r.action ?? mode, re: new RegExp(r.pattern, 'giu') }));
  return (text) => {
    const findings: Finding[] = [];
    for (const rule of compiled) {
      addRuleMatches(rule, text, findings);
    }
    return findings;
  };
}

const verdictSchema = z.object({
  action: z.enum(['allow', 'block', 'mask', 'flag']),
  text: z.string().optional(),
  category: z.string().max(64).optional(),
});

/** A webhook verdict: the whole text is the span; a `mask` answer carries the redacted text. */
export function compileWebhook(name: string, webhook: NonNullable<CustomConfig['webhook']>): AsyncTextCheck {
  const failure = (): Finding[] => [{ category: 'webhook_unavailable', start: 0, end: 0, action: webhook.on_failure === 'open' ? 'flag' : 'block' }];
  return async (text, stage) => {
    let raw: unknown;
    try {
      const res = await fetch(webhook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ guardrail: name, stage, text }),
        signal: AbortSignal.timeout(webhook.timeout_ms),
      });
      if (!res.ok) return failure();
      raw = await res.json();
    } catch {
      return failure();
    }
    const parsed = verdictSchema.safeParse(raw);
    if (!parsed.success) return failure();
    const { action, category = 'custom' } = parsed.data;
    if (action === 'allow') return [];
    if (action === 'mask') return parsed.data.text === undefined ? failure() : { masked: parsed.data.text, category };
    return [{ category, start: 0, end: text.length, action }];
  };
}
