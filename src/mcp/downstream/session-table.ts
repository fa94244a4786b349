import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { LeanHttpServerTransport } from './lean-http-server-transport.js';
import type { EndpointScope } from './tool-catalog.js';

/** A session's transport: Streamable HTTP (`/mcp`) or the legacy HTTP+SSE one (`/sse`); a session id only works on its own kind. */
export type SessionTransport = { kind: 'streamable-http'; transport: LeanHttpServerTransport } | { kind: 'sse'; transport: SSEServerTransport };

export type DownstreamSession = SessionTransport & {
  id: string;
  server: Server;
  scope: EndpointScope;
  /** The principal that opened the session: another key presenting its id gets a 404. */
  principalId: string;
  lastUsed: number;
};

/** A session id presented to an endpoint is only good for the transport, endpoint and principal that opened it. */
export function ownsSession<K extends DownstreamSession['kind']>(session: DownstreamSession | undefined, kind: K, endpoint: EndpointScope, principalId: string): session is Extract<DownstreamSession, { kind: K }> {
  if (!session || session.kind !== kind || session.principalId !== principalId) return false;
  return session.scope.kind === 'all' ? endpoint.kind === 'all' : endpoint.kind === 'one' && endpoint.alias === session.scope.alias;
}

export interface SessionTableOptions {
  maxSessions: number;
  idleMs: number;
  now: () => number;
}

/**
 * Live MCP sessions of this instance (sessions are not shared between instances: a load
 * balancer must keep a session on one instance, e.g. by the `Mcp-Session-Id` header). Both
 * transports share it, so `mcp.max_sessions` bounds them together. Bounded:
 * when full, the least recently used session is closed; idle ones are closed by a sweep.
 */
export class SessionTable {
  // Map order is insertion order; touch() re-inserts, so the first entry is the least recently used.
  private readonly sessions = new Map<string, DownstreamSession>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly options: SessionTableOptions) {
    this.sweep = setInterval(() => void this.expireIdle(), Math.min(options.idleMs, 60_000));
    this.sweep.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  add(session: DownstreamSession): void {
    while (this.sessions.size >= this.options.maxSessions) {
      const oldest = this.sessions.values().next().value;
      if (!oldest) break;
      void this.close(oldest.id);
    }
    this.sessions.set(session.id, session);
  }

  /** The session, marked as used now. */
  touch(id: string): DownstreamSession | undefined {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    session.lastUsed = this.options.now();
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return session;
  }

  /** Forgets a session the transport already closed (DELETE, or a legacy SSE stream that ended). */
  forget(id: string): void {
    this.sessions.delete(id);
  }

  async close(id: string): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    await session.server.close().catch(() => undefined);
  }

  private async expireIdle(): Promise<void> {
    const cutoff = this.options.now() - this.options.idleMs;
    const idle = [...this.sessions.values()].filter((s) => s.lastUsed <= cutoff);
    await Promise.all(idle.map((s) => this.close(s.id)));
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweep);
    await Promise.all([...this.sessions.keys()].map((id) => this.close(id)));
  }
}
