import type { AccessPolicy } from './access-policy.js';

/** Who is calling: the master key (an admin, unlimited) or a virtual key with its policy. */
export interface Principal {
  /** Stable id for logs and the spend log: `master` or the key id. */
  id: string;
  kind: 'master' | 'virtual_key';
  keyId: string | null;
  teamId: string | null;
  isAdmin: boolean;
  /** The virtual key's alias and tags, which guardrail policies attach to (absent: none). */
  keyAlias?: string | null;
  tags?: readonly string[];
  /** Models, budgets and rate limits; null means unrestricted (the master key). */
  policy: AccessPolicy | null;
}
