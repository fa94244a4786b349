import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Shared machinery for the fake provider upstreams (fake-openai, fake-anthropic, fake-gemini).
 * A fake is steered per request by `x-fake-*` headers (the gateway forwards them when the
 * provider is configured with `forward_headers: ["x-fake-*"]`), by a queue of one-shot
 * steerings, or by a default steering set on the fake itself.
 */
export interface Steering {
  /** Answer with this error status (in the provider's error format). */
  status?: number;
  /** Wait this long before sending response headers. */
  delayMs?: number;
  /** Wait this long between streamed events. */
  chunkDelayMs?: number;
  /** Destroy the socket after this many streamed events. */
  breakAfter?: number;
  /** Retry-After header value sent with an error. */
  retryAfter?: string;
  /** Error message sent with an error status. */
  errorMessage?: string;
  /** Provider-specific error type/code sent with an error status (e.g. `context_length_exceeded`). */
  errorCode?: string;
  /** Prompt-cache tokens to report in usage (Anthropic: cache_read_input_tokens / cache_creation_input_tokens). */
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  /** Report this many input tokens instead of the fake's own count (long-context prices). */
  inputTokens?: number;
  /** Answer without any usage, as older vLLM, Ollama and LM Studio do (OpenAI fake; JSON and streams). */
  noUsage?: boolean;
  /** Server tool calls to report (Anthropic `usage.server_tool_use`), e.g. `web_search_requests=3`. */
  serverToolUse?: Record<string, number>;
  /** Answer with text even when tools are offered (coding agents always offer tools). */
  noToolCall?: boolean;
  /** Call this offered function tool instead of the first one (`x-fake-tool`). */
  toolName?: string;
  /** The call's arguments, a JSON text (`x-fake-tool-args`), instead of `{"query": <last user text>}`. */
  toolArgs?: string;
  /** Call the tool again even after a tool result, as a model that never settles (`x-fake-always-tool`). */
  alwaysTool?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path and query string. */
  url: string;
  headers: IncomingMessage['headers'];
  /** Parsed JSON when the body was JSON, else the raw text ('' when empty). */
  body: any;
  rawBody: string;
}

export type FakeHandler = (req: RecordedRequest, steering: Steering, res: ServerResponse) => Promise<void> | void;

export interface FakeUpstream {
  /** Base URL, e.g. http://127.0.0.1:12345 */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Steering applied to every request (header steering wins over it). */
  steer: Steering;
  /** One-shot steerings, consumed one per request before header and default steering. */
  queue: Steering[];
  reset(): void;
  close(): Promise<void>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function readSteering(req: IncomingMessage): Steering {
  const s: Steering = {};
  const status = num(header(req, 'x-fake-status'));
  if (status !== undefined) s.status = status;
  const delay = num(header(req, 'x-fake-delay-ms'));
  if (delay !== undefined) s.delayMs = delay;
  const chunkDelay = num(header(req, 'x-fake-chunk-delay-ms'));
  if (chunkDelay !== undefined) s.chunkDelayMs = chunkDelay;
  const breakAfter = num(header(req, 'x-fake-break-after'));
  if (breakAfter !== undefined) s.breakAfter = breakAfter;
  const retryAfter = header(req, 'x-fake-retry-after');
  if (retryAfter !== undefined) s.retryAfter = retryAfter;
  const msg = header(req, 'x-fake-error-message');
  if (msg !== undefined) s.errorMessage = msg;
  const code = header(req, 'x-fake-error-code');
  if (code !== undefined) s.errorCode = code;
  const cacheRead = num(header(req, 'x-fake-cache-read-tokens'));
  if (cacheRead !== undefined) s.cacheReadTokens = cacheRead;
  const cacheWrite = num(header(req, 'x-fake-cache-write-tokens'));
  if (cacheWrite !== undefined) s.cacheWriteTokens = cacheWrite;
  const inputTokens = num(header(req, 'x-fake-input-tokens'));
  if (inputTokens !== undefined) s.inputTokens = inputTokens;
  if (header(req, 'x-fake-no-usage') === '1') s.noUsage = true;
  const serverTools = header(req, 'x-fake-server-tool-use');
  if (serverTools !== undefined) {
    s.serverToolUse = Object.fromEntries(serverTools.split(',').map((pair) => {
      const [name, count] = pair.split('=');
      return [String(name).trim(), Number(count)];
    }));
  }
  if (header(req, 'x-fake-no-tool-call') !== undefined) s.noToolCall = true;
  const toolName = header(req, 'x-fake-tool');
  if (toolName !== undefined) s.toolName = toolName;
  const toolArgs = header(req, 'x-fake-tool-args');
  if (toolArgs !== undefined) s.toolArgs = toolArgs;
  if (header(req, 'x-fake-always-tool') !== undefined) s.alwaysTool = true;
  return s;
}

export async function startFakeServer(handle: FakeHandler): Promise<FakeUpstream> {
  const fake: FakeUpstream = {
    url: '',
    requests: [],
    steer: {},
    queue: [],
    reset() {
      this.requests.length = 0;
      this.queue.length = 0;
      this.steer = {};
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: any = rawBody;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = rawBody;
      }
    }
    const recorded: RecordedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, rawBody };
    fake.requests.push(recorded);
    const steering: Steering = { ...fake.steer, ...readSteering(req), ...(fake.queue.shift() ?? {}) };
    try {
      if (steering.delayMs) await sleep(steering.delayMs);
      await handle(recorded, steering, res);
    } catch (err) {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `fake upstream failed: ${String(err)}` } }));
      } else {
        res.destroy();
      }
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Writes SSE events, honouring chunkDelayMs and breakAfter. An event with `event` gets an
 * `event:` line (Anthropic style); without, only `data:` (OpenAI and Gemini style).
 */
export async function sendSse(res: ServerResponse, events: Array<{ event?: string; data: string }>, steering: Steering): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let sent = 0;
  for (const e of events) {
    if (steering.breakAfter !== undefined && sent >= steering.breakAfter) {
      // Let what was written reach the client first, then cut the connection without the
      // chunked-encoding terminator, the way a crashed upstream or a dropped link looks.
      await new Promise<void>((resolve) => res.write('', () => resolve()));
      await sleep(20);
      res.socket?.destroy();
      return;
    }
    if (steering.chunkDelayMs && sent > 0) await sleep(steering.chunkDelayMs);
    if (res.destroyed) return;
    res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${e.data}\n\n`);
    sent++;
  }
  res.end();
}

/** Deterministic token estimate the fakes report as usage: one token per 4 characters, at least 1. */
export function fakeTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** The fakes' deterministic answer text. */
export function fakeAnswer(lastUserText: string): string {
  return `Echo: ${lastUserText}`;
}

/** Splits an answer into streamed pieces of roughly word size, deterministically. */
export function splitForStream(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [text];
}
