import type { Role } from './roles.js';

/** A person known to the gateway, written by SSO sign-in (and by admins adding them to a team). Times in epoch ms. */
export interface UserRecord {
  /** Entra's `oid` (stable across apps), else the token's `sub`. */
  id: string;
  email: string | null;
  name: string | null;
  /** Resolved at the last sign-in from the App Roles; `internal_user` before any. */
  role: Role;
  /** Teams the last sign-in's groups put the user in. */
  sso_team_ids: string[];
  /** Teams an admin added the user to; sign-in never changes these. */
  manual_team_ids: string[];
  last_sign_in_at: number | null;
  created_at: number;
  updated_at: number;
}

export const USERS_COLLECTION = 'users';

/** Every team the user is in, SSO-managed or manual. */
export function teamIdsOf(user: UserRecord): string[] {
  return [...new Set([...user.sso_team_ids, ...user.manual_team_ids])];
}

export function newUser(id: string, now: number): UserRecord {
  return { id, email: null, name: null, role: 'internal_user', sso_team_ids: [], manual_team_ids: [], last_sign_in_at: null, created_at: now, updated_at: now };
}
