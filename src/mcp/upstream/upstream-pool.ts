import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { RequestLog } from '../../core/request-log.js';
import type { McpServer, McpServerRegistry } from '../registry.js';
import { connectUpstream, type ConnectedTransport, type UpstreamConnection } from './connect.js';
import { scrubSecrets } from './scrub.js';
import { compileToolFilter } from './tool-filter.js';

/**
 * Loose on purpose: the gateway forwards tools and results it does not know field by field
 * (`_meta`, `outputSchema`, `structuredContent`, icons, content types added tomorrow), so it
 * checks only what it reads itself.
 */
const toolSchema = z.looseObject({ name: z.string() });
const listSchema = z.looseObject({ tools: z.array(toolSchema), nextCursor: z.string().optional() });
const callResultSchema = z.looseObject({});

export type UpstreamTool = z.infer<typeof toolSchema>;
export type UpstreamCallResult = z.infer<typeof callResultSchema>;

export interface ToolList {
  tools: UpstreamTool[];
  /** True when the server is unreachable and this is the last list it gave. */
  stale: boolean;
}

export type UpstreamState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface UpstreamHealth {
  id: string;
  alias: string;
  transport: McpServer['transport'];
  /** What `auto` resolved to, once connected. */
  connected_transport: ConnectedTransport | null;
  state: UpstreamState;
  connected: boolean;
  last_error: string | null;
  last_error_at: number | null;
  restarts: number;
  tool_count: number | null;
  latency_p50_ms: number | null;
  calls: number;
}

export interface UpstreamPoolOptions {
  registry: McpServerRegistry;
  log: RequestLog;
  now?: () => number;
  /** First reconnect delay; doubles per failed attempt up to `backoffMaxMs`. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

const LATENCY_WINDOW = 100;
const MAX_PAGES = 100;

const stripPrefix = (message: string) => message.replace(/^MCP error -?\d+: /, '');

/** One server's connection: connects lazily, reconnects with capped backoff, remembers its last good tool list. */
class Upstream {
  state: UpstreamState = 'idle';
  private conn: UpstreamConnection | null = null;
  private connecting: Promise<UpstreamConnection> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private everConnected = false;
  private lastGood: UpstreamTool[] | null = null;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;
  private restarts = 0;
  private calls = 0;
  private readonly latencies: number[] = [];
  private readonly allows: (tool: string) => boolean;

  constructor(
    readonly server: McpServer,
    private readonly opts: Required<Omit<UpstreamPoolOptions, 'registry'>>,
  ) {
    this.allows = compileToolFilter(server);
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private get log(): RequestLog {
    return this.opts.log;
  }

  private fail(err: unknown): void {
    this.lastError = scrubSecrets(err instanceof Error ? stripPrefix(err.message) : String(err), this.server);
    this.lastErrorAt = this.opts.now();
  }

  /** An MCP error that says which server it is about; the upstream's own message is kept. */
  private mcpError(err: unknown): McpError {
    const alias = this.server.alias;
    if (err instanceof McpError) {
      if (err.code === ErrorCode.RequestTimeout) return new McpError(ErrorCode.RequestTimeout, `MCP server "${alias}" timed out after ${this.server.timeout_ms} ms`);
      return new McpError(err.code, `MCP server "${alias}": ${scrubSecrets(stripPrefix(err.message), this.server)}`, err.data);
    }
    const message = err instanceof Error ? err.message : String(err);
    return new McpError(ErrorCode.ConnectionClosed, `MCP server "${alias}" is unavailable: ${scrubSecrets(message, this.server)}`);
  }

  /** The live client, connecting now if there is none (also during a backoff wait: a caller is waiting). */
  private ensure(): Promise<UpstreamConnection> {
    if (this.state === 'closed') return Promise.reject(new Error('the connection was closed'));
    if (this.conn) return Promise.resolve(this.conn);
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<UpstreamConnection> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.state = this.everConnected ? 'reconnecting' : 'connecting';
    let conn: UpstreamConnection;
    try {
      conn = await connectUpstream(this.server, { log: this.log, timeoutMs: this.server.timeout_ms });
    } catch (err) {
      this.fail(err);
      this.log.warn({ mcp_server: this.server.alias, err: this.lastError }, 'could not connect to MCP server');
      this.scheduleReconnect();
      throw err;
    }
    // close() may have run while the handshake was in flight.
    if (this.isClosed()) {
      await conn.close().catch(() => undefined);
      throw new Error('the connection was closed');
    }
    if (this.everConnected) this.restarts += 1;
    this.everConnected = true;
    this.attempt = 0;
    this.conn = conn;
    this.state = 'connected';
    conn.client.onclose = () => this.lost(conn, new Error('connection closed'));
    conn.client.onerror = (err) => {
      // The legacy SSE stream reports a dead server only as an error; its EventSource would then
      // reconnect to a new session the client never initialized, so start over instead.
      if (conn.transport === 'sse') this.lost(conn, err);
    };
    conn.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      this.log.debug({ mcp_server: this.server.alias }, 'mcp server tools changed');
    });
    this.log.info({ mcp_server: this.server.alias, transport: conn.transport, pid: conn.pid }, 'connected to MCP server');
    return conn;
  }

  /** The connection or process died: forget it, and reconnect (restart) after a backoff. */
  private lost(conn: UpstreamConnection, err: unknown): void {
    if (this.conn !== conn) return;
    this.conn = null;
    this.fail(err);
    this.log.warn({ mcp_server: this.server.alias, err: this.lastError }, 'lost the MCP server, reconnecting');
    void conn.close().catch(() => undefined);
    this.state = 'reconnecting';
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed' || this.retryTimer) return;
    this.state = 'reconnecting';
    const delay = Math.min(this.opts.backoffBaseMs * 2 ** this.attempt, this.opts.backoffMaxMs);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.ensure().catch(() => undefined);
    }, delay);
    this.retryTimer.unref();
  }

  /** A transport failure (not an answer from the server) means the connection is gone. */
  private afterFailure(conn: UpstreamConnection, err: unknown): void {
    if (!(err instanceof McpError) || err.code === ErrorCode.ConnectionClosed) this.lost(conn, err);
  }

  private async request<T extends z.ZodType>(method: string, params: Record<string, unknown>, schema: T, retried = false): Promise<z.infer<T>> {
    let conn: UpstreamConnection;
    try {
      conn = await this.ensure();
    } catch (err) {
      throw this.mcpError(err);
    }
    try {
      return (await conn.client.request({ method, params } as never, schema, { timeout: this.server.timeout_ms })) as z.infer<T>;
    } catch (err) {
      this.fail(err);
      this.afterFailure(conn, err);
      // A Streamable HTTP server that forgot our session (restarted, expired) refused the request
      // without running it: initialize a new session and send it once more.
      if (!retried && err instanceof StreamableHTTPError && (err.code === 404 || err.code === 400)) return this.request(method, params, schema, true);
      throw this.mcpError(err);
    }
  }

  async listTools(): Promise<ToolList> {
    // While the server is away, callers get the last good list at once instead of waiting on it.
    if (!this.conn && this.lastGood && this.state !== 'idle') {
      this.ensure().catch(() => undefined);
      return { tools: this.lastGood, stale: true };
    }
    try {
      const tools: UpstreamTool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const res = await this.request('tools/list', cursor === undefined ? {} : { cursor }, listSchema);
        tools.push(...res.tools);
        cursor = res.nextCursor;
        if (!cursor) break;
      }
      this.lastGood = tools.filter((t) => this.allows(t.name));
      return { tools: this.lastGood, stale: false };
    } catch (err) {
      if (this.lastGood) return { tools: this.lastGood, stale: true };
      throw err;
    }
  }

  async callTool(name: string, args: Record<string, unknown> | undefined, meta?: Record<string, unknown>): Promise<UpstreamCallResult> {
    if (!this.allows(name)) throw new McpError(ErrorCode.InvalidParams, `Tool "${name}" is not available on MCP server "${this.server.alias}"`);
    const started = performance.now();
    try {
      return await this.request('tools/call', { name, arguments: args ?? {}, ...(meta ? { _meta: meta } : {}) }, callResultSchema);
    } finally {
      this.calls += 1;
      this.latencies.push(performance.now() - started);
      if (this.latencies.length > LATENCY_WINDOW) this.latencies.shift();
    }
  }

  health(): UpstreamHealth {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      id: this.server.id,
      alias: this.server.alias,
      transport: this.server.transport,
      connected_transport: this.conn?.transport ?? null,
      state: this.state,
      connected: this.conn !== null,
      last_error: this.lastError,
      last_error_at: this.lastErrorAt,
      restarts: this.restarts,
      tool_count: this.lastGood?.length ?? null,
      latency_p50_ms: sorted.length ? Math.round(sorted[Math.floor((sorted.length - 1) / 2)]! * 100) / 100 : null,
      calls: this.calls,
    };
  }

  /** The process id of a stdio server (tests and operators use it to find the child). */
  get pid(): number | null {
    return this.conn?.pid ?? null;
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const conn = this.conn ?? (await this.connecting?.catch(() => null)) ?? null;
    this.conn = null;
    if (conn) {
      conn.client.onclose = undefined;
      conn.client.onerror = undefined;
      await conn.close().catch((err: unknown) => this.log.warn({ mcp_server: this.server.alias, err: scrubSecrets(String(err), this.server) }, 'could not close MCP server cleanly'));
    }
  }
}

// The registry hands out the same object until its next reload, so most calls end at === without serialising.
const sameDefinition = (a: McpServer, b: McpServer) => a === b || JSON.stringify(a) === JSON.stringify(b);

/**
 * One managed connection per registered MCP server (by id, so a rename keeps it). A server that
 * is down or slow fails on its own: every call has the server's timeout, and lists fall back to
 * the last good one. A server removed or changed in the registry is closed (and reopened lazily
 * with its new definition).
 */
export class UpstreamPool {
  private readonly upstreams = new Map<string, Upstream>();
  private readonly opts: Required<Omit<UpstreamPoolOptions, 'registry'>>;
  private readonly stopListening: () => Promise<void>;
  private closed = false;

  constructor(private readonly options: UpstreamPoolOptions) {
    this.opts = { log: options.log, now: options.now ?? Date.now, backoffBaseMs: options.backoffBaseMs ?? 250, backoffMaxMs: options.backoffMaxMs ?? 30_000 };
    this.stopListening = options.registry.onChange(() => this.sync());
  }

  private sync(): void {
    for (const [id, upstream] of this.upstreams) {
      const current = this.options.registry.get(id)?.server;
      if (current && sameDefinition(current, upstream.server)) continue;
      this.upstreams.delete(id);
      void upstream.close();
    }
  }

  private upstream(ref: string): Upstream {
    if (this.closed) throw new McpError(ErrorCode.ConnectionClosed, 'The gateway is shutting down');
    const { server } = this.options.registry.require(ref);
    let upstream = this.upstreams.get(server.id);
    if (!upstream || !sameDefinition(upstream.server, server)) {
      if (upstream) void upstream.close();
      upstream = new Upstream(server, this.opts);
      this.upstreams.set(server.id, upstream);
    }
    return upstream;
  }

  /** Every tool the server offers after its allowed/denied lists (every page). Throws a GatewayError 404 for an unknown server. */
  listTools(ref: string): Promise<ToolList> {
    return this.upstream(ref).listTools();
  }

  /** Calls a tool; the result comes back as the server sent it. Failures are McpErrors naming the server. */
  callTool(ref: string, name: string, args?: Record<string, unknown>, meta?: Record<string, unknown>): Promise<UpstreamCallResult> {
    return this.upstream(ref).callTool(name, args, meta);
  }

  /** A snapshot of one server's connection; a server not used yet reports `idle`. */
  health(ref: string): UpstreamHealth {
    return this.upstream(ref).health();
  }

  /** The child process id of a connected stdio server. */
  pid(ref: string): number | null {
    return this.upstream(ref).pid;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stopListening();
    const all = [...this.upstreams.values()];
    this.upstreams.clear();
    await Promise.all(all.map((u) => u.close()));
  }
}
