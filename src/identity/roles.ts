/** The gateway's internal roles, lowest first: when a user holds several, the highest wins. */
export const ROLES = ['internal_user', 'proxy_admin_viewer', 'org_admin', 'proxy_admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The highest of `roles` by precedence; `internal_user` when there is none. */
export function highestRole(roles: Iterable<Role>): Role {
  let best = 0;
  for (const role of roles) best = Math.max(best, ROLES.indexOf(role));
  return ROLES[best]!;
}

/**
 * What an admin route needs, declared on the route (`needs('keys:write')`). `:read` permissions
 * are what `proxy_admin_viewer` gets everywhere; the rest are writes.
 */
export const PERMISSIONS = [
  'keys:read',
  'keys:write',
  'teams:read',
  'teams:write',
  'teams:create',
  /** Resetting a key's or team's budget period. */
  'budgets:write',
  'spend:read',
  'audit:read',
  'routing:read',
  'routing:write',
  'cache:read',
  'cache:write',
  'mcp_servers:read',
  'mcp_servers:write',
  'policies:read',
  'policies:write',
  'guardrails:read',
  'guardrails:write',
  'sso:read',
  'sso:write',
  /** A2A agent profiles and their tasks (the audit record of every run). */
  'agents:read',
  'agents:write',
  'metrics:read',
  /** Anyone signed in, about themselves (their teams, logging out). */
  'self',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * Team-scoped grants: `org_admin` on the teams it belongs to (their keys, budgets, MCP access
 * and policies); `internal_user` on its own keys in its own teams. The routes narrow these to
 * the caller's teams and keys (identity/rbac.ts).
 */
const SCOPED_GRANTS: Record<'org_admin' | 'internal_user', ReadonlySet<Permission>> = {
  org_admin: new Set<Permission>(['self', 'keys:read', 'keys:write', 'budgets:write', 'teams:read', 'teams:write', 'mcp_servers:read', 'policies:read', 'policies:write', 'guardrails:read']),
  internal_user: new Set<Permission>(['self', 'keys:read', 'keys:write', 'teams:read']),
};

/** Whether `role` may perform `permission` at all (team scoping comes on top for org_admin and internal_user). */
export function roleAllows(role: Role, permission: Permission): boolean {
  switch (role) {
    case 'proxy_admin':
      return true;
    case 'proxy_admin_viewer':
      return permission === 'self' || permission.endsWith(':read');
    default:
      return SCOPED_GRANTS[role].has(permission);
  }
}

/** The lowest role that holds `permission`, for the 403 message. */
export function lowestRoleFor(permission: Permission): Role {
  return ROLES.find((role) => roleAllows(role, permission)) ?? 'proxy_admin';
}
