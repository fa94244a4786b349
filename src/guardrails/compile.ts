import { compileCompliance } from './compliance.js';
import { compileCustomRules, compileWebhook } from './custom.js';
import type { GuardrailDefinition, GuardrailType } from './guardrail-schema.js';
import { compilePii } from './pii.js';
import { compilePromptInjection } from './prompt-injection.js';
import { maskSpans } from './spans.js';
import { compileToxicity } from './toxicity.js';
import type { AsyncTextCheck, GuardrailMode, GuardrailStage, TextCheck } from './types.js';

/** A guardrail ready to run: its definition's settings and one check function. */
export interface CompiledGuardrail {
  readonly name: string;
  readonly type: GuardrailType;
  readonly mode: GuardrailMode;
  readonly stage: GuardrailStage;
  /** Built-in checks (and custom regex rules) run synchronously; a webhook is the one asynchronous check. */
  readonly check: { sync: TextCheck } | { async: AsyncTextCheck };
}

export function compileGuardrail(def: GuardrailDefinition): CompiledGuardrail {
  const base = { name: def.name, type: def.type, mode: def.mode, stage: def.stage };
  switch (def.type) {
    case 'pii':
      return { ...base, check: { sync: compilePii(def.config, def.mode) } };
    case 'toxicity':
      return { ...base, check: { sync: compileToxicity(def.config, def.mode) } };
    case 'prompt_injection':
      return { ...base, check: { sync: compilePromptInjection(def.config, def.mode) } };
    case 'compliance':
      return { ...base, check: { sync: compileCompliance(def.config, def.mode) } };
    case 'custom':
      return { ...base, check: def.config.webhook ? { async: compileWebhook(def.name, def.config.webhook) } : { sync: compileCustomRules(def.config.rules ?? [], def.mode) } };
  }
}

/** What one guardrail did to one text. */
export interface GuardrailHit {
  guardrail: string;
  /** The strongest action among its findings: block > mask > flag. */
  action: GuardrailMode;
  categories: string[];
}

/** One text after the guardrails: possibly masked, with what fired; `blocked` is the first block. */
export interface TextVerdict {
  text: string;
  hits: GuardrailHit[];
  blocked: GuardrailHit | null;
}

const RANK: Record<GuardrailMode, number> = { flag: 0, mask: 1, block: 2 };

function hitOf(guardrail: string, findings: ReadonlyArray<{ category: string; action: GuardrailMode }>): GuardrailHit {
  let action: GuardrailMode = 'flag';
  const categories: string[] = [];
  for (const f of findings) {
    if (RANK[f.action] > RANK[action]) action = f.action;
    if (!categories.includes(f.category)) categories.push(f.category);
  }
  return { guardrail, action, categories };
}

/**
 * Runs guardrails over one text in order. Every guardrail sees the original text (so one's mask
 * cannot hide a match from another); the masks of all of them are then applied together.
 */
export async function evaluateText(text: string, guardrails: readonly CompiledGuardrail[], stage: 'pre' | 'post'): Promise<TextVerdict> {
  const verdict = evaluateTextSync(text, guardrails.filter((g) => 'sync' in g.check));
  for (const g of guardrails) {
    if (!('async' in g.check)) continue;
    const outcome = await g.check.async(verdict.text, stage);
    if (Array.isArray(outcome)) {
      if (outcome.length === 0) continue;
      const hit = hitOf(g.name, outcome);
      verdict.hits.push(hit);
      if (hit.action === 'block') verdict.blocked ??= hit;
    } else {
      verdict.text = outcome.masked;
      verdict.hits.push({ guardrail: g.name, action: 'mask', categories: [outcome.category] });
    }
  }
  return verdict;
}

/** The synchronous part: what the benchmark measures. Guardrails with a webhook are skipped. */
export function evaluateTextSync(text: string, guardrails: readonly CompiledGuardrail[]): TextVerdict {
  const hits: GuardrailHit[] = [];
  let blocked: GuardrailHit | null = null;
  let masks: Array<{ category: string; start: number; end: number; action: GuardrailMode }> | null = null;
  for (const g of guardrails) {
    if (!('sync' in g.check)) continue;
    const findings = g.check.sync(text);
    if (findings.length === 0) continue;
    const hit = hitOf(g.name, findings);
    hits.push(hit);
    if (hit.action === 'block') blocked ??= hit;
    for (const f of findings) if (f.action === 'mask') (masks ??= []).push(f);
  }
  return { text: masks ? maskSpans(text, masks) : text, hits, blocked };
}
