import type { AccessPolicy } from './access-policy.js';

/** Who is calling: the master key (an admin, unlimited), a virtual key with its policy, or (admin API only) an SSO session. */
export interface Principal {
  /** Stable id for logs and the spend log: `master`, the key id, or `sso:<user id>`. */
  id: string;
  kind: 'master' | 'virtual_key' | 'session';
  keyId: string | null;
  teamId: string | null;
  isAdmin: boolean;
  /** The virtual key's alias and tags, which guardrail policies attach to (absent: none). */
  keyAlias?: string | null;
  tags?: readonly string[];
  /** Models, budgets and rate limits; null means unrestricted (the master key). */
  policy: AccessPolicy | null;
  /** The key's `user_id`: whose per-user MCP OAuth tokens it uses. Absent or null: no user. */
  userId?: string | null;
}
