import type { RequestLog } from '../core/request-log.js';
import { GatewayError } from '../errors/gateway-error.js';
import { compileGuardrail } from '../guardrails/compile.js';
import type { GuardrailDefinition } from '../guardrails/guardrail-schema.js';
import type { Store, Unsubscribe } from '../storage/types.js';
import { updateDoc } from '../storage/update-doc.js';
import { effectiveSets } from './effective-set.js';
import { attachmentId, type Attachment, type AttachmentInput, type PolicyDefinition } from './policy-schema.js';
import { PolicySnapshot } from './policy-snapshot.js';

const COLLECTIONS = { guardrails: 'guardrails', policies: 'policies', attachments: 'policy_attachments' } as const;
const CHANNEL = 'policies-changed';

export type Source = 'config' | 'api';

export interface PolicyRegistryDeps {
  store: Store;
  /** Guardrails and policies declared in smartflow.yaml: read-only through the API. */
  configGuardrails: readonly GuardrailDefinition[];
  configPolicies: readonly PolicyDefinition[];
  now: () => number;
  log: RequestLog;
}

const invalid = (message: string, param: string) => new GatewayError('SF_ERR_INVALID_REQUEST', { message, param });
const notFound = (what: string, name: string) => new GatewayError('SF_ERR_NOT_FOUND', { message: `No ${what} named "${name.slice(0, 100)}".` });

async function readAll<T>(store: Store, collection: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listDocs<T>(collection, { limit: 500, ...(cursor ? { cursor } : {}) });
    for (const { doc } of page.items) out.push(doc);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/**
 * Guardrails, policies and their attachments, from smartflow.yaml and the admin API (kept in the
 * store). Requests read one immutable snapshot; a change is written with compare-and-set,
 * announced on pub/sub, and every instance rebuilds its snapshot from the store.
 */
export class PolicyRegistry {
  private current: PolicySnapshot = new PolicySnapshot(new Map(), new Map(), []);
  private unsubscribe: Unsubscribe | null = null;

  constructor(private readonly deps: PolicyRegistryDeps) {}

  /** Loads everything; throws when smartflow.yaml's policies reference what does not exist or form a cycle. */
  async start(): Promise<void> {
    const names = new Set(this.deps.configGuardrails.map((g) => g.name));
    const problem = effectiveSets(new Map(this.deps.configPolicies.map((p) => [p.name, p])), (g) => names.has(g));
    if (!(problem instanceof Map)) throw new Error(`policies (${problem.policy}).${problem.param}: ${problem.message}`);
    await this.reload();
    this.unsubscribe = await this.deps.store.subscribe(CHANNEL, () => {
      this.reload().catch((err: unknown) => this.deps.log.error({ err }, 'could not reload guardrail policies'));
    });
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** The snapshot requests read: swapped whole on every change, never mutated. */
  snapshot(): PolicySnapshot {
    return this.current;
  }

  // Guardrails

  listGuardrails(): Array<{ definition: GuardrailDefinition; source: Source }> {
    return [...this.current.guardrails.values()].map(({ definition, source }) => ({ definition, source })).sort((a, b) => (a.definition.name < b.definition.name ? -1 : 1));
  }

  requireGuardrail(name: string): { definition: GuardrailDefinition; source: Source } {
    const g = this.current.guardrails.get(name);
    if (!g) throw notFound('guardrail', name);
    return { definition: g.definition, source: g.source };
  }

  async createGuardrail(def: GuardrailDefinition): Promise<void> {
    if (this.current.guardrails.has(def.name)) throw invalid(`A guardrail named "${def.name}" already exists; PUT /api/guardrails/${def.name} replaces it.`, 'name');
    if (!(await this.deps.store.createDoc(COLLECTIONS.guardrails, def.name, def))) throw invalid(`A guardrail named "${def.name}" already exists.`, 'name');
    await this.changed();
  }

  async replaceGuardrail(def: GuardrailDefinition): Promise<void> {
    this.requireApi(this.requireGuardrail(def.name).source, 'guardrail', def.name);
    if (!(await updateDoc<GuardrailDefinition>(this.deps.store, COLLECTIONS.guardrails, def.name, () => def))) throw notFound('guardrail', def.name);
    await this.changed();
  }

  async deleteGuardrail(name: string): Promise<void> {
    this.requireApi(this.requireGuardrail(name).source, 'guardrail', name);
    const user = [...this.current.policies.values()].find(({ definition: p }) => p.add.includes(name) || p.remove.includes(name));
    if (user) throw invalid(`The policy "${user.definition.name}" names the guardrail "${name}"; change it first.`, 'name');
    await this.deps.store.deleteDoc(COLLECTIONS.guardrails, name);
    await this.changed();
  }

  // Policies

  listPolicies(): Array<{ definition: PolicyDefinition; effective: readonly string[]; source: Source }> {
    return [...this.current.policies.values()].sort((a, b) => (a.definition.name < b.definition.name ? -1 : 1));
  }

  requirePolicy(name: string): { definition: PolicyDefinition; effective: readonly string[]; source: Source } {
    const p = this.current.policies.get(name);
    if (!p) throw notFound('policy', name);
    return p;
  }

  async createPolicy(policy: PolicyDefinition): Promise<void> {
    if (this.current.policies.has(policy.name)) throw invalid(`A policy named "${policy.name}" already exists; PUT /api/policies/${policy.name} replaces it.`, 'name');
    this.check(policy);
    if (!(await this.deps.store.createDoc(COLLECTIONS.policies, policy.name, policy))) throw invalid(`A policy named "${policy.name}" already exists.`, 'name');
    await this.changed();
  }

  async replacePolicy(policy: PolicyDefinition): Promise<void> {
    this.requireApi(this.requirePolicy(policy.name).source, 'policy', policy.name);
    this.check(policy);
    if (!(await updateDoc<PolicyDefinition>(this.deps.store, COLLECTIONS.policies, policy.name, () => policy))) throw notFound('policy', policy.name);
    await this.changed();
  }

  async deletePolicy(name: string): Promise<void> {
    this.requireApi(this.requirePolicy(name).source, 'policy', name);
    const child = [...this.current.policies.values()].find(({ definition: p }) => p.parent === name);
    if (child) throw invalid(`The policy "${child.definition.name}" inherits from "${name}"; change it first.`, 'name');
    const attached = this.current.attachments.find((a) => a.policy === name);
    if (attached) throw invalid(`The policy "${name}" is attached (${attached.scope}:${attached.pattern}); detach it first.`, 'name');
    await this.deps.store.deleteDoc(COLLECTIONS.policies, name);
    await this.changed();
  }

  // Attachments

  listAttachments(): readonly Attachment[] {
    return this.current.attachments;
  }

  async attach(input: AttachmentInput): Promise<Attachment> {
    this.requirePolicy(input.policy);
    const attachment: Attachment = { id: attachmentId(input), ...input, created_at: this.deps.now() };
    if (!(await this.deps.store.createDoc(COLLECTIONS.attachments, attachment.id, attachment))) {
      throw invalid(`The policy "${input.policy}" is already attached to ${input.scope}:${input.pattern}.`, 'pattern');
    }
    await this.changed();
    return attachment;
  }

  async detach(input: AttachmentInput): Promise<void> {
    if (!(await this.deps.store.deleteDoc(COLLECTIONS.attachments, attachmentId(input)))) {
      throw new GatewayError('SF_ERR_NOT_FOUND', { message: `The policy "${input.policy}" is not attached to ${input.scope}:${input.pattern}.` });
    }
    await this.changed();
  }

  private requireApi(source: Source, what: string, name: string): void {
    if (source === 'config') throw invalid(`The ${what} "${name}" is declared in smartflow.yaml; change it there.`, 'name');
  }

  /** The policies as they would be with `candidate` saved: every name must exist and parents must not loop. */
  private check(candidate: PolicyDefinition): void {
    const policies = new Map([...this.current.policies].map(([name, p]) => [name, p.definition]));
    policies.set(candidate.name, candidate);
    const result = effectiveSets(policies, (g) => this.current.guardrails.has(g));
    if (!(result instanceof Map)) throw invalid(result.message, result.param);
  }

  private async changed(): Promise<void> {
    await this.reload();
    await this.deps.store.publish(CHANNEL, '1');
  }

  private async reload(): Promise<void> {
    const [storedGuardrails, storedPolicies, attachments] = await Promise.all([
      readAll<GuardrailDefinition>(this.deps.store, COLLECTIONS.guardrails),
      readAll<PolicyDefinition>(this.deps.store, COLLECTIONS.policies),
      readAll<Attachment>(this.deps.store, COLLECTIONS.attachments),
    ]);
    const guardrails = new Map<string, { definition: GuardrailDefinition; compiled: ReturnType<typeof compileGuardrail>; source: Source }>();
    for (const definition of this.deps.configGuardrails) guardrails.set(definition.name, { definition, compiled: compileGuardrail(definition), source: 'config' });
    for (const definition of storedGuardrails) if (!guardrails.has(definition.name)) guardrails.set(definition.name, { definition, compiled: compileGuardrail(definition), source: 'api' });
    const definitions = new Map<string, { definition: PolicyDefinition; source: Source }>();
    for (const definition of this.deps.configPolicies) definitions.set(definition.name, { definition, source: 'config' });
    for (const definition of storedPolicies) if (!definitions.has(definition.name)) definitions.set(definition.name, { definition, source: 'api' });
    // Two admins racing on two instances can store a cycle each check alone would have refused:
    // such a policy is left out (and logged) rather than breaking every other one.
    for (;;) {
      const sets = effectiveSets(new Map([...definitions].map(([n, p]) => [n, p.definition])), (g) => guardrails.has(g));
      if (sets instanceof Map) {
        const policies = new Map([...definitions].map(([name, p]) => [name, { ...p, effective: Object.freeze(sets.get(name)!) }]));
        this.current = new PolicySnapshot(guardrails, policies, Object.freeze(attachments.sort((a, b) => (a.id < b.id ? -1 : 1))));
        return;
      }
      this.deps.log.error({ policy: sets.policy }, `guardrail policy left out: ${sets.message}`);
      definitions.delete(sets.policy);
    }
  }
}
