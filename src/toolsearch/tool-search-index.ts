import type { RequestLog } from '../core/request-log.js';
import type { Principal } from '../keys/principal.js';
import { allowsServer, allowsTool } from '../mcp/downstream/scope-servers.js';
import { prefixedToolName } from '../mcp/downstream/tool-names.js';
import type { McpServer, McpServerRegistry } from '../mcp/registry.js';
import type { UpstreamPool } from '../mcp/upstream/upstream-pool.js';
import type { Store } from '../storage/types.js';
import type { Embedder } from './embedder.js';
import { ToolRanking, type RankingOptions } from './ranking.js';
import { splitWords, stem } from './text.js';
import { embeddingText, type ToolDoc } from './tool-doc.js';
import { toolDocsOf } from './tool-docs-of.js';
import { VectorCache } from './vector-cache.js';

export interface ToolSearchIndexDeps {
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  store: Store;
  embedder: Embedder;
  log: RequestLog;
  now: () => number;
  /** How often servers that failed to list, or reconnected, are indexed again. */
  refreshIntervalMs: number;
  ranking: RankingOptions;
}

/** One search hit as the API and the `search_tools` meta-tool show it. */
export interface ToolSearchHit {
  server: string;
  server_id: string;
  tool: string;
  /** The name on `/mcp`: `{alias}_{tool}`. */
  name: string;
  description: string;
  score: number;
  /** Query words (normalised) the tool's text contains. */
  matched: string[];
}

interface IndexedServer {
  /** The definition it was indexed with: a change of alias, description or tool filters indexes it again. */
  server: McpServer;
  docs: ToolDoc[];
  vectors: Float32Array[];
  indexedAt: number | null;
  error: string | null;
  /** Connection restarts seen at indexing: a reconnect may bring other tools. */
  restarts: number;
}

const CONCURRENCY = 8;

const sameForSearch = (a: McpServer, b: McpServer) =>
  a.alias === b.alias && a.description === b.description && JSON.stringify([a.allowed_tools, a.denied_tools, a.command, a.args, a.url]) === JSON.stringify([b.allowed_tools, b.denied_tools, b.command, b.args, b.url]);

/**
 * Every tool of every registered MCP server, searchable by intent. Built on first use (indexing
 * lists every server's tools, which starts lazy servers, so a gateway nobody searches starts
 * none), then kept current: a server added, changed or removed in the registry, a
 * `notifications/tools/list_changed`, a reconnect, or a failed listing retried on the refresh
 * timer. Vectors persist in the store (VectorCache), so a restart or a second instance embeds only
 * what changed. Searches use the last complete ranking while work is pending.
 */
export class ToolSearchIndex {
  private readonly servers = new Map<string, IndexedServer>();
  private readonly pending = new Set<string>();
  private readonly vectors: VectorCache;
  private ranking: ToolRanking | null = null;
  private active = false;
  private draining: Promise<void> | null = null;
  private firstBuild: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly stops: Array<() => unknown> = [];

  constructor(private readonly deps: ToolSearchIndexDeps) {
    this.vectors = new VectorCache(deps.store, deps.embedder);
    this.stops.push(deps.registry.onChange(() => this.registryChanged()));
    this.stops.push(
      deps.upstreams.onEvent((event) => {
        if (event.type === 'list_changed' && event.list === 'tools' && this.active) this.schedule([event.server.id]);
      }),
    );
  }

  /**
   * The first call indexes every server, and every caller waits for that first build; later ones
   * return at once (or, with `wait`, when the work in progress is done).
   */
  private async ready(wait: boolean): Promise<void> {
    if (!this.firstBuild) {
      this.active = true;
      this.timer = setInterval(() => this.refresh(), this.deps.refreshIntervalMs);
      this.timer.unref();
      this.schedule(this.deps.registry.list().map((s) => s.server.id));
      this.firstBuild = this.draining ?? Promise.resolve();
    }
    await this.firstBuild;
    if (wait) await this.draining;
  }

  /** Indexes every server again (or one, by alias or id) and resolves when done. */
  async reindex(ref?: string): Promise<{ servers: number }> {
    await this.ready(true);
    const ids = ref === undefined ? this.deps.registry.list().map((s) => s.server.id) : [this.deps.registry.require(ref).server.id];
    this.schedule(ids);
    await this.draining;
    return { servers: ids.length };
  }

  /** The best `k` tools for `query` among those `principal` may use (the same checks as ToolCatalog). */
  async search(principal: Principal, query: string, k: number): Promise<ToolSearchHit[]> {
    await this.ready(false);
    const ranking = this.ranking;
    if (!ranking) return [];
    const current = (doc: ToolDoc) => this.deps.registry.get(doc.serverId)?.server;
    const allow = (doc: ToolDoc) => {
      const server = current(doc);
      return server !== undefined && allowsServer(principal, server) && allowsTool(principal, server, doc.tool);
    };
    const queryVector = await this.queryVector(query);
    // Matched terms are stems ("creat"): shown as the caller's own words.
    const asTyped = new Map<string, string>();
    for (const word of splitWords(query)) if (!asTyped.has(stem(word))) asTyped.set(stem(word), word);
    return ranking.search(query, queryVector, k, allow).map(({ doc, score, matched }) => {
      const alias = current(doc)?.alias ?? doc.server;
      const words = matched.map((t) => asTyped.get(t) ?? t);
      return { server: alias, server_id: doc.serverId, tool: doc.tool, name: prefixedToolName(alias, doc.tool), description: doc.description, score: Math.round(score * 1e4) / 1e4, matched: words };
    });
  }

  /** The query's vector; null (a lexical search) when the embedding model fails, so search stays up without it. */
  private async queryVector(query: string): Promise<Float32Array | null> {
    try {
      return (await this.deps.embedder.embed([query]))[0] ?? null;
    } catch (err) {
      this.deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'tool search: query embedding failed; ranking by words only');
      return null;
    }
  }

  /** Counts, embedder, per-server state and pending work (the admin view). */
  status() {
    const servers = [...this.servers.values()].sort((a, b) => (a.server.alias < b.server.alias ? -1 : 1));
    return {
      object: 'mcp_tool_index',
      active: this.active,
      tools: servers.reduce((n, s) => n + s.docs.length, 0),
      servers: servers.length,
      embedding_model: this.deps.embedder.id,
      dimensions: this.deps.embedder.dimensions,
      pending: [...this.pending].map((id) => this.deps.registry.get(id)?.server.alias ?? id),
      indexing: this.draining !== null,
      data: servers.map((s) => ({ server: s.server.alias, server_id: s.server.id, tools: s.docs.length, last_indexed_at: s.indexedAt, error: s.error })),
    };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const stop of this.stops) await stop();
    await this.draining;
  }

  /** Drops removed servers, queues new and changed ones. */
  private registryChanged(): void {
    if (!this.active) return;
    const now = new Map(this.deps.registry.list().map((s) => [s.server.id, s.server]));
    let dropped = false;
    for (const id of this.servers.keys()) {
      if (now.has(id)) continue;
      this.servers.delete(id);
      this.pending.delete(id);
      void this.vectors.drop(id).catch(() => undefined);
      dropped = true;
    }
    if (dropped) this.rebuild();
    this.schedule([...now.values()].filter((s) => !this.servers.has(s.id) || !sameForSearch(this.servers.get(s.id)!.server, s)).map((s) => s.id));
  }

  /** Retries servers whose last listing failed and re-lists those that reconnected since. */
  private refresh(): void {
    const restarts = new Map(this.deps.upstreams.snapshots().map((h) => [h.id, h.restarts]));
    const due = [...this.servers.values()].filter((s) => s.error !== null || (restarts.get(s.server.id) ?? s.restarts) !== s.restarts).map((s) => s.server.id);
    this.schedule(due);
  }

  private schedule(ids: string[]): void {
    for (const id of ids) this.pending.add(id);
    if (this.pending.size > 0 && !this.draining) {
      this.draining = this.drain().finally(() => {
        this.draining = null;
        // Work that arrived after the last batch was taken.
        if (this.pending.size > 0) this.schedule([]);
      });
    }
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = [...this.pending];
      this.pending.clear();
      for (let at = 0; at < batch.length; at += CONCURRENCY) await Promise.all(batch.slice(at, at + CONCURRENCY).map((id) => this.indexServer(id)));
      this.rebuild();
    }
  }

  private async indexServer(id: string): Promise<void> {
    const server = this.deps.registry.get(id)?.server;
    if (!server) return;
    const previous = this.servers.get(id);
    try {
      const { tools } = await this.deps.upstreams.listTools(id);
      const docs = toolDocsOf(server, tools);
      const { vectors } = await this.vectors.vectorsFor(id, docs.map(embeddingText));
      const restarts = this.deps.upstreams.snapshots().find((h) => h.id === id)?.restarts ?? 0;
      // The server may have been removed while it was listed.
      if (!this.deps.registry.get(id)) return;
      this.servers.set(id, { server, docs, vectors, indexedAt: this.deps.now(), error: null, restarts });
    } catch (err) {
      const message = err instanceof Error ? err.message.replace(/^MCP error -?\d+: /, '') : String(err);
      this.deps.log.warn({ mcp_server: server.alias, err: message }, 'tool search: could not index MCP server');
      if (!this.deps.registry.get(id)) return;
      this.servers.set(id, { server, docs: previous?.docs ?? [], vectors: previous?.vectors ?? [], indexedAt: previous?.indexedAt ?? null, error: message, restarts: previous?.restarts ?? 0 });
    }
  }

  /** A new immutable ranking over every indexed tool. */
  private rebuild(): void {
    const docs: ToolDoc[] = [];
    const vectors: Float32Array[] = [];
    for (const s of this.servers.values()) {
      docs.push(...s.docs);
      vectors.push(...s.vectors);
    }
    this.ranking = new ToolRanking(docs, vectors, this.deps.ranking);
  }
}
