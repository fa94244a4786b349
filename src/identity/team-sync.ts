import type { AuditLog } from '../audit/audit-log.js';
import { toMicros } from '../keys/admin-schemas.js';
import { COLLECTIONS, type TeamRecord } from '../keys/records.js';
import type { Store } from '../storage/types.js';
import { UNCHANGED, updateDoc } from '../storage/update-doc.js';
import type { GraphGroup } from './graph-groups.js';
import { changeUser, withMember, withoutMember } from './memberships.js';
import { teamIdForGroup, type SsoIdentity } from './sso-claims.js';
import type { ResolvedSso } from './sso-config.js';
import type { UserRecord } from './users.js';

export interface SyncResult {
  user: UserRecord;
  teams: TeamRecord[];
  created: string[];
  added: string[];
  removed: string[];
}

/**
 * Makes the store match one sign-in: a team per group (created with the default team
 * settings), the user's SSO membership in each, and no SSO membership in teams whose group the
 * user left. Manual memberships are never touched. Every write is compare-and-set, so sign-ins
 * on several instances at once all land.
 */
export class TeamSync {
  constructor(private readonly deps: { store: Store; audit: AuditLog; now: () => number; groupName: (group: GraphGroup, sso: ResolvedSso) => Promise<string | null> }) {}

  async sync(identity: SsoIdentity, sso: ResolvedSso): Promise<SyncResult> {
    const now = this.deps.now();
    const actor = `sso:${identity.userId}`;
    const teams: TeamRecord[] = [];
    const created: string[] = [];
    const added: string[] = [];
    for (const group of identity.groups) {
      const outcome = await this.joinTeam(group, identity.userId, sso, now);
      teams.push(outcome.team);
      if (outcome.created) created.push(outcome.team.id);
      if (outcome.added) added.push(outcome.team.id);
    }
    const teamIds = teams.map((t) => t.id);
    let previous: string[] = [];
    const user = await changeUser(this.deps.store, identity.userId, now, (u) => {
      previous = u.sso_team_ids;
      return { ...u, email: identity.email, name: identity.name, role: identity.role, sso_team_ids: teamIds, last_sign_in_at: now, updated_at: now };
    });
    const removed: string[] = [];
    for (const teamId of previous.filter((id) => !teamIds.includes(id))) {
      const result = await updateDoc<TeamRecord>(this.deps.store, COLLECTIONS.teams, teamId, (t) => {
        const next = withoutMember(t, identity.userId, 'sso', now);
        return next === UNCHANGED ? UNCHANGED : { ...next, sso: t.sso ? { ...t.sso, last_sync_at: now } : undefined };
      });
      if (result && result.before !== result.after) removed.push(teamId);
    }
    for (const teamId of created) await this.deps.audit.record({ actor, action: 'sso.team_create', target_type: 'team', target_id: teamId, details: {} });
    if (added.length || removed.length) await this.deps.audit.record({ actor, action: 'sso.sync', target_type: 'user', target_id: identity.userId, details: { added, removed, role: identity.role } });
    return { user, teams, created, added, removed };
  }

  /** The user's SSO membership in the group's team, creating the team when it is the first sign-in of the group. */
  private async joinTeam(group: GraphGroup, userId: string, sso: ResolvedSso, now: number): Promise<{ team: TeamRecord; created: boolean; added: boolean }> {
    const id = teamIdForGroup(group.id);
    for (let attempt = 0; attempt < 4; attempt++) {
      const result = await updateDoc<TeamRecord>(this.deps.store, COLLECTIONS.teams, id, (t) => {
        const next = withMember(t, userId, 'sso', now);
        return { ...(next === UNCHANGED ? t : next), sso: { group_id: group.id, last_sync_at: now } };
      });
      if (result) return { team: result.after, created: false, added: !(result.before.members ?? []).some((m) => m.user_id === userId && m.source === 'sso') };
      const team = await this.newTeam(id, group, userId, sso, now);
      // Lost the race to another sign-in creating the same team: join the one it created.
      if (await this.deps.store.createDoc(COLLECTIONS.teams, id, team)) return { team, created: true, added: true };
    }
    throw new Error(`team ${id} could be neither created nor updated`);
  }

  private async newTeam(id: string, group: GraphGroup, userId: string, sso: ResolvedSso, now: number): Promise<TeamRecord> {
    const d = sso.default_team;
    const name = group.displayName ?? (sso.graph.resolve_names ? await this.deps.groupName(group, sso) : null) ?? group.id;
    return {
      id,
      name: name.slice(0, 200),
      models: d.models,
      max_budget_micros: d.max_budget === undefined ? null : toMicros(d.max_budget),
      budget_period: d.budget_period,
      budget_generation: 0,
      rpm: null,
      tpm: null,
      metadata: { sso_group_id: group.id, ...(d.guardrail_policy ? { guardrail_policy: d.guardrail_policy } : {}) },
      cache_namespace: null,
      mcp_servers: [],
      mcp_tools: [],
      members: [{ user_id: userId, source: 'sso', added_at: now }],
      sso: { group_id: group.id, last_sync_at: now },
      created_at: now,
      updated_at: now,
    };
  }
}
