import { createHash } from 'node:crypto';
import type { Store } from '../storage/types.js';
import type { Embedder } from './embedder.js';

const COLLECTION = 'toolsearch_vectors';

/** Stored vectors of one server's tools for one embedder: text hash -> float32 LE, base64. */
interface VectorDoc {
  embedder: string;
  vectors: Record<string, string>;
}

const textHash = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 22);

function encode(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function decode(text: string): Float32Array {
  const buf = Buffer.from(text, 'base64');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/**
 * Tool vectors kept in the store, one document per server and embedder, keyed by a hash of the
 * tool's text: a restart, or another instance, embeds only tools whose text changed. A plain put
 * is enough (no compare-and-set): a vector is a pure function of its key, so racing writers
 * write the same values, and a lost entry only costs one embedding later.
 */
export class VectorCache {
  constructor(
    private readonly store: Store,
    private readonly embedder: Embedder,
  ) {}

  private docId(serverId: string): string {
    return `${createHash('sha256').update(this.embedder.id).digest('base64url').slice(0, 12)}:${serverId}`;
  }

  /** One vector per text, in order: stored ones reused, the rest embedded (in one batch) and stored. Returns how many were embedded. */
  async vectorsFor(serverId: string, texts: string[]): Promise<{ vectors: Float32Array[]; embedded: number }> {
    const stored = await this.store.getDoc<VectorDoc>(COLLECTION, this.docId(serverId));
    const known = stored?.embedder === this.embedder.id ? stored.vectors : {};
    const hashes = texts.map(textHash);
    const missing = [...new Set(hashes.filter((h) => known[h] === undefined))];
    const fresh = new Map<string, Float32Array>();
    if (missing.length > 0) {
      const firstText = new Map<string, string>();
      hashes.forEach((h, i) => firstText.has(h) || firstText.set(h, texts[i]!));
      const vectors = await this.embedder.embed(missing.map((h) => firstText.get(h)!));
      missing.forEach((h, i) => fresh.set(h, vectors[i]!));
    }
    const vectors = hashes.map((h) => fresh.get(h) ?? decode(known[h]!));
    const keep = new Set(hashes);
    const changed = missing.length > 0 || Object.keys(known).some((h) => !keep.has(h));
    if (changed) {
      // Only the server's current tools stay: removed tools do not pile up.
      const doc: VectorDoc = { embedder: this.embedder.id, vectors: Object.fromEntries(hashes.map((h, i) => [h, encode(vectors[i]!)])) };
      await this.store.putDoc(COLLECTION, this.docId(serverId), doc);
    }
    return { vectors, embedded: missing.length };
  }

  /** Forgets a removed server's vectors. */
  async drop(serverId: string): Promise<void> {
    await this.store.deleteDoc(COLLECTION, this.docId(serverId));
  }
}
