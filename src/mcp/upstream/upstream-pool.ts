import { ErrorCode, McpError, type LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { RequestLog } from '../../core/request-log.js';
import type { McpServer, McpServerRegistry } from '../registry.js';
import type { ClientCredentialsTokens } from '../auth/client-credentials.js';
import type { UserTokens } from '../auth/user-tokens.js';
import { forwardedKey, headersForAlias, mergeHeaders, type ForwardedHeaders } from '../auth/forwarded-headers.js';
import type { RequestAuthorizer } from './connect.js';
import { Upstream, type UpstreamCallOptions, type UpstreamEvent, type UpstreamHealth, type UpstreamSettings } from './upstream.js';
import type { ItemList, ToolList, UpstreamCallResult, UpstreamPrompt, UpstreamResource, UpstreamResourceTemplate, UpstreamResult } from './upstream-lists.js';

export { type ItemList, type ListKind, type ToolList, type UpstreamCallResult, type UpstreamPrompt, type UpstreamResource, type UpstreamResourceTemplate, type UpstreamResult, type UpstreamTool } from './upstream-lists.js';
export { ToolNotOffered, type UpstreamCallOptions, type UpstreamEvent, type UpstreamHealth, type UpstreamState } from './upstream.js';

/** What decides which connection a caller uses: its forwarded headers, and its user for per-user OAuth servers. */
export interface CallerAuth {
  forwarded?: ForwardedHeaders | undefined;
  userId?: string | null | undefined;
}

export interface UpstreamPoolOptions {
  registry: McpServerRegistry;
  log: RequestLog;
  now?: () => number;
  /** First reconnect delay; doubles per failed attempt up to `backoffMaxMs`. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Tokens for servers with `auth: oauth2_client_credentials`; without it such servers are called without one. */
  tokens?: ClientCredentialsTokens;
  /** Per-user tokens for servers with `auth: oauth2_authorization_code`. */
  userTokens?: UserTokens;
}

/** Connections that carry a caller's forwarded headers close after this long unused (or the server's own idle timeout, if shorter). */
const FORWARDED_IDLE_MS = 300_000;
/** At most this many such connections per instance; the oldest closes first. */
const MAX_FORWARDED_CONNECTIONS = 1000;

/** A caller forwarded headers for a stdio server: there is no HTTP request for them to ride on. */
export class ForwardedHeadersNotApplicable extends McpError {
  constructor(alias: string) {
    super(ErrorCode.InvalidParams, `MCP server "${alias}" runs over stdio: forwarded x-mcp-${alias}-* headers cannot apply (a stdio server gets no HTTP request to carry them)`);
  }
}

// The registry hands out the same object until its next reload, so most calls end at === without serialising.
const sameDefinition = (a: McpServer, b: McpServer) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** Connections with forwarded headers are keyed `{id}#{digest}`; the plain one by the id alone. */
const isForwardedKey = (key: string) => key.includes('#') || key.includes('@');

/**
 * One managed connection per registered MCP server (by id, so a rename keeps it). A server that
 * is down or slow fails on its own: every call has the server's timeout, and lists fall back to
 * the last good one. A server removed or changed in the registry is closed (and reopened lazily
 * with its new definition).
 */
export class UpstreamPool {
  private readonly upstreams = new Map<string, Upstream>();
  private readonly opts: UpstreamSettings;
  private readonly stopListening: () => Promise<void>;
  private readonly listeners = new Set<(event: UpstreamEvent) => void>();
  private closed = false;

  constructor(private readonly options: UpstreamPoolOptions) {
    this.opts = { log: options.log, now: options.now ?? Date.now, backoffBaseMs: options.backoffBaseMs ?? 250, backoffMaxMs: options.backoffMaxMs ?? 30_000 };
    this.stopListening = options.registry.onChange(() => this.sync());
    this.startEager();
  }

  /** Opens the connections of `start: eager` servers that have none (at start, and when one is registered or changed). */
  private startEager(): void {
    if (this.closed) return;
    for (const { server } of this.options.registry.list()) {
      if (server.start === 'eager' && !this.upstreams.has(server.id)) this.upstream(server.id).start();
    }
  }

  private sync(): void {
    for (const [key, upstream] of this.upstreams) {
      const current = this.options.registry.get(upstream.definition.id)?.server;
      if (current && sameDefinition(current, upstream.definition)) continue;
      this.upstreams.delete(key);
      void upstream.close();
    }
    this.startEager();
  }

  /**
   * The connection for a server and the caller's forwarded headers for it. A caller with none
   * shares the server's one connection; forwarded headers get a connection of their own, keyed
   * by a digest of them, so a Streamable HTTP session, its initialize and every later request
   * (and the lists remembered from it) belong to exactly one set of credentials.
   */
  private upstream(ref: string, who: CallerAuth = {}): Upstream {
    if (this.closed) throw new McpError(ErrorCode.ConnectionClosed, 'The gateway is shutting down');
    const { server } = this.options.registry.require(ref);
    const forwarded = who.forwarded;
    const own = forwarded ? headersForAlias(forwarded, server.alias, this.options.registry.list().map((s) => s.server.alias)) : {};
    if (server.auth?.type === 'oauth2_authorization_code') return this.perUser(server, own, who.userId ?? null);
    if (Object.keys(own).length === 0) return this.keyed(server.id, server, () => this.create(server, server));
    if (server.transport === 'stdio') {
      throw new ForwardedHeadersNotApplicable(server.alias);
    }
    const key = `${server.id}#${forwardedKey(own)}`;
    return this.keyed(key, server, () => {
      const effective: McpServer = {
        ...server,
        headers: mergeHeaders(server.headers, own, server.allow_header_override),
        start: 'lazy',
        idle_timeout_ms: Math.min(server.idle_timeout_ms ?? FORWARDED_IDLE_MS, FORWARDED_IDLE_MS),
      };
      const forwardedAuthorization = server.allow_header_override && 'authorization' in own;
      this.evictForwarded();
      return this.create(effective, server, forwardedAuthorization);
    });
  }

  /**
   * A server that needs each user's consent: one connection per user (and forwarded headers),
   * carrying that user's token; a caller without a user cannot use it.
   */
  private perUser(server: McpServer, own: Record<string, string>, userId: string | null): Upstream {
    const { userTokens } = this.options;
    const auth = server.auth;
    if (!userTokens || auth?.type !== 'oauth2_authorization_code' || !server.url) throw new McpError(ErrorCode.InvalidRequest, `MCP server "${server.alias}" needs per-user OAuth, which this gateway is not set up for`);
    if (userId === null) throw new McpError(ErrorCode.InvalidRequest, `MCP server "${server.alias}" needs each user's consent, and this key has no user_id`);
    const key = `${server.id}@${forwardedKey({ user: userId, ...own })}`;
    return this.keyed(key, server, () => {
      const effective: McpServer = { ...server, headers: mergeHeaders(server.headers, own, server.allow_header_override), start: 'lazy', idle_timeout_ms: Math.min(server.idle_timeout_ms ?? FORWARDED_IDLE_MS, FORWARDED_IDLE_MS) };
      const target = { id: server.id, alias: server.alias, url: server.url!, auth };
      this.evictForwarded();
      return new Upstream(effective, this.opts, (event) => this.emit(event), server, {
        authorization: async () => `Bearer ${await userTokens.token(target, userId)}`,
        rejected: async (sent) => `Bearer ${await userTokens.refresh(target, userId, sent.slice('Bearer '.length))}`,
        insufficientScope: (_sent, scope) => userTokens.stepUp(target, userId, scope),
      }, false);
    });
  }

  private keyed(key: string, server: McpServer, make: () => Upstream): Upstream {
    let upstream = this.upstreams.get(key);
    if (!upstream || !sameDefinition(upstream.definition, server)) {
      if (upstream) void upstream.close();
      upstream = make();
      this.upstreams.set(key, upstream);
    }
    return upstream;
  }

  private create(effective: McpServer, definition: McpServer, forwardedAuthorization = false): Upstream {
    const ownConnection = effective !== definition;
    return new Upstream(effective, this.opts, (event) => this.emit(event), definition, forwardedAuthorization ? undefined : this.authorizerFor(definition), !ownConnection);
  }

  /** Client-credentials tokens for the connection's requests, read per request so a refresh needs no reconnect. */
  private authorizerFor(server: McpServer): RequestAuthorizer | undefined {
    const { tokens } = this.options;
    const auth = server.auth;
    if (!tokens || auth?.type !== 'oauth2_client_credentials') return undefined;
    const target = { id: server.id, alias: server.alias, auth };
    return {
      authorization: async () => `Bearer ${await tokens.token(target)}`,
      rejected: async (sent) => `Bearer ${await tokens.refresh(target, sent.slice('Bearer '.length))}`,
      insufficientScope: async (_sent, scope) => {
        const token = await tokens.stepUp(target, scope);
        return token === null ? null : `Bearer ${token}`;
      },
    };
  }

  private evictForwarded(): void {
    const keys = [...this.upstreams.keys()].filter(isForwardedKey);
    for (const key of keys.slice(0, Math.max(0, keys.length - MAX_FORWARDED_CONNECTIONS + 1))) {
      void this.upstreams.get(key)?.close();
      this.upstreams.delete(key);
    }
  }

  /** Every tool the server offers after its allowed/denied lists (every page). Throws a GatewayError 404 for an unknown server. */
  listTools(ref: string, who?: CallerAuth): Promise<ToolList> {
    return this.upstream(ref, who).listTools();
  }

  /** Calls a tool; the result comes back as the server sent it. Failures are McpErrors naming the server. */
  callTool(ref: string, name: string, args?: Record<string, unknown>, meta?: Record<string, unknown>, options?: UpstreamCallOptions): Promise<UpstreamCallResult> {
    return this.upstream(ref, options).callTool(name, args, meta, options);
  }

  /** Resources, resource templates or prompts (every page); empty for a server that does not offer them; the last good list while it is away. */
  listResources(ref: string, who?: CallerAuth): Promise<ItemList<UpstreamResource>> {
    return this.upstream(ref, who).list('resources');
  }

  listResourceTemplates(ref: string, who?: CallerAuth): Promise<ItemList<UpstreamResourceTemplate>> {
    return this.upstream(ref, who).list('resourceTemplates');
  }

  listPrompts(ref: string, who?: CallerAuth): Promise<ItemList<UpstreamPrompt>> {
    return this.upstream(ref, who).list('prompts');
  }

  /** `resources/read`, `prompts/get`, `completion/complete`: results as the server sent them; a server without the capability gets an MCP error naming it (-32601). */
  readResource(ref: string, uri: string, meta?: Record<string, unknown>, options: UpstreamCallOptions = {}): Promise<UpstreamResult> {
    return this.upstream(ref, options).readResource(uri, meta, options);
  }

  getPrompt(ref: string, name: string, args?: Record<string, string>, meta?: Record<string, unknown>, options: UpstreamCallOptions = {}): Promise<UpstreamResult> {
    return this.upstream(ref, options).getPrompt(name, args, meta, options);
  }

  complete(ref: string, params: Record<string, unknown>, options: UpstreamCallOptions = {}): Promise<UpstreamResult> {
    return this.upstream(ref, options).complete(params, options);
  }

  /** Asks the server for log messages at `level` or above (never less verbose than another session asked for). */
  setLogLevel(ref: string, level: LoggingLevel): Promise<void> {
    return this.upstream(ref).setLogLevel(level);
  }

  /** Hears every server's own notifications (list changes, log messages); returns the way to stop. */
  onEvent(listener: (event: UpstreamEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: UpstreamEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.opts.log.warn({ mcp_server: event.server.alias, err: err instanceof Error ? err.message : String(err) }, 'MCP event listener failed');
      }
    }
  }

  /** A snapshot of one server's connection; a server not used yet reports `idle`. */
  health(ref: string): UpstreamHealth {
    return this.upstream(ref).health();
  }

  /** Health of every server with a connection object (used, or started eagerly), for metrics. */
  snapshots(): UpstreamHealth[] {
    return [...this.upstreams.entries()].filter(([key]) => !isForwardedKey(key)).map(([, u]) => u.health());
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
