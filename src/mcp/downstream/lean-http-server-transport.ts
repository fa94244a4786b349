import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
  JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  type InitializeRequest,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { isMethod, isRequest, isResponse } from '../jsonrpc-shape.js';
import { SseResponse } from './sse-response.js';

/** The SDK's batch limit (2025-03-26 allowed JSON-RPC batches in a POST). */
const MAX_BATCH = 100;
/** The standalone GET stream's id in the event store, as the SDK names it. */
const GET_STREAM = '_GET_stream';
/** SEP-1699 priming events and `closeSSEStream` exist from this version on. */
const PRIMING_VERSION = '2025-11-25';

export interface LeanHttpServerTransportOptions {
  /** Called once, for the initialize request. */
  sessionId: () => string;
  /** Keeps what SSE streams carried, for `Last-Event-ID`; without it streams cannot be resumed. */
  eventStore?: EventStore | undefined;
  onsessioninitialized?: (id: string) => void;
  /** A DELETE ended the session. */
  onsessionclosed?: (id: string) => void;
  /**
   * How long a POST waits for its answer before it opens an SSE stream (and primes it, so a
   * client that loses it can resume). An answer ready sooner goes back as plain JSON.
   */
  jsonWindowMs: number;
}

/** One POST's requests and the HTTP answer they share (JSON while undecided, then maybe SSE). */
interface Exchange {
  res: ServerResponse;
  streamId: string;
  version: string;
  ids: RequestId[];
  answers: Map<RequestId, JSONRPCMessage>;
  sse: SseResponse | null;
  /** Headers went out (JSON or SSE), or the client left: no JSON answer is possible any more. */
  decided: boolean;
  timer: NodeJS.Timeout | null;
}

function writeJson(res: ServerResponse, status: number, body: string, sessionId: string | undefined): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, sessionId === undefined ? { 'content-type': 'application/json' } : { 'content-type': 'application/json', 'mcp-session-id': sessionId });
  res.end(body);
}

function rpcError(res: ServerResponse, status: number, code: number, message: string): void {
  writeJson(res, status, JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), undefined);
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * The MCP SDK's `Transport` for the server side of Streamable HTTP, straight over node:http (the
 * SDK's own goes through web `Request`/`Response` objects and opens an SSE stream for every
 * POST). A POST whose answer is ready within `jsonWindowMs`, with no progress asked for and
 * nothing else said about it first, is answered as `application/json`; otherwise the answer is
 * an SSE stream, primed (2025-11-25) and stored in the event store, so the client can resume it
 * with `Last-Event-ID`. GET opens the session's stream for server notifications; DELETE ends the
 * session. Host, Origin and authentication are the route's; the session id the route checked is
 * checked again here.
 */
export class LeanHttpServerTransport implements Transport {
  sessionId?: string;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  private initialized = false;
  private closed = false;
  private readonly byRequest = new Map<RequestId, Exchange>();
  private readonly byStream = new Map<string, Exchange>();
  private standalone: SseResponse | null = null;
  /** Event ids a resumed GET stream already replayed, so a message stored meanwhile is not sent twice. */
  private replayed: Set<string> | null = null;

  constructor(private readonly options: LeanHttpServerTransportOptions) {}

  async start(): Promise<void> {}

  /** Answers one HTTP request of the session; `body` is the parsed JSON of a POST. */
  async handleRequest(req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body: unknown): Promise<void> {
    if (this.closed) return rpcError(res, 404, -32001, 'Session not found');
    if (req.method === 'POST') return this.post(req, res, body);
    if (req.method === 'GET') return this.get(req, res);
    if (req.method === 'DELETE') return this.delete(req, res);
    res.setHeader('allow', 'GET, POST, DELETE');
    return rpcError(res, 405, -32000, 'Method not allowed.');
  }

  /** Answers the request with an error when the session is not initialized, or its id or protocol version does not fit. */
  private refuse(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.initialized) {
      rpcError(res, 400, -32000, 'Bad Request: Server not initialized');
      return true;
    }
    const id = header(req, 'mcp-session-id');
    if (id === undefined) {
      rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      return true;
    }
    if (id !== this.sessionId) {
      rpcError(res, 404, -32001, 'Session not found');
      return true;
    }
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      rpcError(res, 400, -32000, `Bad Request: Unsupported protocol version: ${version} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
      return true;
    }
    return false;
  }

  private parse(body: unknown): JSONRPCMessage[] | string {
    if (body === undefined || body === null || typeof body !== 'object') return 'Parse error: Invalid JSON';
    const raw = Array.isArray(body) ? body : [body];
    if (raw.length === 0) return 'Invalid Request: empty batch';
    if (raw.length > MAX_BATCH) return `Invalid Request: Batch must not exceed ${MAX_BATCH} messages`;
    const messages: JSONRPCMessage[] = [];
    for (const item of raw) {
      const parsed = JSONRPCMessageSchema.safeParse(item);
      if (!parsed.success) return 'Parse error: Invalid JSON-RPC message';
      messages.push(parsed.data);
    }
    return messages;
  }

  private async post(req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, body: unknown): Promise<void> {
    const accept = header(req, 'accept') ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      return rpcError(res, 406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream');
    }
    if (!(header(req, 'content-type') ?? '').toLowerCase().startsWith('application/json')) {
      return rpcError(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
    }
    const messages = this.parse(body);
    if (typeof messages === 'string') return rpcError(res, 400, messages.startsWith('Parse') ? -32700 : -32600, messages);

    const init = messages.find((m) => isMethod(m, 'initialize')) as InitializeRequest | undefined;
    if (init) {
      if (this.initialized) return rpcError(res, 400, -32600, 'Invalid Request: Server already initialized');
      if (messages.length > 1) return rpcError(res, 400, -32600, 'Invalid Request: Only one initialization request is allowed');
      this.sessionId = this.options.sessionId();
      this.initialized = true;
      this.options.onsessioninitialized?.(this.sessionId);
    } else if (this.refuse(req, res)) {
      return;
    }
    const requestInfo = { headers: req.headers };
    const authInfo = req.auth;
    const ids = messages.filter(isRequest).map((m) => m.id);
    if (ids.length === 0) {
      res.writeHead(202).end();
      for (const message of messages) this.onmessage?.(message, { authInfo, requestInfo });
      return;
    }

    const version = init ? (init.params?.protocolVersion ?? DEFAULT_NEGOTIATED_PROTOCOL_VERSION) : (header(req, 'mcp-protocol-version') ?? DEFAULT_NEGOTIATED_PROTOCOL_VERSION);
    const exchange: Exchange = { res, streamId: randomUUID(), version, ids, answers: new Map(), sse: null, decided: false, timer: null };
    for (const id of ids) this.byRequest.set(id, exchange);
    this.byStream.set(exchange.streamId, exchange);
    res.once('close', () => {
      // The client left before any answer: nothing can reach it now but a resumed stream.
      exchange.decided = true;
      if (exchange.timer) clearTimeout(exchange.timer);
    });
    const wantsProgress = messages.some((m) => isRequest(m) && (m.params?._meta as { progressToken?: unknown } | undefined)?.progressToken !== undefined);
    if (wantsProgress) await this.openStream(exchange);
    else {
      exchange.timer = setTimeout(() => void this.openStream(exchange).catch((err: unknown) => this.onerror?.(err as Error)), this.options.jsonWindowMs);
      exchange.timer.unref();
    }
    const resumable = this.options.eventStore !== undefined && version >= PRIMING_VERSION;
    for (const message of messages) {
      const closeSSEStream = resumable && isRequest(message) ? () => void this.closeStream(exchange) : undefined;
      const closeStandaloneSSEStream = resumable ? () => this.standalone?.end() : undefined;
      this.onmessage?.(message, { authInfo, requestInfo, ...(closeSSEStream ? { closeSSEStream, closeStandaloneSSEStream } : {}) });
    }
  }

  /** Turns an undecided POST into an SSE stream (primed, when the client can resume it). */
  private async openStream(exchange: Exchange): Promise<void> {
    if (exchange.timer) clearTimeout(exchange.timer);
    exchange.timer = null;
    if (exchange.decided) return;
    exchange.decided = true;
    const sse = new SseResponse(exchange.res, this.sessionId, () => {
      if (exchange.sse === sse) exchange.sse = null;
    });
    exchange.sse = sse;
    const store = this.options.eventStore;
    if (store && exchange.version >= PRIMING_VERSION) sse.priming(await store.storeEvent(exchange.streamId, {} as JSONRPCMessage));
  }

  /** SEP-1699 polling: the server ends a POST's stream early; the client comes back with GET and `Last-Event-ID`. */
  private async closeStream(exchange: Exchange): Promise<void> {
    await this.openStream(exchange);
    exchange.sse?.end();
  }

  private async get(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!(header(req, 'accept') ?? '').includes('text/event-stream')) return rpcError(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
    if (this.refuse(req, res)) return;
    const lastEventId = header(req, 'last-event-id');
    if (lastEventId && this.options.eventStore) return this.resume(lastEventId, res, this.options.eventStore);
    if (this.standalone?.open) return rpcError(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session');
    this.replayed = null;
    const sse = new SseResponse(res, this.sessionId, () => {
      if (this.standalone === sse) this.standalone = null;
    });
    this.standalone = sse;
  }

  /** Replays what a stream carried after `lastEventId`, then goes on with that stream on this response. */
  private async resume(lastEventId: string, res: ServerResponse, store: EventStore): Promise<void> {
    const streamId = await store.getStreamIdForEventId?.(lastEventId);
    if (!streamId) return rpcError(res, 400, -32000, 'Invalid event ID format');
    const exchange = this.byStream.get(streamId);
    if ((streamId === GET_STREAM && this.standalone?.open) || exchange?.sse?.open) return rpcError(res, 409, -32000, 'Conflict: Stream already has an active connection');
    const replayed = new Set<string>();
    let sse: SseResponse | null = null;
    sse = new SseResponse(res, this.sessionId, () => {
      if (this.standalone === sse) this.standalone = null;
      if (exchange?.sse === sse) exchange.sse = null;
    });
    await store.replayEventsAfter(lastEventId, {
      send: async (eventId, message) => {
        sse.message(message, eventId);
        replayed.add(eventId);
      },
    });
    if (this.closed) return sse.end();
    if (streamId === GET_STREAM) {
      this.standalone = sse;
      this.replayed = replayed;
    } else if (exchange && this.byStream.get(streamId) === exchange) {
      exchange.sse = sse;
    } else {
      // Every answer of that POST was sent (and has just been replayed): the stream is done.
      sse.end();
    }
  }

  private async delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.refuse(req, res)) return;
    try {
      this.options.onsessionclosed?.(this.sessionId!);
      res.writeHead(200).end();
    } finally {
      await this.close();
    }
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const response = isResponse(message);
    const requestId = response ? message.id : options?.relatedRequestId;
    const store = this.options.eventStore;
    if (requestId === undefined) {
      if (response) throw new Error('Cannot send a response on a standalone SSE stream unless resuming a previous client request');
      const eventId = store ? await store.storeEvent(GET_STREAM, message) : undefined;
      if (eventId === undefined || !this.replayed?.has(eventId)) this.standalone?.message(message, eventId);
      return;
    }
    const exchange = this.byRequest.get(requestId);
    if (!exchange) {
      if (this.closed) return;
      throw new Error(`No connection established for request ID: ${String(requestId)}`);
    }
    if (!response || exchange.sse !== null || exchange.decided) {
      // Something besides the answer, or a stream already open: this POST streams.
      if (!exchange.decided) await this.openStream(exchange);
      const eventId = store ? await store.storeEvent(exchange.streamId, message) : undefined;
      exchange.sse?.message(message, eventId);
    }
    if (!response) return;
    exchange.answers.set(requestId, message);
    if (exchange.answers.size < exchange.ids.length) return;
    this.finish(exchange);
  }

  /** Every request of the POST has its answer: send them as JSON if still undecided, else end the stream. */
  private finish(exchange: Exchange): void {
    for (const id of exchange.ids) this.byRequest.delete(id);
    this.byStream.delete(exchange.streamId);
    if (exchange.timer) clearTimeout(exchange.timer);
    if (!exchange.decided) {
      exchange.decided = true;
      const answers = exchange.ids.map((id) => exchange.answers.get(id));
      writeJson(exchange.res, 200, JSON.stringify(answers.length === 1 ? answers[0] : answers), this.sessionId);
      return;
    }
    exchange.sse?.end();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const exchange of this.byStream.values()) {
      if (exchange.timer) clearTimeout(exchange.timer);
      if (exchange.sse) exchange.sse.end();
      else if (!exchange.decided) rpcError(exchange.res, 404, -32001, 'Session not found');
    }
    this.byStream.clear();
    this.byRequest.clear();
    this.standalone?.end();
    this.standalone = null;
    this.onclose?.();
  }
}
