import { toGatewayError } from '../errors/gateway-error.js';
import type { RequestLog } from '../core/request-log.js';
import { failureEvents, responsesFrame } from '../providers/responses/events.js';
import { SSE_DONE } from '../providers/upstream-stream.js';

/** The first `"sequence_number":` of a frame; a quote inside a string value is escaped, so only the event's own field matches. */
const SEQUENCE = /"sequence_number"\s*:\s*(\d+)/;

/** The Response in a `response.created` frame, or undefined for any other frame. */
function openedResponse(frame: string): Record<string, unknown> | undefined {
  if (!frame.startsWith('event: response.created\n')) return undefined;
  const data = JSON.parse(frame.slice(frame.indexOf('\ndata: ') + '\ndata: '.length)) as { response?: Record<string, unknown> };
  return data.response;
}

/**
 * A Responses stream as the client gets it. The pipeline's clean-end marker (`data: [DONE]`)
 * is not part of the Responses API and is dropped. An error before the first frame is thrown on,
 * so the client gets an ordinary error response with its status; an error after it becomes the
 * `error` and `response.failed` events, numbered after the last event sent, and ends the stream.
 */
export async function* responsesClientFrames(frames: AsyncIterable<string>, log: RequestLog): AsyncGenerator<string> {
  const iterator = frames[Symbol.asyncIterator]();
  let sent = false;
  let lastSequence = -1;
  let opened: Record<string, unknown> | undefined;
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<string>;
      try {
        step = await iterator.next();
      } catch (err) {
        finished = true;
        if (!sent) throw err;
        const gerr = toGatewayError(err);
        if (gerr.codeName === 'SF_ERR_INTERNAL') log.error({ err }, 'stream failed');
        for (const event of failureEvents(gerr, lastSequence, opened)) yield responsesFrame(event);
        return;
      }
      if (step.done) {
        finished = true;
        return;
      }
      const frame = step.value;
      if (frame === SSE_DONE) continue;
      if (!sent) opened = openedResponse(frame);
      sent = true;
      const sequence = SEQUENCE.exec(frame);
      if (sequence) lastSequence = Number(sequence[1]);
      yield frame;
    }
  } finally {
    // The client left mid-stream: stop the upstream read (and let the request be recorded).
    if (!finished) await iterator.return?.();
  }
}
