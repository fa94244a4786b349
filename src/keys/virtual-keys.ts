import type { AuditLog } from '../audit/audit-log.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { TeamService } from '../identity/teams.js';
import type { DocPage, ListOptions, Store, VersionedDoc } from '../storage/types.js';
import { UNCHANGED, updateDoc, type DocUpdate, type WriteOptions } from '../storage/update-doc.js';
import { toMicros, type CreateKeyInput, type UpdateKeyInput } from './admin-schemas.js';
import { generateVirtualKey, hashVirtualKey, previewVirtualKey, timeOrderedId } from './key-material.js';
import { ACCESS_CHANGED_CHANNEL, COLLECTIONS, type AccessChange, type VirtualKeyRecord } from './records.js';

export interface VirtualKeyServiceDeps {
  store: Store;
  teams: TeamService;
  audit: AuditLog;
  now: () => number;
}

interface IndexDoc {
  id: string;
}

function notFound(id: string): GatewayError {
  return new GatewayError('SF_ERR_NOT_FOUND', { message: `No virtual key with id "${id.slice(0, 100)}".` });
}

/** The record with a PATCH applied: a pure function, so a compare-and-set retry can apply it again to a newer record. */
function applyKeyUpdate(current: VirtualKeyRecord, input: UpdateKeyInput, now: number): VirtualKeyRecord {
  const next: VirtualKeyRecord = { ...current, updated_at: now };
  if (input.alias !== undefined) next.alias = input.alias;
  if (input.team_id !== undefined) next.team_id = input.team_id;
  if (input.user_id !== undefined) next.user_id = input.user_id;
  if (input.models !== undefined) next.models = input.models;
  if (input.max_budget !== undefined) next.max_budget_micros = input.max_budget === null ? null : toMicros(input.max_budget);
  if (input.budget_period !== undefined) next.budget_period = input.budget_period;
  if (input.rpm !== undefined) next.rpm = input.rpm;
  if (input.tpm !== undefined) next.tpm = input.tpm;
  if (input.tags !== undefined) next.tags = input.tags;
  if (input.metadata !== undefined) next.metadata = input.metadata;
  if (input.cache !== undefined) next.cache = input.cache;
  if (input.cache_namespace !== undefined) next.cache_namespace = input.cache_namespace;
  if (input.allow_byok !== undefined) next.allow_byok = input.allow_byok;
  if (input.expires_at !== undefined) next.expires_at = input.expires_at;
  if (input.mcp_servers !== undefined) next.mcp_servers = input.mcp_servers;
  if (input.mcp_tools !== undefined) next.mcp_tools = input.mcp_tools;
  return next;
}

/**
 * Creates and manages virtual keys. Every change is announced on the store's pub/sub so each
 * gateway instance drops its cached copy at once (revocation must not wait for a cache TTL).
 */
export class VirtualKeyService {
  constructor(private readonly deps: VirtualKeyServiceDeps) {}

  get(id: string): Promise<VirtualKeyRecord | undefined> {
    return this.deps.store.getDoc<VirtualKeyRecord>(COLLECTIONS.keys, id);
  }

  async require(id: string): Promise<VirtualKeyRecord> {
    return (await this.requireVersioned(id)).doc;
  }

  /** The record with its version, for admin views and `If-Match`. */
  async requireVersioned(id: string): Promise<VersionedDoc<VirtualKeyRecord>> {
    const found = await this.deps.store.getVersionedDoc<VirtualKeyRecord>(COLLECTIONS.keys, id);
    if (!found) throw notFound(id);
    return found;
  }

  async findByHash(keyHash: string): Promise<VirtualKeyRecord | undefined> {
    const index = await this.deps.store.getDoc<IndexDoc>(COLLECTIONS.keyHashes, keyHash);
    return index ? this.get(index.id) : undefined;
  }

  list(options: ListOptions): Promise<DocPage<VirtualKeyRecord>> {
    return this.deps.store.listDocs<VirtualKeyRecord>(COLLECTIONS.keys, options);
  }

  /** Returns the record and the key itself; the key is shown this once and never stored. */
  async create(input: CreateKeyInput, actor: string): Promise<{ record: VirtualKeyRecord; key: string }> {
    if (input.team_id !== undefined) await this.requireTeam(input.team_id);
    const now = this.deps.now();
    const key = generateVirtualKey();
    const record: VirtualKeyRecord = {
      id: timeOrderedId('vk_', now),
      alias: input.alias ?? null,
      key_hash: hashVirtualKey(key),
      key_preview: previewVirtualKey(key),
      team_id: input.team_id ?? null,
      user_id: input.user_id ?? null,
      models: input.models,
      max_budget_micros: input.max_budget === undefined ? null : toMicros(input.max_budget),
      budget_period: input.budget_period,
      budget_generation: 0,
      rpm: input.rpm ?? null,
      tpm: input.tpm ?? null,
      tags: input.tags,
      metadata: input.metadata,
      cache: input.cache ?? null,
      cache_namespace: input.cache_namespace ?? null,
      allow_byok: input.allow_byok,
      expires_at: input.expires_at ?? null,
      mcp_servers: input.mcp_servers,
      mcp_tools: input.mcp_tools,
      created_at: now,
      created_by: actor,
      updated_at: now,
      revoked_at: null,
      revoked_by: null,
    };
    // The alias is claimed first: a duplicate then leaves nothing behind.
    if (record.alias !== null) await this.claimAlias(record.alias, record.id);
    await this.deps.store.createDoc<IndexDoc>(COLLECTIONS.keyHashes, record.key_hash, { id: record.id });
    await this.deps.store.createDoc(COLLECTIONS.keys, record.id, record);
    await this.deps.audit.record({ actor, action: 'vkey.create', target_type: 'vkey', target_id: record.id, details: { alias: record.alias, team_id: record.team_id } });
    return { record, key };
  }

  /**
   * Applies a PATCH with compare-and-set: fields the input leaves out keep whatever a concurrent
   * writer put there, and a revoke that lands first stays revoked.
   */
  async update(id: string, input: UpdateKeyInput, actor: string, options: WriteOptions = {}): Promise<VersionedDoc<VirtualKeyRecord>> {
    const current = await this.require(id);
    if (input.team_id) await this.requireTeam(input.team_id);
    // The new alias is claimed before the write so a duplicate fails cleanly; if the write fails, the claim goes.
    // An alias equal to the one read is no change: re-applying it over a concurrent rename would
    // point the record at an alias whose index entry that rename released.
    const { alias, ...rest } = input;
    const changes: UpdateKeyInput = alias !== undefined && alias !== current.alias ? { ...rest, alias } : rest;
    const claimed = changes.alias ?? null;
    if (claimed !== null) await this.claimAlias(claimed, id);
    let result;
    try {
      result = await this.change(id, (record) => applyKeyUpdate(record, changes, this.deps.now()), options);
    } catch (err) {
      if (claimed !== null) await this.releaseAlias(claimed, id);
      throw err;
    }
    const { before, after } = result;
    if (before.alias !== null && before.alias !== after.alias) await this.releaseAlias(before.alias, id);
    await this.deps.audit.record({ actor, action: 'vkey.update', target_type: 'vkey', target_id: id, details: { fields: Object.keys(input) } });
    return { doc: after, version: result.version };
  }

  /** Idempotent: revoking a revoked key changes nothing. */
  async revoke(id: string, actor: string, options: WriteOptions = {}): Promise<VersionedDoc<VirtualKeyRecord>> {
    const now = this.deps.now();
    const result = await this.change(id, (record) => (record.revoked_at !== null ? UNCHANGED : { ...record, revoked_at: now, revoked_by: actor, updated_at: now }), options);
    if (result.before.revoked_at === null) await this.deps.audit.record({ actor, action: 'vkey.revoke', target_type: 'vkey', target_id: id, details: {} });
    return { doc: result.after, version: result.version };
  }

  /**
   * Starts the current period afresh. Counters are keyed by the budget generation, so bumping it
   * is atomic with respect to requests in flight: they settle against the old counters.
   */
  async resetBudget(id: string, actor: string, details: Record<string, unknown>, options: WriteOptions = {}): Promise<VersionedDoc<VirtualKeyRecord>> {
    const now = this.deps.now();
    const result = await this.change(id, (record) => ({ ...record, budget_generation: record.budget_generation + 1, updated_at: now }), options);
    await this.deps.audit.record({ actor, action: 'vkey.budget_reset', target_type: 'vkey', target_id: id, details });
    return { doc: result.after, version: result.version };
  }

  /** One compare-and-set change, announced so every instance drops its cached copy. */
  private async change(id: string, fn: (record: VirtualKeyRecord) => VirtualKeyRecord | typeof UNCHANGED, options: WriteOptions): Promise<DocUpdate<VirtualKeyRecord>> {
    const result = await updateDoc(this.deps.store, COLLECTIONS.keys, id, fn, options);
    if (!result) throw notFound(id);
    if (result.after !== result.before) {
      const change: AccessChange = { kind: 'key', id };
      await this.deps.store.publish(ACCESS_CHANGED_CHANNEL, JSON.stringify(change));
    }
    return result;
  }

  private async releaseAlias(alias: string, id: string): Promise<void> {
    const owner = await this.deps.store.getDoc<IndexDoc>(COLLECTIONS.keyAliases, alias);
    if (owner?.id === id) await this.deps.store.deleteDoc(COLLECTIONS.keyAliases, alias);
  }

  private async claimAlias(alias: string, id: string): Promise<void> {
    if (!(await this.deps.store.createDoc<IndexDoc>(COLLECTIONS.keyAliases, alias, { id }))) {
      throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `The alias "${alias}" is already used by another key.`, param: 'alias' });
    }
  }

  private async requireTeam(teamId: string): Promise<void> {
    if (!(await this.deps.teams.get(teamId))) {
      throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `No team with id "${teamId}". Create it with POST /api/teams first.`, param: 'team_id' });
    }
  }
}
