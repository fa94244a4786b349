/**
 * `npm run eval:guardrails`: runs each built-in guardrail over its labelled set in
 * test/fixtures/guardrails/ and prints precision, recall and false-positive rate per type (and
 * per PII entity). Exits 1 when a target in docs/guardrails.md is missed. `--verbose` lists the
 * misclassified cases.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileGuardrail } from '../src/guardrails/compile.js';
import { guardrailSchema } from '../src/guardrails/guardrail-schema.js';
import type { TextCheck } from '../src/guardrails/types.js';

interface Case {
  text: string;
  label: boolean;
  expect?: string;
  note: string;
}

const CONFIGS: Record<string, unknown> = {
  pii: { name: 'eval-pii', type: 'pii', mode: 'flag' },
  toxicity: { name: 'eval-toxicity', type: 'toxicity', mode: 'flag' },
  prompt_injection: { name: 'eval-injection', type: 'prompt_injection', mode: 'flag' },
  compliance: { name: 'eval-compliance', type: 'compliance', mode: 'flag', config: { rule_sets: ['hipaa', 'financial_advice', 'pci'] } },
  custom: { name: 'eval-custom', type: 'custom', mode: 'flag', config: { rules: [{ pattern: String.raw`\bproject (?:bluejay|nightingale)\b`, category: 'codename' }, { pattern: String.raw`\bSEC-\d{4}\b`, category: 'internal_ticket' }] } },
};

/** Targets from the issue: PII precision and recall on structured entities; injection recall at a low false-positive rate. */
const TARGETS: Record<string, { precision?: number; recall?: number; fpr?: number }> = {
  pii: { precision: 0.98, recall: 0.95 },
  prompt_injection: { recall: 0.8, fpr: 0.02 },
};

const verbose = process.argv.includes('--verbose');
const dir = join(process.cwd(), 'test/fixtures/guardrails');
const pct = (x: number) => x.toFixed(3);
let failed = false;
const rows: string[] = ['| type | cases (+/-) | precision | recall | false-positive rate |', '|---|---|---|---|---|'];

for (const [type, raw] of Object.entries(CONFIGS)) {
  const def = guardrailSchema.parse(raw);
  const check = (compileGuardrail(def).check as { sync: TextCheck }).sync;
  const cases = readFileSync(join(dir, `${type}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Case);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  const perEntity = new Map<string, { hit: number; total: number }>();
  for (const c of cases) {
    const findings = check(c.text);
    // For PII the right entity must be found; elsewhere any finding counts.
    const found = type === 'pii' && c.label ? findings.some((f) => f.category === c.expect) : findings.length > 0;
    if (c.label) {
      if (found) tp++;
      else fn++;
      if (type === 'pii') {
        const e = perEntity.get(c.expect!) ?? { hit: 0, total: 0 };
        e.total++;
        if (found) e.hit++;
        perEntity.set(c.expect!, e);
      }
    } else if (found) fp++;
    else tn++;
    if (verbose && found !== c.label) process.stdout.write(`${type} ${c.label ? 'MISS' : 'FALSE+'} [${c.note}] ${JSON.stringify(c.text)} ${JSON.stringify(findings.map((f) => f.category))}\n`);
  }
  const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
  const recall = tp / (tp + fn);
  const fpr = fp / (fp + tn);
  rows.push(`| ${type} | ${tp + fn} / ${fp + tn} | ${pct(precision)} | ${pct(recall)} | ${pct(fpr)} |`);
  for (const [entity, e] of perEntity) rows.push(`| pii: ${entity} | ${e.total} / - | | ${pct(e.hit / e.total)} | |`);
  const target = TARGETS[type];
  if (target && ((target.precision !== undefined && precision < target.precision) || (target.recall !== undefined && recall < target.recall) || (target.fpr !== undefined && fpr > target.fpr))) {
    failed = true;
    rows.push(`| ${type}: TARGET MISSED | | ${target.precision ?? ''} | ${target.recall ?? ''} | ${target.fpr ?? ''} |`);
  }
}
process.stdout.write(rows.join('\n') + '\n');
process.exitCode = failed ? 1 : 0;
