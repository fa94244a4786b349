import type { FastifyReply, FastifyRequest } from 'fastify';
import { withFirstFrame } from '../core/first-frame.js';
import { toGatewayError } from '../errors/gateway-error.js';
import type { GatewayContext } from '../pipeline/types.js';
import { streamErrorFrame, type ErrorSurface } from '../errors/to-wire.js';
import { drainedOrClosed } from './drained-or-closed.js';
import { sendError } from './error-response.js';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // Tells nginx-style proxies in front of the gateway not to buffer the stream.
  'x-accel-buffering': 'no',
};

/**
 * Node holds a chunked response's writes (`cork`) until the next tick. When the upstream sent
 * several frames at once, the loop below would queue them all, through every stage's wrapper,
 * before that tick: the client's first byte would wait for the last frame. Yielding once after
 * the first frame lets it leave at once; later frames that arrive together still go out together.
 */
function socketFlush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Sends the pipeline's result. A stream is written frame by frame as the upstream produces
 * it, with backpressure. The first frame is pulled before the status line goes out, so an
 * error that arrives before any content still gets its real status code; an error after
 * that ends the stream with an error event and no [DONE].
 */
export async function sendResponse(request: FastifyRequest, reply: FastifyReply, ctx: GatewayContext, surface: ErrorSurface = 'openai'): Promise<void> {
  const response = ctx.response;
  if (!response) {
    sendError(request, reply, new Error('pipeline produced no response'), ctx.responseHeaders, surface);
    return;
  }
  if (response.kind === 'json') {
    reply.code(response.status).headers(ctx.responseHeaders).type('application/json');
    await reply.send(response.text ?? JSON.stringify(response.body));
    return;
  }

  let frames: AsyncIterableIterator<string>;
  try {
    frames = await withFirstFrame(response.frames);
  } catch (err) {
    sendError(request, reply, err, ctx.responseHeaders, surface);
    return;
  }
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(response.status, Object.assign({}, SSE_HEADERS, ctx.responseHeaders));
  let done = false;
  let first = true;
  try {
    for (let result = await frames.next(); !result.done; result = await frames.next()) {
      if (raw.destroyed) break;
      if (!raw.write(result.value)) await drainedOrClosed(raw);
      else if (first) await socketFlush();
      first = false;
    }
    done = !raw.destroyed;
  } catch (err) {
    done = true;
    const gerr = toGatewayError(err);
    if (gerr.codeName === 'SF_ERR_INTERNAL') request.log.error({ err }, 'stream failed');
    if (!raw.destroyed) raw.write(streamErrorFrame(gerr, surface));
  } finally {
    // Stops the upstream read (and records the request) when we left early.
    if (!done) await frames.return?.().catch(() => undefined);
    raw.end();
  }
}
