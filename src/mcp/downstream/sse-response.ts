import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** The SDK's interval: proxies that cut idle connections see a comment line this often. */
const KEEP_ALIVE_MS = 15_000;

/**
 * One open `text/event-stream` answer over a node:http response: events written straight to the
 * socket (no web streams), a keep-alive comment while it is idle, and one `closed` callback
 * whether the client left or the gateway ended it.
 */
export class SseResponse {
  private readonly keepAlive: NodeJS.Timeout;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    sessionId: string | undefined,
    onClosed: () => void,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...(sessionId !== undefined ? { 'mcp-session-id': sessionId } : {}),
    });
    res.flushHeaders();
    this.keepAlive = setInterval(() => res.write(': keepalive\n\n'), KEEP_ALIVE_MS);
    this.keepAlive.unref();
    res.once('close', () => {
      this.ended = true;
      clearInterval(this.keepAlive);
      onClosed();
    });
  }

  get open(): boolean {
    return !this.ended && !this.res.destroyed;
  }

  /** A JSON-RPC message as a `message` event, with the event id it was stored under (for `Last-Event-ID`). */
  message(message: JSONRPCMessage, eventId: string | undefined): void {
    if (!this.open) return;
    this.res.write(eventId === undefined ? `event: message\ndata: ${JSON.stringify(message)}\n\n` : `event: message\nid: ${eventId}\ndata: ${JSON.stringify(message)}\n\n`);
  }

  /** An event with an id and no data (SEP-1699): the client can resume from it before anything else was said. */
  priming(eventId: string): void {
    if (this.open) this.res.write(`id: ${eventId}\ndata: \n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepAlive);
    this.res.end();
  }
}
