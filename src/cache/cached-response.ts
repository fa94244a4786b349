import type { ProviderResponse } from '../providers/adapter.js';
import type { Usage } from '../providers/types.js';
import type { CacheEntry } from './cache-entry.js';
import { replayAnswer } from './sse-replay.js';

/** What the request wants of a cached answer. */
export interface WantedForm {
  /** Native formats (Anthropic Messages, the Responses API) are replayed exactly as stored, never converted. */
  verbatimOnly: boolean;
  stream: boolean;
  /** The client asked for logprobs: converting between JSON and a stream would lose them. */
  logprobs: boolean;
  /** The client asked for the usage-only chunk at the end of a stream (`stream_options.include_usage`). */
  includeUsage: boolean;
}

const noUsage = (): Usage => ({ input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 });

async function* verbatim(frames: readonly string[]): AsyncGenerator<string> {
  yield* frames;
}

/**
 * The provider response a cached answer gives in the form the request wants, with zero usage
 * (a hit costs nothing); null when the answer cannot take that form. May throw on a corrupt
 * entry, which the caller treats as a miss.
 */
export function cachedResponse(entry: CacheEntry, want: WantedForm): ProviderResponse | null {
  const sameForm = (entry.answer.kind === 'sse') === want.stream;
  if (want.verbatimOnly) {
    if (!sameForm) return null;
    return entry.answer.kind === 'json'
      ? { kind: 'json', status: 200, body: undefined, text: entry.answer.text, usage: noUsage() }
      : { kind: 'stream', status: 200, frames: verbatim(entry.answer.frames), usage: noUsage };
  }
  // Converting between JSON and a stream keeps content, tool calls and usage, not logprobs.
  if (!sameForm && want.logprobs) return null;
  const replay = replayAnswer(entry.answer, entry.usage, { stream: want.stream, includeUsage: want.includeUsage });
  return replay.kind === 'json'
    ? { kind: 'json', status: 200, body: undefined, text: replay.text, usage: noUsage() }
    : { kind: 'stream', status: 200, frames: replay.frames, usage: noUsage };
}
