import { normalise, type Embedder } from './embedder.js';
import { isStopWord, splitWords, stem } from './text.js';

const DIMENSIONS = 512;
const WORD_WEIGHT = 1;
const TRIGRAM_WEIGHT = 0.35;

/** 32-bit FNV-1a. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The built-in offline embedder: no model, no network. Each stemmed word and each character
 * trigram of the (unstemmed) word is hashed to a signed dimension (the "hashing trick"), so texts
 * that share words, or only parts of words ("dir" / "directory", "auth" / "authenticate"), point
 * the same way. Word frequencies are damped (1 + log tf) so a long description does not drown in
 * its commonest word.
 */
export class HashedEmbedder implements Embedder {
  readonly id = `hashed-ngram-v1-${DIMENSIONS}`;
  readonly dimensions = DIMENSIONS;

  embedOne(text: string): Float32Array {
    const counts = new Map<string, number>();
    const add = (feature: string) => counts.set(feature, (counts.get(feature) ?? 0) + 1);
    for (const word of splitWords(text)) {
      if (word.length < 2 || isStopWord(word)) continue;
      add(`w:${stem(word)}`);
      const padded = `<${word}>`;
      for (let i = 0; i + 3 <= padded.length; i++) add(`c:${padded.slice(i, i + 3)}`);
    }
    const v = new Float32Array(DIMENSIONS);
    for (const [feature, count] of counts) {
      const h = fnv1a(feature);
      const weight = feature.startsWith('w:') ? WORD_WEIGHT : TRIGRAM_WEIGHT;
      v[h % DIMENSIONS]! += (h & 0x80000000 ? -weight : weight) * (1 + Math.log(count));
    }
    return normalise(v);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }
}
