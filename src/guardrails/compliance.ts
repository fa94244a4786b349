import { z } from 'zod';
import { addRuleMatches } from './rule-matches.js';
import { safePattern } from './safe-pattern.js';
import { compileHintScan } from './hint-scan.js';
import type { Finding, GuardrailMode, TextCheck } from './types.js';

const modeSchema = z.enum(['block', 'mask', 'flag']);
const ruleSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/),
    category: z.string().min(1).max(64),
    /** Whole words or phrases, case-insensitive. */
    keywords: z.array(z.string().min(1).max(200)).max(500).optional(),
    /** A regular expression (case-insensitive). */
    pattern: safePattern.optional(),
    /** Overrides the guardrail's mode for this rule. */
    action: modeSchema.optional(),
    /** Lower-case substrings one of which the text must contain before the pattern runs (built-in rules set it; it keeps them cheap). */
    hints: z.array(z.string().min(1).max(100)).max(50).optional(),
  })
  .refine((r) => (r.keywords?.length ?? 0) > 0 || r.pattern !== undefined, { message: 'a rule needs keywords or a pattern' });
export type ComplianceRule = z.output<typeof ruleSchema>;

export const COMPLIANCE_RULE_SETS = ['hipaa', 'financial_advice', 'pci'] as const;

export const complianceConfigSchema = z
  .strictObject({
    /** Built-in rule sets (docs/guardrails.md lists their rules). */
    rule_sets: z.array(z.enum(COMPLIANCE_RULE_SETS)).default([]),
    rules: z.array(ruleSchema).max(200).default([]),
  })
  .refine((c) => c.rule_sets.length + c.rules.length > 0, { message: 'name at least one rule set or rule' });
export type ComplianceConfig = z.output<typeof complianceConfigSchema>;

/** HIPAA Safe Harbor identifiers that structured patterns can see, and financial-advice phrasing. */
const BUILT_IN: Record<(typeof COMPLIANCE_RULE_SETS)[number], ComplianceRule[]> = {
  hipaa: [
    { id: 'mrn', hints: ['mrn', 'medical record', 'patient id', 'patient number'], category: 'hipaa_identifier', pattern: String.raw`\b(?:MRN|medical record(?: number| no\.?| #)?|patient id|patient number)\s*[:#]?\s*[A-Z]{0,3}-?\d{5,10}\b` },
    { id: 'health_plan_id', hints: ['health plan', 'member', 'beneficiary', 'medicare', 'medicaid', 'insurance'], category: 'hipaa_identifier', pattern: String.raw`\b(?:health plan|member|beneficiary|medicare|medicaid|insurance)\s*(?:id|number|no\.?|#)\s*[:#]?\s*[A-Z0-9]{2,4}[- ]?\d{4,10}\b` },
    { id: 'dob_with_patient', hints: ['dob', 'date of birth', 'born on'], category: 'hipaa_identifier', pattern: String.raw`\b(?:DOB|date of birth|born on)\s*[:]?\s*(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2},? \d{4})` },
    { id: 'diagnosis_of_patient', hints: ['diagnos', 'tested positive', 'prescribed', 'admitted', 'treated for', 'suffers from'], category: 'hipaa_phi', pattern: String.raw`\b(?:patient|pt\.?|mr\.?|mrs\.?|ms\.?)\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\b[^.\n]{0,60}\b(?:diagnosed with|diagnosis of|tested positive for|prescribed|admitted (?:for|with)|treated for|suffers from)\b` },
    { id: 'icd10_code', hints: ['icd', 'diagnosis code', 'dx code'], category: 'hipaa_phi', pattern: String.raw`\b(?:ICD-?10(?:-CM)?|diagnosis code|dx code)\s*[:#]?\s*[A-TV-Z]\d{2}(?:\.\d{1,4})?\b` },
  ],
  financial_advice: [
    { id: 'buy_sell_recommendation', hints: ['buy', 'sell', 'short', 'dump', 'load up', 'invest', 'put your', 'put all your'], category: 'financial_advice', pattern: String.raw`\b(?:you should|i recommend (?:that you)?|i'd recommend|my advice is to|definitely|you must|you need to)\s+(?:(?:buy|sell|short|dump|load up on)\s+(?:[\w$.-]+\s+){0,3}?(?:stocks?|shares|crypto|bitcoin|btc|eth|coins?|tokens?|funds?|etfs?|bonds|options|equities|gold)|invest (?:in|all)|put (?:all )?your (?:money|savings))\b` },
    { id: 'guaranteed_returns', hints: ['guaranteed', 'risk-free', 'lose', 'sure-fire', 'surefire'], category: 'financial_advice', pattern: String.raw`\b(?:guaranteed|risk-free|can't lose|cannot lose|sure-fire|surefire)\s+(?:returns?|profits?|gains?|investment|income|money)\b` },
    { id: 'price_target', hints: ['stock', 'share', 'coin', 'token', 'price', 'bitcoin', 'btc', 'crypto', 'etf', 'fund'], category: 'financial_advice', pattern: String.raw`\b(?:stocks?|shares|coins?|tokens?|price|bitcoin|btc|crypto|etfs?|funds?)\s+(?:will|is going to|are going to)\s+(?:definitely |certainly |surely )?(?:go up|rise|double|triple|moon|skyrocket|reach \$?\d)` },
    { id: 'insider', category: 'financial_advice', keywords: ['insider tip', 'insider information', 'before the announcement', 'not public yet'] },
  ],
  pci: [
    { id: 'cvv', hints: ['cvv', 'cvc', 'cid', 'security code'], category: 'pci', pattern: String.raw`\b(?:CVV2?|CVC2?|CID|security code)\s*[:#]?\s*\d{3,4}\b` },
    { id: 'card_expiry_with_number', hints: ['exp ', 'exp:', 'exp.', 'expiry', 'expiration', 'valid thru'], category: 'pci', pattern: String.raw`\b(?:exp(?:iry|iration)?(?: date)?|valid thru)\s*[:#]?\s*(?:0[1-9]|1[0-2])\s*/\s*(?:\d{2}|\d{4})\b` },
  ],
};

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ +/g, '\\s+');
}

/** Compiles a compliance guardrail: built-in and own rules, each with its category and action. */
export function compileCompliance(config: ComplianceConfig, mode: GuardrailMode): TextCheck {
  const rules = [...config.rule_sets.flatMap((s) => BUILT_IN[s]), ...config.rules].map((rule) => {
    const parts = [...(rule.pattern !== undefined ? [rule.pattern] : []), ...(rule.keywords?.length ? [`(?<![\\p{L}\\p{N}_])(?:${rule.keywords.map(escape).join('|')})(?![\\p{L}\\p{N}_])`] : [])];
    const source = parts.join('|');
    // The `u` flag costs time on every scan; only keyword rules (\p{L}) and non-ASCII patterns need it.
    const flags = /\\p\{|[^\x00-\x7F]/.test(source) ? 'giu' : 'gi';
    const hints = rule.hints ?? (rule.keywords && !rule.pattern ? rule.keywords.map((k) => k.toLowerCase()) : null);
    return { category: rule.category, action: rule.action ?? mode, re: new RegExp(source, flags), hints };
  });
  const scanHints = compileHintScan(rules.flatMap((r) => r.hints ?? []));
  return (text) => {
    const findings: Finding[] = [];
    const present = scanHints(text.toLowerCase());
    for (const rule of rules) {
      if (rule.hints && !rule.hints.some((h) => present.has(h))) continue;
      addRuleMatches(rule, text, findings);
    }
    return findings;
  };
}
