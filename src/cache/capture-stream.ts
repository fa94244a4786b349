import { SSE_DONE } from '../providers/upstream-stream.js';
import { isUsageOnlyFrame } from './sse-replay.js';

export interface CaptureOptions {
  /** Anthropic's native stream: it ends with message_stop and carries usage in its own events, all kept. */
  nativeAnthropic: boolean;
  /** Past this many bytes of frames the copy is dropped: the answer passes on, uncached. */
  maxEntryBytes: number;
  /** True once the client went away: a stream it did not see to the end is not stored. */
  aborted: () => boolean;
  /** Called once with the kept frames when the stream ended cleanly. */
  complete: (frames: string[]) => Promise<void>;
}

/**
 * Passes every frame on as it arrives and keeps a copy; hands the copy to `complete` only if
 * the stream ended with its end marker and the client was still there. The usage-only chunk
 * and `[DONE]` are left out of the copy: a replay adds them for clients that ask for them.
 */
export async function* captureStream(frames: AsyncIterable<string>, options: CaptureOptions): AsyncGenerator<string> {
  const kept: string[] = [];
  let size = 0;
  let tooLarge = false;
  let done = false;
  const anthropic = options.nativeAnthropic;
  for await (const frame of frames) {
    if (anthropic ? frame.startsWith('event: message_stop') : frame === SSE_DONE) done = true;
    if (frame !== SSE_DONE && !tooLarge && (anthropic || !isUsageOnlyFrame(frame))) {
      size += frame.length;
      tooLarge = size > options.maxEntryBytes;
      if (tooLarge) kept.length = 0;
      else kept.push(frame);
    }
    yield frame;
  }
  if (done && !tooLarge && !options.aborted()) await options.complete(kept);
}
