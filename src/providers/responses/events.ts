import type { GatewayError } from '../../errors/gateway-error.js';

/** One Responses API streaming event: its `type`, its place in the stream, and the type's own fields. */
export type ResponsesEvent = { type: string; sequence_number: number; [key: string]: unknown };

/** The SSE frame of an event, named by its type as OpenAI sends it. */
export function responsesFrame(event: ResponsesEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Numbers events in the order they are made, from 0, as `sequence_number` requires. */
export class EventSequence {
  private next = 0;

  event(type: string, fields: Record<string, unknown>): ResponsesEvent {
    return { type, sequence_number: this.next++, ...fields };
  }
}

/**
 * How a Responses stream that broke after it started ends: an `error` event (code, message,
 * param) and, when the response's opening snapshot is known, `response.failed` with that
 * snapshot marked failed, which is what clients that follow the response's lifecycle wait for.
 */
export function failureEvents(err: GatewayError, lastSequence: number, opened: Record<string, unknown> | undefined): ResponsesEvent[] {
  const events: ResponsesEvent[] = [{ type: 'error', sequence_number: lastSequence + 1, code: err.wireCode, message: err.message, param: err.param }];
  if (opened) {
    events.push({ type: 'response.failed', sequence_number: lastSequence + 2, response: { ...opened, status: 'failed', error: { code: err.wireCode, message: err.message } } });
  }
  return events;
}
