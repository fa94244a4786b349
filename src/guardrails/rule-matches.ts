import type { Finding, GuardrailMode } from './types.js';

/** A compiled regex rule: what its matches are called and what to do about them. */
export interface RegexRule {
  category: string;
  action: GuardrailMode;
  /** Global (`g`) flag set: matches are walked with `exec`. */
  re: RegExp;
}

/** Adds every match of a rule in `text` to `findings` (empty matches are stepped over, never looped on). */
export function addRuleMatches(rule: RegexRule, text: string, findings: Finding[]): void {
  rule.re.lastIndex = 0;
  for (let m = rule.re.exec(text); m !== null; m = rule.re.exec(text)) {
    if (m[0].length === 0) {
      rule.re.lastIndex++;
      continue;
    }
    findings.push({ category: rule.category, start: m.index, end: m.index + m[0].length, action: rule.action });
  }
}
