import {
  ErrorCode,
  LoggingLevelSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ProgressNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
  type LoggingLevel,
  type LoggingMessageNotification,
  type Progress,
  type ServerCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { RequestLog } from '../../core/request-log.js';
import type { McpServer } from '../registry.js';
import type { ForwardedHeaders } from '../auth/forwarded-headers.js';
import { UpstreamHttpError } from './lean-http-client-transport.js';
import { connectUpstream, type ConnectedTransport, type RequestAuthorizer, type UpstreamConnection } from './connect.js';
import { scrubSecrets } from './scrub.js';
import { compileToolFilter } from './tool-filter.js';
import { callResultSchema, LISTS, pageSchemas, type ItemList, type ItemOf, type ListKind, type ToolList, type UpstreamCallResult, type UpstreamResult, type UpstreamTool } from './upstream-lists.js';
import { ProgressRouter } from './progress-router.js';

/** Per-call options a downstream request passes on: its cancellation and a sink for the upstream's progress. */
export interface UpstreamCallOptions {
  /** Aborting it cancels the upstream request (the SDK sends `notifications/cancelled`). */
  signal?: AbortSignal;
  /** Called with each progress notification of the upstream request; progress also restarts the timeout. */
  onprogress?: (progress: Progress) => void;
  /** The client request's `x-mcp-*` headers; the call's server gets the ones for its alias. */
  forwarded?: ForwardedHeaders;
  /** The calling user, for servers that need each user's own OAuth token. */
  userId?: string | null;
}

/** Something a server said on its own: one of its lists changed, or a log message. */
export type UpstreamEvent =
  | { type: 'list_changed'; server: McpServer; list: 'tools' | 'resources' | 'prompts' }
  | { type: 'log'; server: McpServer; params: LoggingMessageNotification['params'] };

/** The more verbose of two levels. */
const moreVerbose = (a: LoggingLevel | null, b: LoggingLevel): LoggingLevel => (a !== null && LoggingLevelSchema.options.indexOf(a) < LoggingLevelSchema.options.indexOf(b) ? a : b);

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

/** What every connection of a pool shares. */
export interface UpstreamSettings {
  log: RequestLog;
  now: () => number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

const LATENCY_WINDOW = 100;
const MAX_PAGES = 100;
/** How long a list is served from memory when the server does not announce changes to it. */
const LIST_TTL_MS = 10_000;

const stripPrefix = (message: string) => message.replace(/^MCP error -?\d+: /, '');

/** The server's `allowed_tools`/`denied_tools` leave this tool out: as if it did not exist. */
export class ToolNotOffered extends McpError {
  constructor(alias: string, name: string) {
    super(ErrorCode.InvalidParams, `Tool "${name}" is not available on MCP server "${alias}"`);
  }
}

/**
 * One server's connection: connects lazily (or at once, `start: eager`), reconnects with capped
 * backoff, remembers its last good lists, and closes when unused for `idle_timeout_ms`.
 */
export class Upstream {
  state: UpstreamState = 'idle';
  private conn: UpstreamConnection | null = null;
  private connecting: Promise<UpstreamConnection> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private everConnected = false;
  private readonly lastGood = new Map<ListKind, unknown[]>();
  /** When each remembered list was fetched, and over which connection (a new connection lists again). */
  private readonly listedAt = new Map<ListKind, { conn: UpstreamConnection; at: number }>();
  private readonly listing = new Map<ListKind, Promise<unknown>>();
  private readonly progress = new ProgressRouter();
  /** The level asked of the server (the most verbose any session wanted); sent again after a reconnect. */
  private logLevel: LoggingLevel | null = null;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;
  private restarts = 0;
  private calls = 0;
  private readonly latencies: number[] = [];
  private readonly allows: (tool: string) => boolean;
  private inFlight = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Closed for being idle: the next connection is a wake-up, not a restart. */
  private idledOut = false;

  constructor(
    readonly server: McpServer,
    private readonly opts: UpstreamSettings,
    private readonly emit: (event: UpstreamEvent) => void,
    /** The registry's definition this connection was made for (server differs when it carries forwarded headers). */
    readonly definition: McpServer = server,
    private readonly authorizer: RequestAuthorizer | undefined = undefined,
    /**
     * Reconnect on its own after a failure. Off for a caller's own connection (forwarded headers,
     * a user's token): a wrong or missing credential must not make the gateway knock on the
     * server forever; the caller's next request connects again.
     */
    private readonly reconnectInBackground = true,
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
    this.state = this.everConnected && !this.idledOut ? 'reconnecting' : 'connecting';
    let conn: UpstreamConnection;
    try {
      conn = await connectUpstream(this.server, { log: this.log, timeoutMs: this.server.timeout_ms, authorizer: this.authorizer });
    } catch (err) {
      // A wake-up that fails is a failure like any other: its list is stale, its recovery a restart.
      this.idledOut = false;
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
    if (this.everConnected && !this.idledOut) this.restarts += 1;
    this.idledOut = false;
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
    this.listenTo(conn);
    if (this.logLevel && conn.client.getServerCapabilities()?.logging) {
      const level = this.logLevel;
      conn.client.setLoggingLevel(level, { timeout: this.server.timeout_ms }).catch((err: unknown) => this.fail(err));
    }
    this.log.info({ mcp_server: this.server.alias, transport: conn.transport, pid: conn.pid }, 'connected to MCP server');
    this.armIdleTimer();
    return conn;
  }

  /** (Re)starts the idle countdown; only while nothing is in flight, so a long call is never cut. */
  private armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const ms = this.server.idle_timeout_ms;
    if (ms === null || this.inFlight > 0 || !this.conn || this.isClosed()) return;
    this.idleTimer = setTimeout(() => void this.idleOut(ms), ms);
    this.idleTimer.unref();
  }

  /** Closes an unused connection gracefully (STDIO: stdin EOF, then signals); the next call opens a new one. */
  private async idleOut(ms: number): Promise<void> {
    this.idleTimer = null;
    const conn = this.conn;
    if (!conn || this.inFlight > 0 || this.isClosed()) return;
    this.conn = null;
    this.idledOut = true;
    this.state = 'idle';
    conn.client.onclose = undefined;
    conn.client.onerror = undefined;
    this.log.info({ mcp_server: this.server.alias, idle_timeout_ms: ms, pid: conn.pid }, 'stopping idle MCP server');
    await conn.close().catch((err: unknown) => this.log.warn({ mcp_server: this.server.alias, err: scrubSecrets(String(err), this.server) }, 'could not close MCP server cleanly'));
  }

  /** What the server says on its own: list changes refresh the remembered list before clients are told; log messages go on as they are. */
  private listenTo(conn: UpstreamConnection): void {
    const changed = (list: 'tools' | 'resources' | 'prompts') => () => {
      this.log.debug({ mcp_server: this.server.alias, list }, 'mcp server list changed');
      // Neither the remembered list nor a listing already under way may answer for the new one.
      const dropped: ListKind[] = list === 'resources' ? ['resources', 'resourceTemplates'] : [list];
      for (const kind of dropped) {
        this.listedAt.delete(kind);
        this.listing.delete(kind);
      }
      const refreshed = list === 'resources' ? Promise.all([this.list('resources'), this.list('resourceTemplates')]) : this.list(list);
      void refreshed.catch(() => undefined).finally(() => this.emit({ type: 'list_changed', server: this.server, list }));
    };
    conn.client.setNotificationHandler(ToolListChangedNotificationSchema, changed('tools'));
    conn.client.setNotificationHandler(ResourceListChangedNotificationSchema, changed('resources'));
    conn.client.setNotificationHandler(PromptListChangedNotificationSchema, changed('prompts'));
    conn.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => this.emit({ type: 'log', server: this.server, params: n.params }));
    conn.client.setNotificationHandler(ProgressNotificationSchema, (n) => this.progress.deliver(n.params));
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
    if (!this.reconnectInBackground) return;
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

  private async connection(): Promise<UpstreamConnection> {
    try {
      return await this.ensure();
    } catch (err) {
      throw this.mcpError(err);
    }
  }

  /** Counts the request in flight, so the idle countdown never cuts it. */
  private async request<T extends z.ZodType>(method: string, params: Record<string, unknown>, schema: T, options: UpstreamCallOptions = {}): Promise<z.infer<T>> {
    this.inFlight += 1;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    try {
      return await this.send(method, params, schema, options);
    } finally {
      this.inFlight -= 1;
      this.armIdleTimer();
    }
  }

  private async send<T extends z.ZodType>(method: string, params: Record<string, unknown>, schema: T, options: UpstreamCallOptions, retried = false): Promise<z.infer<T>> {
    const conn = await this.connection();
    try {
      if (options.onprogress) return await this.progress.request(conn.client, { method, params }, schema, { timeoutMs: this.server.timeout_ms, onprogress: options.onprogress, signal: options.signal });
      return (await conn.client.request({ method, params } as never, schema, { timeout: this.server.timeout_ms, signal: options.signal })) as z.infer<T>;
    } catch (err) {
      // The client gave up on it; the SDK already told the server. Not the server's failure.
      if (options.signal?.aborted) throw new McpError(ErrorCode.RequestTimeout, `The request to MCP server "${this.server.alias}" was cancelled by the client`);
      this.fail(err);
      this.afterFailure(conn, err);
      // A Streamable HTTP server that forgot our session (restarted, expired) refused the request
      // without running it: initialize a new session and send it once more.
      if (!retried && err instanceof UpstreamHttpError && (err.code === 404 || err.code === 400)) return this.send(method, params, schema, options, true);
      throw this.mcpError(err);
    }
  }

  /** Whether the connected server announced a capability (connecting first if needed). */
  private async offers(capability: keyof ServerCapabilities): Promise<boolean> {
    const conn = await this.connection();
    return conn.client.getServerCapabilities()?.[capability] !== undefined;
  }

  /** A request for a capability the server did not announce is refused here, naming the server, instead of being sent. */
  private async requireCapability(capability: keyof ServerCapabilities, what: string): Promise<void> {
    if (!(await this.offers(capability))) throw new McpError(ErrorCode.MethodNotFound, `MCP server "${this.server.alias}" offers no ${what}`);
  }

  /**
   * Whether the remembered list can be served without asking: it came over the live connection,
   * and either the server promised to announce changes (`listChanged`; the notification drops
   * the list) or it is younger than LIST_TTL_MS. Without this, every page of a client's listing
   * would list every server again in full.
   */
  private isFresh(kind: ListKind): boolean {
    const listed = this.listedAt.get(kind);
    if (!listed || !this.conn || listed.conn !== this.conn) return false;
    const announced = this.conn.client.getServerCapabilities()?.[LISTS[kind].capability] as { listChanged?: boolean } | undefined;
    return announced?.listChanged === true || this.opts.now() - listed.at < LIST_TTL_MS;
  }

  /** Every item of a list (every page); a server without the capability has none (tools are always asked for). */
  async list<K extends ListKind>(kind: K): Promise<ItemList<ItemOf<K>>> {
    const remembered = this.lastGood.get(kind) as ItemOf<K>[] | undefined;
    if (remembered && this.isFresh(kind)) return { items: remembered, stale: false };
    // One listing at a time per list: concurrent callers share it.
    let pending = this.listing.get(kind) as Promise<ItemList<ItemOf<K>>> | undefined;
    if (!pending) {
      pending = this.fetchList(kind, remembered).finally(() => this.listing.delete(kind));
      this.listing.set(kind, pending);
    }
    return pending;
  }

  private async fetchList<K extends ListKind>(kind: K, remembered: ItemOf<K>[] | undefined): Promise<ItemList<ItemOf<K>>> {
    const spec = LISTS[kind];
    // Stopped for being idle: the list it gave is still its list; listing does not wake it.
    if (this.idledOut && remembered) return { items: remembered, stale: false };
    // While the server is away, callers get the last good list at once instead of waiting on it.
    if (!this.conn && remembered && this.state !== 'idle') {
      this.ensure().catch(() => undefined);
      return { items: remembered, stale: true };
    }
    try {
      const conn = await this.connection();
      if (kind !== 'tools' && conn.client.getServerCapabilities()?.[spec.capability] === undefined) return { items: [], stale: false };
      const items: ItemOf<K>[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const res = await this.request(spec.method, cursor === undefined ? {} : { cursor }, pageSchemas.get(kind)!);
        items.push(...(res[spec.field] as ItemOf<K>[]));
        cursor = res.nextCursor;
        if (!cursor) break;
      }
      const kept = kind === 'tools' ? items.filter((t) => this.allows((t as UpstreamTool).name)) : items;
      this.lastGood.set(kind, kept);
      // A list fetched over a connection that has since gone says nothing about the new one.
      if (conn === this.conn) this.listedAt.set(kind, { conn, at: this.opts.now() });
      return { items: kept, stale: false };
    } catch (err) {
      if (remembered) return { items: remembered, stale: true };
      throw err;
    }
  }

  async listTools(): Promise<ToolList> {
    const { items, stale } = await this.list('tools');
    return { tools: items, stale };
  }

  async readResource(uri: string, meta: Record<string, unknown> | undefined, options: UpstreamCallOptions): Promise<UpstreamResult> {
    await this.requireCapability('resources', 'resources');
    return this.request('resources/read', { uri, ...(meta ? { _meta: meta } : {}) }, callResultSchema, options);
  }

  async getPrompt(name: string, args: Record<string, string> | undefined, meta: Record<string, unknown> | undefined, options: UpstreamCallOptions): Promise<UpstreamResult> {
    await this.requireCapability('prompts', 'prompts');
    return this.request('prompts/get', { name, ...(args ? { arguments: args } : {}), ...(meta ? { _meta: meta } : {}) }, callResultSchema, options);
  }

  async complete(params: Record<string, unknown>, options: UpstreamCallOptions): Promise<UpstreamResult> {
    await this.requireCapability('completions', 'completions');
    return this.request('completion/complete', params, callResultSchema, options);
  }

  /**
   * Raises the server's log verbosity to `level` if that is more verbose than what it was asked
   * before. The connection is shared by every session, so each session filters for itself.
   * A server without logging is left alone; one not connected yet is asked when it connects.
   */
  async setLogLevel(level: LoggingLevel): Promise<void> {
    const wanted = moreVerbose(this.logLevel, level);
    if (wanted === this.logLevel) return;
    this.logLevel = wanted;
    // Not connected: open() sends it when the server is first used, without starting it now.
    if (!this.conn?.client.getServerCapabilities()?.logging) return;
    await this.request('logging/setLevel', { level: wanted }, callResultSchema);
  }

  async callTool(name: string, args: Record<string, unknown> | undefined, meta: Record<string, unknown> | undefined, options: UpstreamCallOptions = {}): Promise<UpstreamCallResult> {
    if (!this.allows(name)) throw new ToolNotOffered(this.server.alias, name);
    const started = performance.now();
    try {
      return await this.request('tools/call', { name, arguments: args ?? {}, ...(meta ? { _meta: meta } : {}) }, callResultSchema, options);
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
      tool_count: this.lastGood.get('tools')?.length ?? null,
      latency_p50_ms: sorted.length ? Math.round(sorted[Math.floor((sorted.length - 1) / 2)]! * 100) / 100 : null,
      calls: this.calls,
    };
  }

  /** `start: eager`: connect now and list the tools, without waiting for a caller. Failures retry with backoff. */
  start(): void {
    this.listTools().catch(() => undefined);
  }

  /** The process id of a stdio server (tests and operators use it to find the child). */
  get pid(): number | null {
    return this.conn?.pid ?? null;
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const conn = this.conn ?? (await this.connecting?.catch(() => null)) ?? null;
    this.conn = null;
    if (conn) {
      conn.client.onclose = undefined;
      conn.client.onerror = undefined;
      await conn.close().catch((err: unknown) => this.log.warn({ mcp_server: this.server.alias, err: scrubSecrets(String(err), this.server) }, 'could not close MCP server cleanly'));
    }
  }
}
