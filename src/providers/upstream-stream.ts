import { GatewayError } from '../errors/gateway-error.js';
import type { CancelSignal } from '../core/cancellation.js';
import { SseParser } from './sse-parser.js';
import type { SseEvent } from './types.js';
import type { UpstreamResponse } from './http-transport.js';

/**
 * Reads an upstream SSE body as events, as they arrive. A socket error or timeout while
 * reading becomes SF_ERR_STREAM_INTERRUPTED; the caller decides whether a clean end of
 * the body was a complete answer.
 */
export async function* readSseEvents(res: UpstreamResponse, signal: CancelSignal): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  let failed = false;
  try {
    // destroyOnReturn: false, because a consumer that stops at the terminal event is the normal
    // case, and destroying the body then costs an AbortError (with its stack) per stream.
    for await (const chunk of res.body.iterator({ destroyOnReturn: false })) {
      const events = parser.push(decoder.decode(chunk as Buffer, { stream: true }));
      for (const e of events) yield e;
    }
  } catch (err) {
    failed = true;
    if (signal.aborted) throw new GatewayError('SF_ERR_CLIENT_CLOSED', { cause: err });
    throw new GatewayError('SF_ERR_STREAM_INTERRUPTED', { cause: err });
  } finally {
    if (!res.body.destroyed && !res.body.readableEnded) {
      // Cancelled or broken: drop the connection. Stopped after the terminal event: read the
      // few trailing bytes so the connection goes back to the pool.
      if (failed || signal.aborted) res.body.destroy();
      else res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    }
  }
  for (const e of parser.flush()) yield e;
}

/** Reads a whole upstream body as text (error bodies, JSON answers). */
export async function readText(res: UpstreamResponse, signal: CancelSignal): Promise<string> {
  try {
    return await res.body.text();
  } catch (err) {
    if (signal.aborted) throw new GatewayError('SF_ERR_CLIENT_CLOSED', { cause: err });
    throw new GatewayError('SF_ERR_UPSTREAM_UNREACHABLE', { message: 'The connection to the provider broke while reading its answer.', retryable: true, cause: err });
  }
}

/** Parses a JSON answer from a provider, as SF_ERR_UPSTREAM_BAD_RESPONSE when it is not JSON. */
export function parseUpstreamJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { cause: err });
  }
}

/** An SSE frame carrying one JSON payload. */
export function sseFrame(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
