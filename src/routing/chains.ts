import { GatewayError } from '../errors/gateway-error.js';
import { updateDoc } from '../storage/update-doc.js';
import type { RequestLog } from '../core/request-log.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Store, Unsubscribe } from '../storage/types.js';
import type { FallbackChain } from './chain-schema.js';
import { chainProblem, type ChainReferences } from './chain-validation.js';

const COLLECTION = 'fallback_chains';
const CHANNEL = 'routing-changed';

export interface StoredChain {
  chain: FallbackChain;
  /** `config`: declared in smartflow.yaml (read-only through the API); `api`: kept in the store. */
  source: 'config' | 'api';
}

interface Snapshot {
  chains: ReadonlyMap<string, StoredChain>;
  /** Model name -> chain id, for chains that bind model names. */
  bindings: ReadonlyMap<string, string>;
}

/**
 * Fallback chains from smartflow.yaml and from the admin API (kept in the store). Requests read an
 * immutable snapshot; an API change is saved, announced on pub/sub, and every instance rebuilds
 * its snapshot from the store, so changes apply everywhere without a restart.
 */
export class ChainRegistry {
  private snapshot: Snapshot = { chains: new Map(), bindings: new Map() };
  private unsubscribe: Unsubscribe | null = null;

  constructor(
    private readonly deps: { store: Store; registry: ProviderRegistry; configChains: readonly FallbackChain[]; log: RequestLog },
  ) {}

  /** Loads the chains; throws if a chain in smartflow.yaml references something that does not exist. */
  async start(): Promise<void> {
    const configured = new Map<string, StoredChain>();
    for (const chain of this.deps.configChains) configured.set(chain.id, { chain, source: 'config' });
    const base = build(configured);
    for (const [i, chain] of this.deps.configChains.entries()) {
      const problem = chainProblem(chain, this.references(base, chain));
      if (problem) throw new Error(`routing.fallback_chains[${i}].${problem.param}: ${problem.message}`);
    }
    await this.reload();
    this.unsubscribe = await this.deps.store.subscribe(CHANNEL, () => {
      this.reload().catch((err: unknown) => this.deps.log.error({ err }, 'could not reload fallback chains'));
    });
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  list(): StoredChain[] {
    return [...this.snapshot.chains.values()].sort((a, b) => (a.chain.id < b.chain.id ? -1 : a.chain.id > b.chain.id ? 1 : 0));
  }

  get(id: string): StoredChain | undefined {
    return this.snapshot.chains.get(id);
  }

  require(id: string): StoredChain {
    const stored = this.snapshot.chains.get(id);
    if (!stored) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No fallback chain with id "${id.slice(0, 100)}".` });
    return stored;
  }

  /** The chain a request for `model` walks: the chain with that id, or the one binding that model name. */
  forModel(model: string): FallbackChain | undefined {
    const direct = this.snapshot.chains.get(model);
    if (direct) return direct.chain;
    const bound = this.snapshot.bindings.get(model);
    return bound === undefined ? undefined : this.snapshot.chains.get(bound)?.chain;
  }

  async create(chain: FallbackChain): Promise<StoredChain> {
    if (this.snapshot.chains.has(chain.id)) {
      throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `A chain with id "${chain.id}" already exists; PUT /api/routing/fallback-chains/${chain.id} replaces it.`, param: 'id' });
    }
    this.check(chain);
    if (!(await this.deps.store.createDoc(COLLECTION, chain.id, chain))) {
      throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `A chain with id "${chain.id}" already exists.`, param: 'id' });
    }
    await this.changed();
    return { chain, source: 'api' };
  }

  async replace(chain: FallbackChain): Promise<StoredChain> {
    const current = this.requireApiChain(chain.id);
    this.check(chain);
    // Compare-and-set, so a replace racing a delete cannot bring the chain back.
    if (!(await updateDoc(this.deps.store, COLLECTION, chain.id, () => chain))) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No fallback chain with id "${chain.id}".` });
    await this.changed();
    return { ...current, chain };
  }

  async delete(id: string): Promise<void> {
    this.requireApiChain(id);
    const user = this.list().find((c) => c.chain.targets.some((t) => t.chain === id));
    if (user) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `The chain "${user.chain.id}" uses "${id}" as a target; change it first.`, param: 'id' });
    await this.deps.store.deleteDoc(COLLECTION, id);
    await this.changed();
  }

  private requireApiChain(id: string): StoredChain {
    const current = this.require(id);
    if (current.source === 'config') {
      throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `The chain "${id}" is declared in smartflow.yaml; change it there.`, param: 'id' });
    }
    return current;
  }

  private check(chain: FallbackChain): void {
    const problem = chainProblem(chain, this.references(this.snapshot, chain));
    if (problem) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `${problem.param}: ${problem.message}`, param: problem.param });
  }

  /** References as they would be with `candidate` saved over its current version. */
  private references(snapshot: Snapshot, candidate: FallbackChain): ChainReferences {
    const { registry } = this.deps;
    return {
      hasProvider: (name) => registry.hasProvider(name),
      hasModel: (name) => registry.resolveGroup(name).length > 0,
      hasDeployment: (provider, model) => registry.deploymentFor(provider, model) !== undefined,
      chain: (id) => (id === candidate.id ? candidate : snapshot.chains.get(id)?.chain),
      chainBinding: (model) => snapshot.bindings.get(model),
    };
  }

  private async changed(): Promise<void> {
    await this.reload();
    await this.deps.store.publish(CHANNEL, '1');
  }

  private async reload(): Promise<void> {
    const all = new Map<string, StoredChain>();
    for (const chain of this.deps.configChains) all.set(chain.id, { chain, source: 'config' });
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listDocs<FallbackChain>(COLLECTION, { limit: 500, ...(cursor ? { cursor } : {}) });
      for (const { id, doc } of page.items) if (!all.has(id)) all.set(id, { chain: doc, source: 'api' });
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    this.snapshot = build(all);
  }
}

function build(chains: Map<string, StoredChain>): Snapshot {
  const bindings = new Map<string, string>();
  for (const { chain } of chains.values()) for (const model of chain.models) if (!bindings.has(model)) bindings.set(model, chain.id);
  return { chains, bindings };
}
