import type { AccessPolicy } from './access-policy.js';

/** Who is calling: the master key (an admin, unlimited) or a virtual key with its policy. */
export interface Principal {
  /** Stable id for logs and the spend log: `master` or the key id. */
  id: string;
  kind: 'master' | 'virtual_key';
  keyId: string | null;
  teamId: string | null;
  isAdmin: boolean;
  /** Models, budgets and rate limits; null means unrestricted (the master key). */
  policy: AccessPolicy | null;
  /** The key's `user_id`: whose per-user MCP OAuth tokens it uses. Absent or null: no user. */
  userId?: string | null;
}
