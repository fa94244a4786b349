import type { RequestLog } from '../core/request-log.js';
import type { Resealer } from '../crypto/resealer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { Store, Unsubscribe } from '../storage/types.js';
import { allDocs } from '../storage/all-docs.js';
import { UNCHANGED, updateDoc, type WriteOptions } from '../storage/update-doc.js';
import type { AgentProfile } from './agent-schema.js';

const COLLECTION = 'a2a_agents';
const CHANNEL = 'a2a-agents-changed';

interface AgentRecord {
  profile: AgentProfile;
  created_at: number;
  created_by: string;
  updated_at: number;
}

export interface StoredAgent {
  profile: AgentProfile;
  /** `config`: declared in smartflow.yaml (read-only through the API); `api`: kept in the store. */
  source: 'config' | 'api';
  /** Store version (the ETag); null for config agents. */
  version: number | null;
  created_at: number | null;
  created_by: string | null;
  updated_at: number | null;
}

export interface AgentRegistryDeps {
  store: Store;
  configAgents: readonly AgentProfile[];
  /** Seals the remote agents' header values in the store. */
  secrets: SecretBox;
  now: () => number;
  log: RequestLog;
}

function notFound(id: string): GatewayError {
  return new GatewayError('SF_ERR_NOT_FOUND', { message: `No A2A agent "${id.slice(0, 100)}".` });
}

/**
 * A2A agent profiles from smartflow.yaml and from the admin API (kept in the store). Lookups read
 * an immutable snapshot; API writes are compare-and-set, announced on pub/sub, and every instance
 * rebuilds its snapshot from the store (as the MCP server registry does).
 */
export class AgentRegistry {
  private snapshot: ReadonlyMap<string, StoredAgent> = new Map();
  private unsubscribe: Unsubscribe | null = null;
  private readonly configIds: ReadonlySet<string>;

  constructor(private readonly deps: AgentRegistryDeps) {
    this.configIds = new Set(deps.configAgents.map((a) => a.id));
  }

  async start(): Promise<void> {
    await this.reload();
    this.unsubscribe = await this.deps.store.subscribe(CHANNEL, () => {
      this.reload().catch((err: unknown) => this.deps.log.error({ err }, 'could not reload A2A agents'));
    });
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Every agent, ordered by id. */
  list(): StoredAgent[] {
    return [...this.snapshot.values()].sort((a, b) => (a.profile.id < b.profile.id ? -1 : 1));
  }

  get(id: string): StoredAgent | undefined {
    return this.snapshot.get(id);
  }

  require(id: string): StoredAgent {
    const found = this.get(id);
    if (!found) throw notFound(id);
    return found;
  }

  async create(profile: AgentProfile, actor: string): Promise<StoredAgent> {
    if (this.configIds.has(profile.id)) throw this.readOnly(profile.id);
    const now = this.deps.now();
    const created = await this.deps.store.createDoc<AgentRecord>(COLLECTION, profile.id, { profile: this.sealed(profile), created_at: now, created_by: actor, updated_at: now });
    if (!created) throw new GatewayError('SF_ERR_CONFLICT', { message: `An A2A agent "${profile.id}" already exists.` });
    await this.changed();
    return this.require(profile.id);
  }

  /** Replaces the profile with compare-and-set (`If-Match` makes it conditional). */
  async replace(id: string, profile: Omit<AgentProfile, 'id'>, options: WriteOptions = {}): Promise<StoredAgent> {
    if (this.configIds.has(id)) throw this.readOnly(id);
    const result = await updateDoc<AgentRecord>(this.deps.store, COLLECTION, id, (record) => ({ ...record, profile: this.sealed({ ...profile, id }), updated_at: this.deps.now() }), options);
    if (!result) throw notFound(id);
    await this.changed();
    return this.require(id);
  }

  async delete(id: string, options: WriteOptions = {}): Promise<void> {
    if (this.configIds.has(id)) throw this.readOnly(id);
    if (options.ifVersion !== undefined) {
      const current = await this.deps.store.getVersionedDoc<AgentRecord>(COLLECTION, id);
      if (current && current.version !== options.ifVersion) {
        throw new GatewayError('SF_ERR_CONFLICT', { message: `The resource is at version ${current.version}, not ${options.ifVersion} as If-Match says; read it again and retry.` });
      }
    }
    if (!(await this.deps.store.deleteDoc(COLLECTION, id))) throw notFound(id);
    await this.changed();
  }

  /** The profile as stored: remote header values encrypted, bound to the agent and header name. */
  private sealed(profile: AgentProfile): AgentProfile {
    if (!profile.remote) return profile;
    const headers = Object.fromEntries(Object.entries(profile.remote.headers).map(([name, value]) => [name, this.deps.secrets.seal(value, `a2a/${profile.id}/${name.toLowerCase()}`)]));
    return { ...profile, remote: { ...profile.remote, headers } };
  }

  /** The profile with its header values opened; values that do not open (another secrets key) are left out and logged. */
  private opened(profile: AgentProfile): AgentProfile {
    if (!profile.remote) return profile;
    const headers: Record<string, string> = {};
    for (const [name, sealed] of Object.entries(profile.remote.headers)) {
      try {
        headers[name] = this.deps.secrets.open(sealed, `a2a/${profile.id}/${name.toLowerCase()}`);
      } catch {
        this.deps.log.warn({ a2a_agent: profile.id, header: name }, 'A2A remote agent header did not decrypt (was secrets.key or the master key changed?)');
      }
    }
    return { ...profile, remote: { ...profile.remote, headers } };
  }

  private readOnly(id: string): GatewayError {
    return new GatewayError('SF_ERR_INVALID_REQUEST', { message: `The A2A agent "${id}" is declared in smartflow.yaml; change it there.`, param: 'id' });
  }

  private async changed(): Promise<void> {
    await this.reload();
    await this.deps.store.publish(CHANNEL, '1');
  }

  private async reload(): Promise<void> {
    const byId = new Map<string, StoredAgent>();
    for (const profile of this.deps.configAgents) byId.set(profile.id, { profile, source: 'config', version: null, created_at: null, created_by: null, updated_at: null });
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listDocs<AgentRecord>(COLLECTION, { limit: 500, ...(cursor ? { cursor } : {}) });
      for (const { id, doc, version } of page.items) {
        // The file wins over the store.
        if (byId.has(id)) continue;
        byId.set(id, { profile: this.opened(doc.profile), source: 'api', version, created_at: doc.created_at, created_by: doc.created_by, updated_at: doc.updated_at });
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    this.snapshot = byId;
  }
}

/** `smartflow secrets rotate`: remote agents' header values, sealed again under the new key (compare-and-set). */
export async function resealAgentSecrets(store: Store, resealer: Resealer): Promise<number> {
  let moved = 0;
  for (const { id } of await allDocs<AgentRecord>(store, COLLECTION)) {
    await updateDoc<AgentRecord>(store, COLLECTION, id, (r) => {
      const remote = r.profile.remote;
      if (!remote) return UNCHANGED;
      const headers = Object.fromEntries(Object.entries(remote.headers).map(([name, v]) => [name, resealer.move(v, `a2a/${r.profile.id}/${name.toLowerCase()}`, `a2a_agents/${id}/remote.headers.${name}`)]));
      return { ...r, profile: { ...r.profile, remote: { ...remote, headers } } };
    });
    moved += 1;
  }
  return moved;
}
