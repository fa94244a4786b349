import { GatewayError } from '../errors/gateway-error.js';
import type { CreateKeyInput, UpdateKeyInput } from '../keys/admin-schemas.js';
import type { VirtualKeyRecord } from '../keys/records.js';
import { lowestRoleFor, roleAllows, type Permission, type Role } from './roles.js';

/** An admin API caller with its role and what it is scoped to. */
export interface Caller {
  kind: 'master' | 'session' | 'virtual_key';
  role: Role;
  /** The SSO user, or the virtual key's user_id. */
  userId: string | null;
  /** The teams an org_admin or internal_user acts within. */
  teamIds: readonly string[];
}

export const MASTER_CALLER: Caller = Object.freeze({ kind: 'master', role: 'proxy_admin', userId: null, teamIds: [] });

function forbidden(message: string): GatewayError {
  return new GatewayError('SF_ERR_FORBIDDEN', { message });
}

/**
 * The one role check of the admin API, made by the admin plugin before any handler runs.
 * Virtual keys reach only self-service routes; undeclared routes are the master key's alone.
 */
export function authorize(caller: Caller, permission: Permission | undefined, selfService: boolean): void {
  if (caller.kind === 'master') return;
  if (permission === undefined) throw forbidden('This endpoint declares no permission; only the master key may call it.');
  // A virtual key is self-service for its user: without a user_id it owns nothing here.
  if (caller.kind === 'virtual_key' && (!selfService || caller.userId === null)) {
    throw forbidden(`This endpoint needs the master key or an SSO session with the ${lowestRoleFor(permission)} role (${permission}); a virtual key with a user_id reaches only its user's keys.`);
  }
  if (!roleAllows(caller.role, permission)) throw forbidden(`This endpoint needs the ${lowestRoleFor(permission)} role (${permission}); the caller is ${caller.role}.`);
}

/** Whether the caller's grant is limited to its teams (and, for internal_user, its own keys). */
function scoped(caller: Caller): boolean {
  return caller.role === 'org_admin' || caller.role === 'internal_user';
}

export function canSeeTeam(caller: Caller, teamId: string): boolean {
  return !scoped(caller) || caller.teamIds.includes(teamId);
}

export function requireTeam(caller: Caller, teamId: string): void {
  if (!canSeeTeam(caller, teamId)) throw forbidden(`A ${caller.role} acts only within its own teams; team "${teamId}" is not one of them (proxy_admin may act on any).`);
}

/** Policy and guardrail documents are organisation-wide: a team-scoped role reads them but does not change them. */
export function requireOrganisationWide(caller: Caller, what: string): void {
  if (scoped(caller)) throw forbidden(`Changing ${what} needs the proxy_admin role: they apply to every team (an ${caller.role} attaches policies to its own teams).`);
}

/** A team-scoped role attaches and detaches policies only on its own teams (scope "team", one of its team ids). */
export function requireAttachmentScope(caller: Caller, attachment: { scope: string; pattern: string }): void {
  if (!scoped(caller)) return;
  if (attachment.scope !== 'team' || !caller.teamIds.includes(attachment.pattern)) {
    throw forbidden(`An ${caller.role} attaches policies only to its own teams (scope "team" and one of its team ids); other scopes need the proxy_admin role.`);
  }
}

export function canSeeKey(caller: Caller, key: Pick<VirtualKeyRecord, 'id' | 'team_id' | 'user_id'>): boolean {
  if (!scoped(caller)) return true;
  if (caller.role === 'org_admin') return key.team_id !== null && caller.teamIds.includes(key.team_id);
  return caller.userId !== null && key.user_id === caller.userId;
}

export function requireKey(caller: Caller, key: Pick<VirtualKeyRecord, 'id' | 'team_id' | 'user_id'>): void {
  if (!canSeeKey(caller, key)) {
    throw forbidden(caller.role === 'org_admin' ? "An org_admin manages only its teams' keys (proxy_admin may manage any)." : 'An internal_user manages only its own keys (org_admin or proxy_admin may manage others).');
  }
}

/** Fields an internal_user may set on its own keys: the team's budget, models and policies still bound them. */
const SELF_SERVICE_FIELDS = new Set(['alias', 'team_id', 'models', 'max_budget', 'budget_period', 'expires_at', 'tags', 'metadata']);

/**
 * A key creation as the caller may make it: org_admin only in its teams; internal_user only
 * for itself, in one of its teams, without settings that would widen the team's (BYOK, cache
 * pins, MCP access).
 */
export function keyCreationFor(caller: Caller, input: CreateKeyInput, sent: Record<string, unknown>): CreateKeyInput {
  if (!scoped(caller)) return input;
  if (input.team_id === undefined) throw forbidden(`A ${caller.role} creates keys only in its own teams: team_id is required.`);
  requireTeam(caller, input.team_id);
  if (caller.role === 'org_admin') return input;
  const extra = Object.keys(sent).filter((f) => !SELF_SERVICE_FIELDS.has(f));
  if (extra.length) throw forbidden(`An internal_user may not set ${extra.join(', ')} on a key (org_admin or proxy_admin may).`);
  return { ...input, user_id: caller.userId ?? undefined };
}

/** A key change as the caller may make it: org_admin keeps keys in its teams; internal_user changes none of its keys' limits. */
export function keyUpdateFor(caller: Caller, input: UpdateKeyInput): UpdateKeyInput {
  if (!scoped(caller)) return input;
  if (caller.role === 'internal_user') throw forbidden("An internal_user may not change a key's settings; revoke it and create another (org_admin or proxy_admin may).");
  if (input.team_id === null) throw forbidden('An org_admin may not move a key out of its teams.');
  if (input.team_id !== undefined) requireTeam(caller, input.team_id);
  return input;
}
