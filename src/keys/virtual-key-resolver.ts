import { GatewayError } from '../errors/gateway-error.js';
import type { TeamService } from '../identity/teams.js';
import type { RequestLog } from '../core/request-log.js';
import type { Principal } from './principal.js';
import type { Store, Unsubscribe } from '../storage/types.js';
import { policyFor } from './access-policy.js';
import { hashVirtualKey } from './key-material.js';
import { ACCESS_CHANGED_CHANNEL, type AccessChange } from './records.js';
import type { VirtualKeyService } from './virtual-keys.js';

export interface VirtualKeyResolverDeps {
  keys: VirtualKeyService;
  teams: TeamService;
  store: Store;
  now: () => number;
  log: RequestLog;
  /** How long a lookup is trusted without an invalidation message (a safety net if one is lost). */
  cacheTtlMs: number;
  /** Bound on cached lookups, known and unknown keys together. */
  maxEntries: number;
}

interface CacheEntry {
  /** null: no such key (cached so a flood of made-up keys does not become a flood of store reads). */
  principal: Principal | null;
  keyId: string | null;
  teamId: string | null;
  revoked: boolean;
  expiresAt: number | null;
  /** When this entry must be re-read from the store. */
  staleAt: number;
}

/**
 * Turns a presented `sk-sf-` key into a principal. Lookups are cached in memory; a change to a key
 * or team anywhere in the fleet arrives on the store's pub/sub and drops the cached entries.
 */
export class VirtualKeyResolver {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly loading = new Map<string, Promise<CacheEntry>>();
  /** Bumped by every invalidation: a lookup that started before one must not cache what it read. */
  private epoch = 0;
  private unsubscribe: Unsubscribe | null = null;

  constructor(private readonly deps: VirtualKeyResolverDeps) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.store.subscribe(ACCESS_CHANGED_CHANNEL, (message) => this.invalidate(message));
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Throws SF_ERR_AUTH_INVALID, SF_ERR_KEY_REVOKED or SF_ERR_KEY_EXPIRED. */
  async resolve(key: string): Promise<Principal> {
    const keyHash = hashVirtualKey(key);
    const now = this.deps.now();
    let entry = this.cache.get(keyHash);
    if (entry === undefined || entry.staleAt <= now) entry = await this.load(keyHash);
    if (entry.principal === null) throw new GatewayError('SF_ERR_AUTH_INVALID');
    if (entry.revoked) throw new GatewayError('SF_ERR_KEY_REVOKED');
    if (entry.expiresAt !== null && entry.expiresAt <= now) throw new GatewayError('SF_ERR_KEY_EXPIRED');
    return entry.principal;
  }

  private load(keyHash: string): Promise<CacheEntry> {
    let pending = this.loading.get(keyHash);
    if (pending === undefined) {
      const epoch = this.epoch;
      pending = this.read(keyHash)
        .then((entry) => {
          if (epoch === this.epoch) this.remember(keyHash, entry);
          return entry;
        })
        .finally(() => this.loading.delete(keyHash));
      this.loading.set(keyHash, pending);
    }
    return pending;
  }

  private async read(keyHash: string): Promise<CacheEntry> {
    const staleAt = this.deps.now() + this.deps.cacheTtlMs;
    const record = await this.deps.keys.findByHash(keyHash);
    if (!record) return { principal: null, keyId: null, teamId: null, revoked: false, expiresAt: null, staleAt };
    const team = record.team_id === null ? null : ((await this.deps.teams.get(record.team_id)) ?? null);
    const principal: Principal = Object.freeze({
      id: record.id,
      kind: 'virtual_key',
      keyId: record.id,
      teamId: record.team_id,
      isAdmin: false,
      keyAlias: record.alias,
      tags: Object.freeze([...record.tags]),
      policy: policyFor(record, team),
      userId: record.user_id,
    });
    return { principal, keyId: record.id, teamId: record.team_id, revoked: record.revoked_at !== null, expiresAt: record.expires_at, staleAt };
  }

  private remember(keyHash: string, entry: CacheEntry): void {
    if (this.cache.size >= this.deps.maxEntries && !this.cache.has(keyHash)) {
      // Oldest insertion first: Map iteration order.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(keyHash, entry);
  }

  private invalidate(message: string): void {
    let change: AccessChange;
    try {
      change = JSON.parse(message) as AccessChange;
    } catch {
      this.deps.log.warn('ignored a malformed access-change message');
      return;
    }
    this.epoch += 1;
    for (const [keyHash, entry] of this.cache) {
      if (change.kind === 'key' ? entry.keyId === change.id : entry.teamId === change.id) this.cache.delete(keyHash);
    }
  }
}
