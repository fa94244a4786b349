import type { OpenAIEmbeddingsRequest, OpenAIEmbeddingsResponse } from './types.js';

export type EmbeddingEncoding = NonNullable<OpenAIEmbeddingsRequest['encoding_format']>;

/** OpenAI's base64 form: the vector's float32 values, little-endian, base64-encoded. */
export function toBase64Embedding(values: readonly number[]): string {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

function fromBase64Embedding(text: string): number[] {
  const buf = Buffer.from(text, 'base64');
  return Array.from({ length: Math.floor(buf.length / 4) }, (_, i) => buf.readFloatLE(i * 4));
}

/** One vector in the encoding the client asked for (`float` when it asked for none). */
export function encodeEmbedding(values: readonly number[], encoding: EmbeddingEncoding | undefined): number[] | string {
  return encoding === 'base64' ? toBase64Embedding(values) : [...values];
}

/**
 * Puts every vector of an embeddings response into the encoding the client asked for. The
 * official openai SDK asks for base64 by default and decodes whatever comes back as base64, so an
 * upstream that ignores `encoding_format` (several OpenAI-compatible servers answer floats
 * regardless) would hand the caller garbage vectors.
 */
export function conformEmbeddings(response: OpenAIEmbeddingsResponse, encoding: EmbeddingEncoding | undefined): OpenAIEmbeddingsResponse {
  const want = encoding ?? 'float';
  return {
    ...response,
    data: response.data.map((d) => {
      if (want === 'base64' && Array.isArray(d.embedding)) return { ...d, embedding: toBase64Embedding(d.embedding) };
      if (want === 'float' && typeof d.embedding === 'string') return { ...d, embedding: fromBase64Embedding(d.embedding) };
      return d;
    }),
  };
}

/** True when an upstream's raw embeddings JSON is not in the asked-for encoding (cheap check, no parse). */
export function embeddingsNeedConforming(text: string, encoding: EmbeddingEncoding | undefined): boolean {
  return encoding === 'base64' ? /"embedding"\s*:\s*\[/.test(text) : /"embedding"\s*:\s*"/.test(text);
}
