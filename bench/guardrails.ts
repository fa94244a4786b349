import { kilobytePrompt } from './bench-inputs.js';
import { compileGuardrail } from '../src/guardrails/compile.js';
import { guardrailSchema } from '../src/guardrails/guardrail-schema.js';
import { createGuardrailsStage } from '../src/pipeline/stages/guardrails.js';
import type { GatewayContext } from '../src/pipeline/types.js';
import { policySchema, type Attachment } from '../src/policies/policy-schema.js';
import { PolicySnapshot } from '../src/policies/policy-snapshot.js';

/** The target: four guardrails on a 1 KB prompt add at most this much per request. */
export const GUARDRAILS_ADDED_US_TARGET = 50;

export interface GuardrailBenchResult {
  name: 'guardrails';
  description: string;
  /** CPU per request through the guardrails stage, median of seven batches, µs. */
  noAttachmentsUs: number;
  fourGuardrailsUs: number;
  /** The same four guardrails when the prompt carries an email to mask. */
  fourGuardrailsMaskingUs: number;
  addedUs: number;
  promptBytes: number;
  target: number;
}

/** An ordinary 1 KB prompt: what most requests look like. */
const PROMPT = kilobytePrompt();

function context(text: string): GatewayContext {
  return {
    principal: { id: 'vk', kind: 'virtual_key', keyId: 'vk', teamId: 'logistics', isAdmin: false, keyAlias: 'reporting', tags: ['ops'], policy: null },
    requestedModel: 'gpt-4o-mini',
    request: { operation: 'chat', body: { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: text }] } },
    headers: {},
    responseHeaders: {},
    response: null,
    log: { warn() {}, info() {}, error() {}, debug() {} },
  } as unknown as GatewayContext;
}

async function perRequestUs(run: () => Promise<void>, iterations: number): Promise<number> {
  const batches: number[] = [];
  for (let b = 0; b < 7; b++) {
    // CPU time, not wall time: on a shared machine waiting for a core is not the stage's cost.
    const start = process.cpuUsage();
    for (let i = 0; i < iterations; i++) await run();
    const used = process.cpuUsage(start);
    batches.push((used.user + used.system) / iterations);
  }
  batches.sort((x, y) => x - y);
  return Math.round(batches[3]! * 100) / 100;
}

/** The guardrails stage itself, in process: no attachments against four pre-stage guardrails on a 1 KB prompt. */
export async function runGuardrailBench(quick: boolean): Promise<GuardrailBenchResult> {
  const defs = [
    { name: 'pii', type: 'pii', mode: 'mask' },
    { name: 'toxicity', type: 'toxicity', mode: 'flag' },
    { name: 'injection', type: 'prompt_injection', mode: 'block' },
    { name: 'hipaa', type: 'compliance', mode: 'flag', config: { rule_sets: ['hipaa', 'financial_advice'] } },
  ].map((raw) => guardrailSchema.parse(raw));
  const guardrails = new Map(defs.map((d) => [d.name, { definition: d, compiled: compileGuardrail(d), source: 'api' as const }]));
  const policies = new Map([['baseline', { definition: policySchema.parse({ name: 'baseline', add: defs.map((d) => d.name) }), effective: defs.map((d) => d.name), source: 'api' as const }]]);
  const attachment: Attachment = { id: 'baseline@team:*', policy: 'baseline', scope: 'team', pattern: '*', created_at: 0 };
  const empty = createGuardrailsStage({ snapshot: () => new PolicySnapshot(new Map(), new Map(), []) });
  const snapshot = new PolicySnapshot(guardrails, policies, [attachment]);
  const four = createGuardrailsStage({ snapshot: () => snapshot });
  const next = async () => {};
  const masked = `${PROMPT.slice(0, 1000)} jane@corp.io`;
  const iterations = quick ? 500 : 4000;
  const noAttachmentsUs = await perRequestUs(() => empty.run(context(PROMPT), next), iterations);
  const fourGuardrailsUs = await perRequestUs(() => four.run(context(PROMPT), next), iterations);
  const fourGuardrailsMaskingUs = await perRequestUs(() => four.run(context(masked), next), iterations);
  return {
    name: 'guardrails',
    description: 'guardrails stage, in process: 4 pre-stage guardrails (pii, toxicity, prompt_injection, compliance) on a 1 KB prompt',
    noAttachmentsUs,
    fourGuardrailsUs,
    fourGuardrailsMaskingUs,
    addedUs: Math.round((fourGuardrailsUs - noAttachmentsUs) * 100) / 100,
    promptBytes: Buffer.byteLength(PROMPT),
    target: GUARDRAILS_ADDED_US_TARGET,
  };
}

export function renderGuardrails(r: GuardrailBenchResult): string {
  return [
    `### ${r.description}`,
    '',
    '| metric | value | target |',
    '|---|---|---|',
    `| per request, no attachments | ${r.noAttachmentsUs} µs | |`,
    `| per request, four guardrails, ${r.promptBytes} B prompt | ${r.fourGuardrailsUs} µs | |`,
    `| per request, four guardrails, masking an email | ${r.fourGuardrailsMaskingUs} µs | |`,
    `| added by four guardrails | ${r.addedUs} µs | ≤ ${r.target} µs ${r.addedUs <= r.target ? '✓' : '✗'} |`,
    '',
  ].join('\n');
}

// `node --import tsx bench/guardrails.ts [--quick]`: this row alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runGuardrailBench(process.argv.includes('--quick'));
  process.stdout.write(renderGuardrails(result));
}
