import type { Readable } from 'node:stream';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { Pool, type Dispatcher } from 'undici';
import { bearerChallenge } from '../auth/oauth-discovery.js';
import { isMethod, isRequest, isResult } from '../jsonrpc-shape.js';
import type { RequestAuthorizer } from './connect.js';
import { SseParser } from './sse-parser.js';

/**
 * An HTTP status the server answered instead of MCP (`code` -1: not an MCP content type). The
 * SDK's StreamableHTTPError plays this part for its own transport; importing it would load the
 * SDK's OAuth client at start for one class.
 */
export class UpstreamHttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamHttpError';
  }
}

/** The SDK client's reconnection defaults for a lost SSE stream. */
const RECONNECT = { initialMs: 1000, maxMs: 30_000, grow: 1.5, maxRetries: 2 };
const MAX_REDIRECTS = 5;

export interface LeanHttpClientTransportOptions {
  /** Sent on every request (the server's configured headers and a caller's forwarded ones). */
  headers?: Record<string, string> | undefined;
  /** Sets `Authorization` per request, with one retry after a 401 or a 403 `insufficient_scope`. */
  authorizer?: RequestAuthorizer | undefined;
}

interface StreamContext {
  /** A GET stream (the session's, or a resumed one) may always be reopened; a POST's only once primed. */
  reconnectable: boolean;
  /** A resumed POST stream: its answer goes back under the id the request was sent with. */
  replayMessageId?: RequestId | undefined;
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
const mediaType = (value: string | undefined) => value?.split(';')[0]!.trim().toLowerCase();

/**
 * The MCP SDK's `Transport` for the client side of Streamable HTTP, over an undici `Pool` of
 * keep-alive sockets (the SDK's own goes through `fetch`, web streams and a stream pipeline to
 * parse SSE). JSON answers are parsed whole; SSE answers with a small push parser. The session's
 * GET stream opens after `notifications/initialized`, and a lost stream (the GET one, or a POST
 * stream the server primed) is resumed with `Last-Event-ID`, as the SDK does. Closing destroys
 * the pool, which ends every request of the connection; no abort signal is shared between
 * requests (undici's per-signal listeners piled up on the SDK's one long-lived signal).
 */
export class LeanHttpClientTransport implements Transport {
  sessionId?: string;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly pool: Pool;
  private readonly origin: string;
  /** Where the endpoint is: the configured path, or where a same-origin redirect moved it. */
  private path: string;
  private readonly headers: Record<string, string>;
  private protocolVersion: string | undefined;
  private serverRetryMs: number | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    url: URL,
    private readonly options: LeanHttpClientTransportOptions = {},
  ) {
    // Timeouts are the MCP request's own (server.timeout_ms); an SSE stream may stay quiet for long.
    this.pool = new Pool(url.origin, { headersTimeout: 0, bodyTimeout: 0 });
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    this.headers = Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  }

  async start(): Promise<void> {}

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  private baseHeaders(extra: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { ...extra, ...this.headers };
    if (this.sessionId !== undefined) headers['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion !== undefined) headers['mcp-protocol-version'] = this.protocolVersion;
    return headers;
  }

  /**
   * Follows redirects within the server's origin, as the SDK's transport does (servers mounted at
   * `/mcp/` answer `/mcp` with a 307); a POST only on 307 and 308, which keep the method and body.
   * The endpoint's new path is kept for the connection's later requests.
   */
  private async request(method: 'GET' | 'POST' | 'DELETE', headers: Record<string, string>, body: string | undefined): Promise<Dispatcher.ResponseData> {
    for (let hop = 0; ; hop++) {
      const res = await this.pool.request({ path: this.path, method, headers, body });
      const location = single(res.headers['location']);
      if (hop === MAX_REDIRECTS || res.statusCode < 300 || res.statusCode >= 400 || !location) return res;
      const next = new URL(location, `${this.origin}${this.path}`);
      if (next.origin !== this.origin || (method !== 'GET' && res.statusCode !== 307 && res.statusCode !== 308)) return res;
      await res.body.dump();
      this.path = `${next.pathname}${next.search}`;
    }
  }

  /** One HTTP request, authorized per request; a 401 (or a 403 asking for more scope) gets one new token and one retry. */
  private async exchange(method: 'GET' | 'POST' | 'DELETE', body: string | undefined, extra: Record<string, string>): Promise<Dispatcher.ResponseData> {
    const headers = this.baseHeaders(extra);
    const authorizer = this.options.authorizer;
    if (!authorizer) return this.request(method, headers, body);
    const first = await authorizer.authorization();
    const res = await this.request(method, { ...headers, authorization: first }, body);
    const challenge = res.statusCode === 403 ? bearerChallenge(single(res.headers['www-authenticate']) ?? null) : {};
    const stepUpScope = challenge['error'] === 'insufficient_scope' ? challenge['scope'] : undefined;
    if (res.statusCode !== 401 && !(stepUpScope && authorizer.insufficientScope)) return res;
    const next = stepUpScope ? await authorizer.insufficientScope!(first, stepUpScope) : await authorizer.rejected(first);
    if (next === null) return res;
    await res.body.dump();
    return this.request(method, { ...headers, authorization: next }, body);
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    try {
      if (options?.resumptionToken) {
        this.listen({ reconnectable: true, replayMessageId: isRequest(message) ? message.id : undefined }, options.resumptionToken).catch((err: unknown) => this.onerror?.(err as Error));
        return;
      }
      const res = await this.exchange('POST', JSON.stringify(message), { 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
      const sessionId = single(res.headers['mcp-session-id']);
      if (sessionId) this.sessionId = sessionId;
      if (res.statusCode < 200 || res.statusCode >= 300) {
        const text = await res.body.text().catch(() => '');
        throw new UpstreamHttpError(res.statusCode, `Error POSTing to endpoint: HTTP ${res.statusCode} ${text}`.trimEnd());
      }
      if (res.statusCode === 202 || !isRequest(message)) {
        await res.body.dump();
        if (res.statusCode === 202 && isMethod(message, 'notifications/initialized')) this.listen({ reconnectable: true }).catch((err: unknown) => this.onerror?.(err as Error));
        return;
      }
      const type = mediaType(single(res.headers['content-type']));
      if (type === 'application/json') {
        const data: unknown = await res.body.json();
        for (const item of Array.isArray(data) ? data : [data]) this.onmessage?.(JSONRPCMessageSchema.parse(item));
      } else if (type === 'text/event-stream') {
        this.read(res.body, { reconnectable: false });
      } else {
        await res.body.dump();
        throw new UpstreamHttpError(-1, `Unexpected content type: ${type}`);
      }
    } catch (error) {
      this.onerror?.(error as Error);
      throw error;
    }
  }

  /** Opens (or resumes, with `Last-Event-ID`) a GET stream; a server without one answers 405, which is fine. */
  private async listen(context: StreamContext, lastEventId?: string): Promise<void> {
    if (this.closed) return;
    const res = await this.exchange('GET', undefined, { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) });
    if (res.statusCode !== 200) {
      await res.body.dump();
      if (res.statusCode === 405) return;
      throw new UpstreamHttpError(res.statusCode, `Failed to open SSE stream: HTTP ${res.statusCode}`);
    }
    this.read(res.body, context);
  }

  /** Reads an SSE answer to its end; a stream that ends before its answer is resumed if it can be. */
  private read(body: Readable, context: StreamContext): void {
    let lastEventId: string | undefined;
    let primed = false;
    let answered = false;
    const parser = new SseParser(
      (event) => {
        if (event.id !== undefined) {
          lastEventId = event.id;
          primed = true;
        }
        // A priming event (SEP-1699) has an id and no data: nothing to deliver.
        if (!event.data || (event.event !== undefined && event.event !== 'message')) return;
        try {
          const message = JSONRPCMessageSchema.parse(JSON.parse(event.data));
          if (isResult(message)) {
            answered = true;
            if (context.replayMessageId !== undefined) message.id = context.replayMessageId;
          }
          this.onmessage?.(message);
        } catch (err) {
          this.onerror?.(err as Error);
        }
      },
      (ms) => {
        this.serverRetryMs = ms;
      },
    );
    body.setEncoding('utf8');
    body.on('data', (text: string) => parser.push(text));
    const ended = (err?: Error) => {
      if (err && !this.closed) this.onerror?.(new Error(`SSE stream disconnected: ${err.message}`));
      if ((context.reconnectable || primed) && !answered && !this.closed) this.reconnect({ reconnectable: true, replayMessageId: context.replayMessageId }, lastEventId, 0);
    };
    body.once('end', () => ended());
    body.once('error', ended);
  }

  private reconnect(context: StreamContext, lastEventId: string | undefined, attempt: number): void {
    if (attempt >= RECONNECT.maxRetries) {
      this.onerror?.(new Error(`Maximum reconnection attempts (${RECONNECT.maxRetries}) exceeded.`));
      return;
    }
    const delay = this.serverRetryMs ?? Math.min(RECONNECT.initialMs * RECONNECT.grow ** attempt, RECONNECT.maxMs);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.listen(context, lastEventId).catch((err: unknown) => {
        this.onerror?.(new Error(`Failed to reconnect SSE stream: ${err instanceof Error ? err.message : String(err)}`));
        this.reconnect(context, lastEventId, attempt + 1);
      });
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }

  /** Ends the session on the server (DELETE); a server that does not allow it answers 405, which is fine. */
  async terminateSession(): Promise<void> {
    if (this.sessionId === undefined || this.closed) return;
    const res = await this.exchange('DELETE', undefined, {});
    await res.body.dump();
    if (res.statusCode >= 300 && res.statusCode !== 405) throw new UpstreamHttpError(res.statusCode, `Failed to terminate session: HTTP ${res.statusCode}`);
    this.sessionId = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    // Ends the requests still in flight (an open SSE stream among them).
    await this.pool.destroy().catch(() => undefined);
    this.onclose?.();
  }
}
