import { randomUUID } from 'node:crypto';
import type { Store } from '../../storage/types.js';

const LEASES = 'mcp_auth_leases';

interface LeaseDoc {
  holder: string;
  expires_at: number;
}

/**
 * Runs `fn` while holding a lease named `key` in the store, so one instance at a time does a
 * thing that must not happen twice (a token refresh whose refresh token rotates). createDoc is
 * atomic across instances; a lease left by a dead holder is taken over after `leaseMs` with
 * compare-and-set. Others poll until it is free and then run `fn` themselves (which should
 * first re-read what the holder wrote).
 */
export async function withStoreLease<T>(store: Store, key: string, fn: () => Promise<T>, options: { now: () => number; leaseMs?: number; timeoutMs?: number }): Promise<T> {
  const leaseMs = options.leaseMs ?? 15_000;
  const deadline = options.now() + (options.timeoutMs ?? 20_000);
  const holder = randomUUID();
  for (;;) {
    const lease: LeaseDoc = { holder, expires_at: options.now() + leaseMs };
    let taken = await store.createDoc<LeaseDoc>(LEASES, key, lease);
    if (!taken) {
      const current = await store.getVersionedDoc<LeaseDoc>(LEASES, key);
      if (current && current.doc.expires_at <= options.now()) taken = (await store.compareAndSetDoc(LEASES, key, lease, current.version)) !== null;
    }
    if (taken) {
      try {
        return await fn();
      } finally {
        const current = await store.getVersionedDoc<LeaseDoc>(LEASES, key).catch(() => undefined);
        if (current?.doc.holder === holder) await store.deleteDoc(LEASES, key).catch(() => undefined);
      }
    }
    if (options.now() > deadline) throw new Error('timed out waiting for another instance');
    await new Promise((r) => setTimeout(r, 25));
  }
}
