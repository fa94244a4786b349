import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { GatewayError } from '../errors/gateway-error.js';
import type { GraphClient, GraphGroup, GraphSettings } from './graph-groups.js';
import { highestRole, type Role } from './roles.js';
import type { ResolvedSso } from './sso-config.js';

/** Who signed in, as the verified id_token (and Graph, on overage) says. */
export interface SsoIdentity {
  userId: string;
  email: string | null;
  name: string | null;
  /** Groups that pass the group filter. */
  groups: GraphGroup[];
  role: Role;
  /** The App Role values the token carried, for the answer. */
  appRoles: string[];
}

const USER_ID = /^[A-Za-z0-9._-]{1,128}$/;

function stringClaim(payload: JWTPayload, name: string): string | null {
  const v = payload[name];
  return typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : null;
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256);
}

/** Entra's group overage: no groups claim, and `_claim_names` pointing at a source (or `hasgroups`). */
function hasOverage(payload: JWTPayload, groupsClaim: string): boolean {
  if (payload[groupsClaim] !== undefined) return false;
  const names = payload._claim_names;
  const viaSources = typeof names === 'object' && names !== null && Object.hasOwn(names, groupsClaim);
  return viaSources || payload.hasgroups === true;
}

/**
 * A team id from a group's object id: readable when the id is a plain token (a GUID), else a
 * slug plus a hash, so distinct groups never share a team.
 */
export function teamIdForGroup(groupId: string): string {
  const slug = groupId.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 48);
  const exact = slug === groupId;
  return exact ? `sso-${slug}` : `sso-${slug}-${createHash('sha256').update(groupId).digest('hex').slice(0, 10)}`;
}

/** Microsoft Graph with the app's credentials: the client secret, and a token URL from the config or the tenant. */
export function graphSettingsOf(sso: ResolvedSso): GraphSettings {
  if (sso.client_secret === undefined) throw new GatewayError('SF_ERR_SSO_IDP_UNAVAILABLE', { message: 'Microsoft Graph is needed (group overage or group names), and SSO has no client_secret to ask it with.' });
  const tokenUrl = sso.graph.token_url ?? (sso.tenant_id ? `https://login.microsoftonline.com/${sso.tenant_id}/oauth2/v2.0/token` : undefined);
  if (!tokenUrl) throw new GatewayError('SF_ERR_SSO_IDP_UNAVAILABLE', { message: 'Microsoft Graph is needed; set sso.graph.token_url or sso.tenant_id.' });
  return { baseUrl: sso.graph.base_url, tokenUrl, clientId: sso.client_id, clientSecret: sso.client_secret };
}

function passesFilter(group: GraphGroup, sso: ResolvedSso): boolean {
  const { ids, pattern } = sso.group_filter;
  if (ids && !ids.includes(group.id)) return false;
  if (pattern !== undefined) {
    const re = new RegExp(pattern);
    if (!re.test(group.id) && !(group.displayName !== null && re.test(group.displayName))) return false;
  }
  return true;
}

/** The user, their groups and their role from a verified id_token; overage goes to Microsoft Graph. */
export async function identityFromClaims(payload: JWTPayload, sso: ResolvedSso, graph: GraphClient): Promise<SsoIdentity> {
  const userId = stringClaim(payload, 'oid') ?? payload.sub ?? '';
  if (!USER_ID.test(userId)) throw new GatewayError('SF_ERR_SSO_TOKEN_INVALID', { message: 'The id_token was refused: its oid/sub is not a usable user id (1-128 letters, digits, ".", "_" or "-").' });
  let groups: GraphGroup[];
  if (hasOverage(payload, sso.groups_claim)) {
    groups = await graph.memberGroups(graphSettingsOf(sso), userId);
  } else {
    groups = [...new Set(stringList(payload[sso.groups_claim]))].map((id) => ({ id, displayName: null }));
  }
  const appRoles = stringList(payload[sso.roles_claim]);
  const roles = appRoles.map((r) => sso.roleOf(r)).filter((r): r is Role => r !== undefined);
  return {
    userId,
    email: stringClaim(payload, 'email') ?? stringClaim(payload, 'preferred_username'),
    name: stringClaim(payload, 'name'),
    groups: groups.filter((g) => passesFilter(g, sso)),
    role: highestRole(roles),
    appRoles,
  };
}
