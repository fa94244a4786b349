import type { LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';
import type { RequestLog } from '../../core/request-log.js';
import type { Principal } from '../../keys/principal.js';
import type { McpServer, McpServerRegistry } from '../registry.js';
import type { UpstreamEvent, UpstreamPool } from '../upstream/upstream-pool.js';
import { allowsServer, scopeIncludes, type EndpointScope } from './scope-servers.js';

export type ListName = 'tools' | 'resources' | 'prompts';
const ALL_LISTS: readonly ListName[] = ['tools', 'resources', 'prompts'];

/** An open downstream session, as far as server-initiated notifications are concerned. */
export interface SessionSubscriber {
  scope: EndpointScope;
  /** The principal that opened the session; it hears only about servers it may use. */
  principal: Principal;
  listChanged(list: ListName): void;
  log(server: McpServer, params: LoggingMessageNotification['params']): void;
}

export interface SessionEventsDeps {
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  log: RequestLog;
}

const byId = (registry: McpServerRegistry) => new Map(registry.list().map((s) => [s.server.id, s.server]));

/**
 * Fans server-side changes out to the open downstream sessions whose scope includes the server:
 * a server added, removed, renamed or changed in the registry (every list may differ), an
 * upstream's own `list_changed` (after the pool refreshed its copy), and upstream log messages.
 */
export class SessionEvents {
  private readonly subscribers = new Set<SessionSubscriber>();
  private known: Map<string, McpServer>;
  private readonly stopRegistry: () => Promise<void>;
  private readonly stopUpstreams: () => void;

  constructor(private readonly deps: SessionEventsDeps) {
    this.known = byId(deps.registry);
    this.stopRegistry = deps.registry.onChange(() => this.registryChanged());
    this.stopUpstreams = deps.upstreams.onEvent((event) => this.upstreamEvent(event));
  }

  /** Returns the way to unsubscribe (when the session closes). */
  subscribe(subscriber: SessionSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  private hears(subscriber: SessionSubscriber, server: McpServer): boolean {
    return scopeIncludes(subscriber.scope, server) && allowsServer(subscriber.principal, server);
  }

  /** The registry tells only that something changed: compare with what it held before, by id, old and new definitions both. */
  private registryChanged(): void {
    const now = byId(this.deps.registry);
    const changed: McpServer[] = [];
    for (const [id, server] of now) {
      const before = this.known.get(id);
      if (before && JSON.stringify(before) === JSON.stringify(server)) continue;
      changed.push(server);
      if (before) changed.push(before);
    }
    for (const [id, before] of this.known) if (!now.has(id)) changed.push(before);
    this.known = now;
    if (changed.length === 0) return;
    this.deps.log.debug({ mcp_servers: [...new Set(changed.map((s) => s.alias))] }, 'MCP servers changed; telling open sessions');
    for (const subscriber of this.subscribers) {
      if (changed.some((server) => this.hears(subscriber, server))) for (const list of ALL_LISTS) subscriber.listChanged(list);
    }
  }

  private upstreamEvent(event: UpstreamEvent): void {
    for (const subscriber of this.subscribers) {
      if (!this.hears(subscriber, event.server)) continue;
      if (event.type === 'list_changed') subscriber.listChanged(event.list);
      else subscriber.log(event.server, event.params);
    }
  }

  async close(): Promise<void> {
    this.subscribers.clear();
    this.stopUpstreams();
    await this.stopRegistry();
  }
}
