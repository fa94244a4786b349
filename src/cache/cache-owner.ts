import { z } from 'zod';
import type { Principal } from '../keys/principal.js';
import type { CacheScope } from './cache-config.js';

/**
 * Who an entry belongs to. The server decides it, never the client: an admin's pin on the key
 * (or its team), else `cache.scope`. Owners are namespaces themselves, and a client's namespace
 * only narrows inside one:
 *
 *   global | master | team/{team id} | key/{key id} | pin/{pinned name}   the owner's own namespace
 *   {owner}/{client namespace}                                           narrowed by the client
 *
 * Ids and names never contain `/` or `:`, so an owner's namespaces are exactly those starting
 * with `{owner}/`, and store keys split unambiguously.
 */

const SEGMENT = '[A-Za-z0-9][A-Za-z0-9._-]{0,63}';
const OWNER = `(?:global|master|(?:team|key|pin)/${SEGMENT})`;
const NAMESPACE = new RegExp(`^${OWNER}(?:/${SEGMENT})?$`);

/** A namespace as the cache admin API takes it: an owner, or an owner and the namespace narrowed inside it. */
export const ownedNamespace = z
  .string()
  .regex(NAMESPACE, 'a namespace is an owner (global, master, team/{id}, key/{id} or pin/{name}), optionally followed by "/" and a namespace named by clients');

/**
 * The owner of a caller's entries. A caller's own provider key (BYOK) makes its answers the
 * caller's alone, whatever the scope or pins: they were made with someone else's account.
 */
export function cacheOwner(scope: CacheScope, principal: Principal, ownProviderKey: boolean): string {
  const own = principal.keyId === null ? 'master' : `key/${principal.keyId}`;
  if (ownProviderKey) return own;
  const pin = principal.policy?.cacheNamespace ?? null;
  if (pin !== null) return `pin/${pin}`;
  if (scope === 'global') return 'global';
  if (scope === 'team' && principal.teamId !== null) return `team/${principal.teamId}`;
  return own;
}

/** The namespace entries are stored in: the owner's own, or the client's narrowed inside it. */
export function namespaceOf(owner: string, narrowed: string | undefined): string {
  return narrowed === undefined ? owner : `${owner}/${narrowed}`;
}

/** Whether `namespace` is `scope` itself or narrowed inside it (what deleting `scope` removes). */
export function withinNamespace(namespace: string, scope: string): boolean {
  return namespace === scope || namespace.startsWith(`${scope}/`);
}

/** A namespace's owner and the name a client narrowed it with (undefined for the owner's own). */
export function splitNamespace(namespace: string): { owner: string; name: string | undefined } {
  const parts = namespace.split('/');
  const ownerParts = parts[0] === 'global' || parts[0] === 'master' ? 1 : 2;
  return { owner: parts.slice(0, ownerParts).join('/'), name: parts.length > ownerParts ? parts.slice(ownerParts).join('/') : undefined };
}
