import type { CompiledGuardrail } from '../guardrails/compile.js';
import type { GuardrailDefinition } from '../guardrails/guardrail-schema.js';
import type { Attachment, AttachmentScope, PolicyDefinition } from './policy-schema.js';
import { compileScopePattern } from './scope-pattern.js';

/** The request facts policies attach to. */
export interface PolicyContext {
  team: string | null;
  key_alias: string | null;
  model: string | null;
  tags: readonly string[];
}

/** A guardrail a request gets, and the policies and attachments it came through. */
export interface ResolvedGuardrail {
  name: string;
  type: GuardrailDefinition['type'];
  mode: GuardrailDefinition['mode'];
  stage: GuardrailDefinition['stage'];
  policies: string[];
}

/** Which policies and guardrails apply to a request context: frozen, and shared by every request with the same context. */
export interface Resolution {
  /** Matched policies with the attachment that matched each: `hipaa=tag:health-*`. */
  policies: ReadonlyArray<{ name: string; source: string }>;
  guardrails: readonly ResolvedGuardrail[];
  /** Guardrails on the input (stage pre or both), and on the output (post or both). */
  pre: readonly CompiledGuardrail[];
  post: readonly CompiledGuardrail[];
  /** The values of the three `x-smartflow-*` policy headers. */
  headers: { policies: string; guardrails: string; sources: string };
}

interface CompiledAttachment {
  attachment: Attachment;
  matches: (value: string) => boolean;
}

export const EMPTY_RESOLUTION: Resolution = Object.freeze({
  policies: [],
  guardrails: [],
  pre: [],
  post: [],
  headers: Object.freeze({ policies: '', guardrails: '', sources: '' }),
});

/** Request contexts remembered per snapshot; past it, resolutions are computed and not kept. */
const MEMO_LIMIT = 10_000;

/**
 * Guardrails, policies and attachments at one moment, compiled: a change builds a new snapshot
 * and swaps it in, so a request sees one consistent set from start to end.
 */
export class PolicySnapshot {
  readonly hasAttachments: boolean;
  private readonly byScope: ReadonlyMap<AttachmentScope, CompiledAttachment[]>;
  private readonly memo = new Map<string, Resolution>();

  constructor(
    readonly guardrails: ReadonlyMap<string, { definition: GuardrailDefinition; compiled: CompiledGuardrail; source: 'config' | 'api' }>,
    readonly policies: ReadonlyMap<string, { definition: PolicyDefinition; effective: readonly string[]; source: 'config' | 'api' }>,
    readonly attachments: readonly Attachment[],
  ) {
    const byScope = new Map<AttachmentScope, CompiledAttachment[]>();
    for (const attachment of attachments) {
      if (!policies.has(attachment.policy)) continue;
      const list = byScope.get(attachment.scope) ?? [];
      list.push({ attachment, matches: compileScopePattern(attachment.pattern) });
      byScope.set(attachment.scope, list);
    }
    this.byScope = byScope;
    this.hasAttachments = byScope.size > 0;
  }

  /** The policies and guardrails for a request context (memoised: the same context resolves once per snapshot). */
  resolve(ctx: PolicyContext): Resolution {
    if (!this.hasAttachments) return EMPTY_RESOLUTION;
    const key = `${ctx.team ?? ''}\u0000${ctx.key_alias ?? ''}\u0000${ctx.model ?? ''}\u0000${ctx.tags.join('\u0001')}`;
    const known = this.memo.get(key);
    if (known) return known;
    const resolution = this.compute(ctx);
    if (this.memo.size < MEMO_LIMIT) this.memo.set(key, resolution);
    return resolution;
  }

  /** The attachments that match a context, in the order policies are applied: team, key alias, model, tag. */
  private matching(ctx: PolicyContext): CompiledAttachment[] {
    const out: CompiledAttachment[] = [];
    const add = (scope: AttachmentScope, values: ReadonlyArray<string | null>) => {
      for (const a of this.byScope.get(scope) ?? []) if (values.some((v) => v !== null && a.matches(v))) out.push(a);
    };
    add('team', [ctx.team]);
    add('key_alias', [ctx.key_alias]);
    add('model', [ctx.model]);
    add('tag', ctx.tags);
    return out;
  }

  private compute(ctx: PolicyContext): Resolution {
    const matched = this.matching(ctx);
    if (matched.length === 0) return EMPTY_RESOLUTION;
    const policies: Array<{ name: string; source: string }> = [];
    const guardrails = new Map<string, ResolvedGuardrail>();
    for (const { attachment } of matched) {
      const source = `${attachment.scope}:${attachment.pattern}`;
      if (policies.some((p) => p.name === attachment.policy)) continue;
      policies.push({ name: attachment.policy, source });
      for (const name of this.policies.get(attachment.policy)!.effective) {
        const existing = guardrails.get(name);
        if (existing) {
          existing.policies.push(attachment.policy);
          continue;
        }
        const g = this.guardrails.get(name)!.definition;
        guardrails.set(name, { name, type: g.type, mode: g.mode, stage: g.stage, policies: [attachment.policy] });
      }
    }
    const list = [...guardrails.values()];
    const compiled = (stage: 'pre' | 'post') => list.filter((g) => g.stage === stage || g.stage === 'both').map((g) => this.guardrails.get(g.name)!.compiled);
    return Object.freeze({
      policies,
      guardrails: list,
      pre: compiled('pre'),
      post: compiled('post'),
      headers: Object.freeze({
        policies: policies.map((p) => p.name).join(','),
        guardrails: list.map((g) => g.name).join(','),
        sources: policies.map((p) => `${p.name}=${p.source}`).join(','),
      }),
    });
  }
}
