import { GatewayError } from '../errors/gateway-error.js';
import { COLLECTIONS, type TeamMember, type TeamRecord } from '../keys/records.js';
import type { Store } from '../storage/types.js';
import { UNCHANGED, updateDoc } from '../storage/update-doc.js';
import { newUser, USERS_COLLECTION, type UserRecord } from './users.js';

/** Pure: the team with the user's membership of this source added (unchanged when present). */
export function withMember(team: TeamRecord, userId: string, source: TeamMember['source'], now: number): TeamRecord | typeof UNCHANGED {
  const members = team.members ?? [];
  if (members.some((m) => m.user_id === userId && m.source === source)) return UNCHANGED;
  return { ...team, members: [...members, { user_id: userId, source, added_at: now }], updated_at: now };
}

/** Pure: the team without the user's membership of this source (the other source's stays). */
export function withoutMember(team: TeamRecord, userId: string, source: TeamMember['source'], now: number): TeamRecord | typeof UNCHANGED {
  const members = team.members ?? [];
  const kept = members.filter((m) => !(m.user_id === userId && m.source === source));
  return kept.length === members.length ? UNCHANGED : { ...team, members: kept, updated_at: now };
}

/** Distinct users in the team. */
export function memberCount(team: TeamRecord): number {
  return new Set((team.members ?? []).map((m) => m.user_id)).size;
}

/**
 * Changes a user record with compare-and-set, creating it first when the user is new (two
 * instances creating the same user at once: one creates, the other's change lands on top).
 */
export async function changeUser(store: Store, userId: string, now: number, change: (user: UserRecord) => UserRecord | typeof UNCHANGED): Promise<UserRecord> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const result = await updateDoc<UserRecord>(store, USERS_COLLECTION, userId, change);
    if (result) return result.after;
    const created = change(newUser(userId, now));
    if (await store.createDoc(USERS_COLLECTION, userId, created === UNCHANGED ? newUser(userId, now) : created)) {
      return created === UNCHANGED ? newUser(userId, now) : created;
    }
  }
  throw new GatewayError('SF_ERR_CONFLICT');
}

/** An admin's membership changes, written to the team and the user, both compare-and-set. */
export class ManualMemberships {
  constructor(private readonly deps: { store: Store; now: () => number }) {}

  async add(teamId: string, userId: string): Promise<TeamRecord> {
    const now = this.deps.now();
    const result = await updateDoc<TeamRecord>(this.deps.store, COLLECTIONS.teams, teamId, (t) => withMember(t, userId, 'manual', now));
    if (!result) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No team with id "${teamId}".` });
    await changeUser(this.deps.store, userId, now, (u) => (u.manual_team_ids.includes(teamId) ? UNCHANGED : { ...u, manual_team_ids: [...u.manual_team_ids, teamId], updated_at: now }));
    return result.after;
  }

  async remove(teamId: string, userId: string): Promise<TeamRecord> {
    const now = this.deps.now();
    const result = await updateDoc<TeamRecord>(this.deps.store, COLLECTIONS.teams, teamId, (t) => withoutMember(t, userId, 'manual', now));
    if (!result) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No team with id "${teamId}".` });
    await updateDoc<UserRecord>(this.deps.store, USERS_COLLECTION, userId, (u) =>
      u.manual_team_ids.includes(teamId) ? { ...u, manual_team_ids: u.manual_team_ids.filter((id) => id !== teamId), updated_at: now } : UNCHANGED,
    );
    return result.after;
  }
}
