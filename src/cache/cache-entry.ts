import type { Usage } from '../providers/types.js';

/**
 * A cached answer as the client received it. `json`: the response body's text. `sse`: the
 * stream's frames in order, without `data: [DONE]` and without the usage-only chunk (both are
 * added on replay, the usage chunk only for clients that ask for it).
 */
export type CachedAnswer = { kind: 'json'; text: string } | { kind: 'sse'; frames: string[] };

/** One cached answer with what it cost and when it expires. */
export interface CacheEntry {
  key: string;
  namespace: string;
  answer: CachedAnswer;
  /** What the provider reported when it made the answer. */
  usage: Usage;
  /** What the answer cost then: the saving each hit reports. */
  costMicros: number;
  /** Epoch ms, on the gateway clock. */
  createdAt: number;
  expiresAt: number;
}

/** A prompt embedding of the semantic cache, pointing at the exact entry holding its answer. */
export interface CachedVector {
  key: string;
  vector: Float32Array;
  expiresAt: number;
}

/** UTF-8 size of an answer: what the byte bounds and statistics count. */
export function answerBytes(answer: CachedAnswer): number {
  if (answer.kind === 'json') return Buffer.byteLength(answer.text);
  let n = 0;
  for (const f of answer.frames) n += Buffer.byteLength(f);
  return n;
}

/** Cosine similarity; 0 for vectors of different lengths (another embedding model) or a zero vector. */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

