/**
 * The namespaces an owner uses. Clients name namespaces freely, so each owner holds at most
 * `maxPerOwner` of them at once, and each is forgotten `ttlMs` after its last use: a client
 * inventing names cannot grow the store, the statistics, or the memory backend without bound.
 * Both backends keep one of these per owner (the store backend as an expiring JSON entry).
 */
export interface OwnerNamespaces {
  v: 1;
  /** Last use of the owner's own namespace or any inside it, epoch ms on the gateway clock. */
  seen: number;
  /** Namespaces named by clients inside the owner, with their last use. Pairs, not an object: names are client-chosen. */
  names: Array<[name: string, seen: number]>;
}

/** How long a namespace is remembered, and how many an owner may hold. */
export interface NamespaceLimits {
  ttlMs: number;
  maxPerOwner: number;
}

/** The client-named namespaces of an owner that are still remembered at `at`. */
export function liveNames(doc: OwnerNamespaces | undefined, at: number, ttlMs: number): Map<string, number> {
  const live = new Map<string, number>();
  if (!doc || doc.seen + ttlMs <= at) return live;
  for (const [name, seen] of doc.names) if (seen + ttlMs > at) live.set(name, seen);
  return live;
}

/**
 * Records a use of the owner's own namespace (`name` undefined) or of one named inside it.
 * Returns the owner's updated namespaces, or null when `name` is new and the owner already holds
 * `maxPerOwner` others: that request is not cached, and nothing is recorded for it.
 */
export function registerUse(doc: OwnerNamespaces | undefined, name: string | undefined, at: number, limits: NamespaceLimits): OwnerNamespaces | null {
  const live = liveNames(doc, at, limits.ttlMs);
  if (name !== undefined) {
    if (!live.has(name) && live.size >= limits.maxPerOwner) return null;
    live.set(name, at);
  }
  return { v: 1, seen: at, names: [...live] };
}

/** A stored registration, or undefined when it is not one this version wrote. */
export function parseOwnerNamespaces(raw: string): OwnerNamespaces | undefined {
  const parsed = JSON.parse(raw) as Partial<OwnerNamespaces>;
  return parsed.v === 1 && typeof parsed.seen === 'number' && Array.isArray(parsed.names) ? (parsed as OwnerNamespaces) : undefined;
}
