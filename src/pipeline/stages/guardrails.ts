import { guardrailBlocked } from '../../guardrails/blocked-error.js';
import { evaluateText, evaluateTextSync, type CompiledGuardrail, type GuardrailHit } from '../../guardrails/compile.js';
import { guardStream } from '../../guardrails/stream-guard.js';
import { inputTexts, rewriteInputTexts, rewriteOutputTexts } from '../../guardrails/text-fields.js';
import { EMPTY_RESOLUTION, type PolicySnapshot, type Resolution } from '../../policies/policy-snapshot.js';
import type { SpendGuardrailHit } from '../../spend/spend-record.js';
import type { GatewayContext, Stage } from '../types.js';

export interface GuardrailsStageDeps {
  /** The current policy snapshot (swapped whole on change). */
  snapshot: () => PolicySnapshot;
}

const TAG_SPLIT = /\s*,\s*/;

/** The request's tags: its key's, plus any the client names in `x-smartflow-tags` (tags can only add policies, never remove one). */
function tagsOf(ctx: GatewayContext): readonly string[] {
  const own = ctx.principal?.tags ?? [];
  const header = ctx.headers['x-smartflow-tags'];
  if (typeof header !== 'string' || header === '') return own;
  return [...own, ...header.split(TAG_SPLIT).filter((t) => t !== '' && t.length <= 64).slice(0, 16)];
}

function record(ctx: GatewayContext, stage: 'pre' | 'post', hit: GuardrailHit): void {
  const entry: SpendGuardrailHit = { guardrail: hit.guardrail, stage, action: hit.action, categories: hit.categories };
  (ctx.guardrailHits ??= []).push(entry);
  if (hit.action === 'flag') ctx.log.warn({ guardrail: hit.guardrail, stage, categories: hit.categories }, 'guardrail flagged');
}

/** Runs the guardrails over every prose string of the body, masking in place; throws on a block. */
async function checkBody(ctx: GatewayContext, body: unknown, guardrails: readonly CompiledGuardrail[], stage: 'pre' | 'post'): Promise<boolean> {
  const hits = new Map<string, GuardrailHit>();
  let blocked: GuardrailHit | null = null;
  let changed = false;
  const collect = (verdict: { hits: GuardrailHit[]; blocked: GuardrailHit | null }) => {
    for (const hit of verdict.hits) {
      const seen = hits.get(hit.guardrail);
      hits.set(hit.guardrail, seen ? { ...seen, action: seen.action === 'block' || hit.action === 'block' ? 'block' : seen.action === 'mask' || hit.action === 'mask' ? 'mask' : 'flag', categories: [...new Set([...seen.categories, ...hit.categories])] } : hit);
    }
    blocked ??= verdict.blocked;
  };
  const rewrite = stage === 'pre' ? rewriteInputTexts : rewriteOutputTexts;
  if (guardrails.every((g) => 'sync' in g.check)) {
    rewrite(body, (text) => {
      const verdict = evaluateTextSync(text, guardrails);
      collect(verdict);
      if (verdict.text !== text) changed = true;
      return verdict.text;
    });
  } else {
    // A webhook answers asynchronously: check each text, then write the results back in order.
    const texts = stage === 'pre' ? inputTexts(body) : collectOutput(body);
    const verdicts: Array<Awaited<ReturnType<typeof evaluateText>>> = [];
    for (const text of texts) verdicts.push(await evaluateText(text, guardrails, stage));
    let i = 0;
    rewrite(body, (text) => {
      const verdict = verdicts[i++]!;
      collect(verdict);
      if (verdict.text !== text) changed = true;
      return verdict.text;
    });
  }
  for (const hit of hits.values()) record(ctx, stage, hit);
  if (blocked) throw guardrailBlocked(blocked, stage === 'pre' ? 'input' : 'output');
  return changed;
}

function collectOutput(body: unknown): string[] {
  const out: string[] = [];
  rewriteOutputTexts(body, (t) => (out.push(t), t));
  return out;
}

function setHeaders(ctx: GatewayContext, resolution: Resolution): void {
  ctx.responseHeaders['x-smartflow-applied-policies'] = resolution.headers.policies;
  ctx.responseHeaders['x-smartflow-applied-guardrails'] = resolution.headers.guardrails;
  ctx.responseHeaders['x-smartflow-policy-sources'] = resolution.headers.sources;
}

/**
 * Guardrail policies: the policies attached to the request's team, key alias, model and tags are
 * merged; pre-stage guardrails check (and mask) the input before anything is spent or cached,
 * post-stage ones the answer, cached or not; streams are wrapped, never buffered. With no
 * attachments at all it only sets the (empty) headers.
 */
export function createGuardrailsStage(deps: GuardrailsStageDeps): Stage {
  return {
    name: 'guardrails',
    async run(ctx, next) {
      const snapshot = deps.snapshot();
      if (!snapshot.hasAttachments) {
        setHeaders(ctx, EMPTY_RESOLUTION);
        return next();
      }
      const principal = ctx.principal;
      const resolution = snapshot.resolve({ team: principal?.teamId ?? null, key_alias: principal?.keyAlias ?? null, model: ctx.requestedModel, tags: tagsOf(ctx) });
      setHeaders(ctx, resolution);
      if (resolution.pre.length > 0 && ctx.request) {
        const request = ctx.request;
        await checkBody(ctx, request.body, resolution.pre, 'pre');
        if (request.operation === 'responses') await checkBody(ctx, request.native.body, resolution.pre, 'pre');
      }
      await next();
      const response = ctx.response;
      if (resolution.post.length === 0 || !response || response.status >= 400) return;
      if (response.kind === 'stream') {
        ctx.response = { ...response, frames: guardStream(response.frames, resolution.post, (hit) => record(ctx, 'post', hit)) };
        return;
      }
      let body = response.body;
      if (body === undefined && response.text !== undefined) {
        try {
          body = JSON.parse(response.text);
        } catch {
          return;
        }
      }
      if (await checkBody(ctx, body, resolution.post, 'post')) {
        const { text: _text, ...rest } = response;
        ctx.response = { ...rest, body };
      }
    },
  };
}
