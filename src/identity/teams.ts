import type { AuditLog } from '../audit/audit-log.js';
import { GatewayError } from '../errors/gateway-error.js';
import { toMicros, type CreateTeamInput, type UpdateTeamInput } from '../keys/admin-schemas.js';
import { timeOrderedId } from '../keys/key-material.js';
import { ACCESS_CHANGED_CHANNEL, COLLECTIONS, type AccessChange, type TeamRecord } from '../keys/records.js';
import type { DocPage, ListOptions, Store, VersionedDoc } from '../storage/types.js';
import { updateDoc, type WriteOptions } from '../storage/update-doc.js';

export interface TeamServiceDeps {
  store: Store;
  audit: AuditLog;
  now: () => number;
}

function notFound(id: string): GatewayError {
  return new GatewayError('SF_ERR_NOT_FOUND', { message: `No team with id "${id.slice(0, 100)}".` });
}

/** The record with a PATCH applied: a pure function, so a compare-and-set retry can apply it again to a newer record. */
function applyTeamUpdate(current: TeamRecord, input: UpdateTeamInput, now: number): TeamRecord {
  const team: TeamRecord = { ...current, updated_at: now };
  if (input.name !== undefined) team.name = input.name;
  if (input.models !== undefined) team.models = input.models;
  if (input.max_budget !== undefined) team.max_budget_micros = input.max_budget === null ? null : toMicros(input.max_budget);
  if (input.budget_period !== undefined) team.budget_period = input.budget_period;
  if (input.rpm !== undefined) team.rpm = input.rpm;
  if (input.tpm !== undefined) team.tpm = input.tpm;
  if (input.metadata !== undefined) team.metadata = input.metadata;
  if (input.cache_namespace !== undefined) team.cache_namespace = input.cache_namespace;
  if (input.mcp_servers !== undefined) team.mcp_servers = input.mcp_servers;
  if (input.mcp_tools !== undefined) team.mcp_tools = input.mcp_tools;
  return team;
}

/** Teams: shared budgets, rate limits and model lists for groups of virtual keys. */
export class TeamService {
  constructor(private readonly deps: TeamServiceDeps) {}

  get(id: string): Promise<TeamRecord | undefined> {
    return this.deps.store.getDoc<TeamRecord>(COLLECTIONS.teams, id);
  }

  async require(id: string): Promise<TeamRecord> {
    return (await this.requireVersioned(id)).doc;
  }

  /** The record with its version, for admin views and `If-Match`. */
  async requireVersioned(id: string): Promise<VersionedDoc<TeamRecord>> {
    const found = await this.deps.store.getVersionedDoc<TeamRecord>(COLLECTIONS.teams, id);
    if (!found) throw notFound(id);
    return found;
  }

  list(options: ListOptions): Promise<DocPage<TeamRecord>> {
    return this.deps.store.listDocs<TeamRecord>(COLLECTIONS.teams, options);
  }

  async create(input: CreateTeamInput, actor: string): Promise<TeamRecord> {
    const now = this.deps.now();
    const team: TeamRecord = {
      id: input.id ?? timeOrderedId('team_', now),
      name: input.name,
      models: input.models,
      max_budget_micros: input.max_budget === undefined ? null : toMicros(input.max_budget),
      budget_period: input.budget_period,
      budget_generation: 0,
      rpm: input.rpm ?? null,
      tpm: input.tpm ?? null,
      metadata: input.metadata,
      cache_namespace: input.cache_namespace ?? null,
      mcp_servers: input.mcp_servers,
      mcp_tools: input.mcp_tools,
      created_at: now,
      updated_at: now,
    };
    if (!(await this.deps.store.createDoc(COLLECTIONS.teams, team.id, team))) {
      throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `A team with id "${team.id}" already exists.`, param: 'id' });
    }
    await this.deps.audit.record({ actor, action: 'team.create', target_type: 'team', target_id: team.id, details: { name: team.name } });
    return team;
  }

  /** Applies a PATCH with compare-and-set: fields the input leaves out keep whatever a concurrent writer put there. */
  async update(id: string, input: UpdateTeamInput, actor: string, options: WriteOptions = {}): Promise<VersionedDoc<TeamRecord>> {
    const result = await this.change(id, (team) => applyTeamUpdate(team, input, this.deps.now()), options);
    await this.deps.audit.record({ actor, action: 'team.update', target_type: 'team', target_id: id, details: { fields: Object.keys(input) } });
    return result;
  }

  /** Starts the current period afresh by bumping the budget generation (see VirtualKeyService.resetBudget). */
  async resetBudget(id: string, actor: string, details: Record<string, unknown>, options: WriteOptions = {}): Promise<VersionedDoc<TeamRecord>> {
    const now = this.deps.now();
    const result = await this.change(id, (team) => ({ ...team, budget_generation: team.budget_generation + 1, updated_at: now }), options);
    await this.deps.audit.record({ actor, action: 'team.budget_reset', target_type: 'team', target_id: id, details });
    return result;
  }

  /** One compare-and-set change, announced so every instance drops its cached copy. */
  private async change(id: string, fn: (team: TeamRecord) => TeamRecord, options: WriteOptions): Promise<VersionedDoc<TeamRecord>> {
    const result = await updateDoc(this.deps.store, COLLECTIONS.teams, id, fn, options);
    if (!result) throw notFound(id);
    await this.announce(id);
    return { doc: result.after, version: result.version };
  }

  private announce(id: string): Promise<void> {
    const change: AccessChange = { kind: 'team', id };
    return this.deps.store.publish(ACCESS_CHANGED_CHANNEL, JSON.stringify(change));
  }
}
