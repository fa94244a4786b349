import { GatewayError } from '../errors/gateway-error.js';
import type { Store } from './types.js';

/** What a change function decides: the next document, or `unchanged` to write nothing. */
export const UNCHANGED = Symbol('unchanged');

export interface DocUpdate<T> {
  before: T;
  after: T;
  /** The version now stored (the unchanged version when nothing was written). */
  version: number;
}

export interface UpdateDocOptions {
  /** Refuse with SF_ERR_CONFLICT unless the stored version is this one (an `If-Match` from the client). */
  ifVersion?: number;
  /** Compare-and-set attempts before giving up with SF_ERR_CONFLICT (default 16). */
  attempts?: number;
}

/** What admin writes accept from the client: a conditional write (`If-Match`). */
export type WriteOptions = Pick<UpdateDocOptions, 'ifVersion'>;

/**
 * Changes one document with compare-and-set: read it with its version, apply `change`, write
 * only if nobody wrote in between, else read again and re-apply. `change` must be a pure
 * function of the document it gets, so each writer's change lands on top of the others'
 * (a PATCH racing a revoke cannot bring the key back). Returns undefined when there is no
 * such document.
 */
export async function updateDoc<T>(store: Store, collection: string, id: string, change: (current: T) => T | typeof UNCHANGED, options: UpdateDocOptions = {}): Promise<DocUpdate<T> | undefined> {
  const attempts = options.attempts ?? 16;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const current = await store.getVersionedDoc<T>(collection, id);
    if (!current) return undefined;
    if (options.ifVersion !== undefined && current.version !== options.ifVersion) {
      throw new GatewayError('SF_ERR_CONFLICT', { message: `The resource is at version ${current.version}, not ${options.ifVersion} as If-Match says; read it again and retry.` });
    }
    const next = change(current.doc);
    if (next === UNCHANGED) return { before: current.doc, after: current.doc, version: current.version };
    const version = await store.compareAndSetDoc(collection, id, next, current.version);
    if (version !== null) return { before: current.doc, after: next, version };
    // Lost the race: back off a little (random, so two writers do not collide in step) and re-read.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * (attempt + 1)));
  }
  throw new GatewayError('SF_ERR_CONFLICT', { message: `Other writers kept changing the resource; gave up after ${attempts} attempts. Retry.` });
}
