import type { ForwardedHeaders } from '../auth/forwarded-headers.js';
import { ErrorCode, McpError, type LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { RequestLog } from '../../core/request-log.js';
import type { Principal } from '../../keys/principal.js';
import type { McpServer, McpServerRegistry } from '../registry.js';
import type { UpstreamCallOptions, UpstreamPool, UpstreamPrompt, UpstreamResource, UpstreamResourceTemplate, UpstreamResult } from '../upstream/upstream-pool.js';
import { ResourceNotFound, ToolNotFound } from './downstream-errors.js';
import { gatewayUri, mapResultUris, splitGatewayUri } from './resource-uris.js';
import { requireServer, serversInScope, type EndpointScope } from './scope-servers.js';
import { prefixedToolName, splitToolName } from './tool-names.js';

export interface FeatureCatalogDeps {
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  log: RequestLog;
}

type Meta = Record<string, unknown> | undefined;

/**
 * Resources, resource templates, prompts, completion and logging of the servers a caller may use,
 * as one endpoint serves them: on `/mcp` prompt names are `{alias}_{name}` and resource URIs
 * (and templates) `smartflow://{alias}/{uri}`; on `/mcp/{alias}` they are the server's own.
 * Access is the server's (`mcp_servers`); `mcp_tools` patterns apply to tools only.
 */
export class FeatureCatalog {
  constructor(private readonly deps: FeatureCatalogDeps) {}

  /** One list merged over the scope's servers; a server that cannot be reached and never listed is left out (and logged). */
  private async gather<T>(principal: Principal, scope: EndpointScope, what: string, fetch: (server: McpServer) => Promise<{ items: T[] }>, rename: (alias: string, item: T) => T): Promise<T[]> {
    const lists = await Promise.all(
      serversInScope(this.deps.registry, principal, scope).map(async (server) => {
        try {
          const { items } = await fetch(server);
          return scope.kind === 'all' ? items.map((item) => rename(server.alias, item)) : items;
        } catch (err) {
          this.deps.log.warn({ mcp_server: server.alias, err: err instanceof Error ? err.message : String(err) }, `MCP server left out of ${what}: unreachable`);
          return [];
        }
      }),
    );
    return lists.flat();
  }

  listResources(principal: Principal, scope: EndpointScope, forwarded?: ForwardedHeaders): Promise<UpstreamResource[]> {
    return this.gather(principal, scope, 'resources/list', (s) => this.deps.upstreams.listResources(s.id, { forwarded, userId: principal.userId }), (alias, r) => ({ ...r, uri: gatewayUri(alias, r.uri) }));
  }

  listResourceTemplates(principal: Principal, scope: EndpointScope, forwarded?: ForwardedHeaders): Promise<UpstreamResourceTemplate[]> {
    return this.gather(principal, scope, 'resources/templates/list', (s) => this.deps.upstreams.listResourceTemplates(s.id, { forwarded, userId: principal.userId }), (alias, t) => ({ ...t, uriTemplate: gatewayUri(alias, t.uriTemplate) }));
  }

  listPrompts(principal: Principal, scope: EndpointScope, forwarded?: ForwardedHeaders): Promise<UpstreamPrompt[]> {
    return this.gather(principal, scope, 'prompts/list', (s) => this.deps.upstreams.listPrompts(s.id, { forwarded, userId: principal.userId }), (alias, p) => ({ ...p, name: prefixedToolName(alias, p.name) }));
  }

  /** The server a scoped resource URI (or template) routes to, and the server's own URI. */
  private resourceTarget(principal: Principal, scope: EndpointScope, uri: string): { server: McpServer; uri: string } {
    const target = scope.kind === 'one' ? { alias: scope.alias, uri } : splitGatewayUri(uri);
    if (!target) throw new ResourceNotFound(`Unknown resource "${uri}": resource URIs here are "smartflow://{server alias}/{uri}".`);
    return { server: requireServer(this.deps.registry, principal, target.alias, `resource "${uri}"`), uri: target.uri };
  }

  private promptTarget(principal: Principal, scope: EndpointScope, name: string): { server: McpServer; name: string } {
    const target = scope.kind === 'one' ? { alias: scope.alias, tool: name } : splitToolName(name);
    if (!target) throw new ToolNotFound(`Unknown prompt "${name}": prompt names here are "{server alias}_{prompt}".`);
    return { server: requireServer(this.deps.registry, principal, target.alias, `prompt "${name}"`), name: target.tool };
  }

  async readResource(principal: Principal, scope: EndpointScope, uri: string, meta: Meta, options: UpstreamCallOptions): Promise<UpstreamResult> {
    const target = this.resourceTarget(principal, scope, uri);
    const result = await this.deps.upstreams.readResource(target.server.id, target.uri, meta, { ...options, userId: principal.userId ?? null });
    return scope.kind === 'all' ? mapResultUris(target.server.alias, result) : result;
  }

  async getPrompt(principal: Principal, scope: EndpointScope, name: string, args: Record<string, string> | undefined, meta: Meta, options: UpstreamCallOptions): Promise<UpstreamResult> {
    const target = this.promptTarget(principal, scope, name);
    const result = await this.deps.upstreams.getPrompt(target.server.id, target.name, args, meta, { ...options, userId: principal.userId ?? null });
    return scope.kind === 'all' ? mapResultUris(target.server.alias, result) : result;
  }

  /** `completion/complete` goes to the server the `ref` (a prompt name or a resource template URI) points at; the rest of the request as it came. */
  complete(principal: Principal, scope: EndpointScope, params: Record<string, unknown> & { ref: { type: string; name?: string; uri?: string } }, options: UpstreamCallOptions): Promise<UpstreamResult> {
    const { ref } = params;
    if (ref.type === 'ref/prompt' && typeof ref.name === 'string') {
      const target = this.promptTarget(principal, scope, ref.name);
      return this.deps.upstreams.complete(target.server.id, { ...params, ref: { ...ref, name: target.name } }, { ...options, userId: principal.userId ?? null });
    }
    if (ref.type === 'ref/resource' && typeof ref.uri === 'string') {
      const target = this.resourceTarget(principal, scope, ref.uri);
      return this.deps.upstreams.complete(target.server.id, { ...params, ref: { ...ref, uri: target.uri } }, { ...options, userId: principal.userId ?? null });
    }
    throw new McpError(ErrorCode.InvalidParams, `Cannot complete a reference of type "${ref.type}".`);
  }

  /** Asks every server of the scope for log messages at `level` (a server not connected yet is asked when it connects). */
  async setLogLevel(principal: Principal, scope: EndpointScope, level: LoggingLevel): Promise<void> {
    await Promise.all(
      serversInScope(this.deps.registry, principal, scope).map((server) =>
        this.deps.upstreams.setLogLevel(server.id, level).catch((err: unknown) => {
          this.deps.log.warn({ mcp_server: server.alias, err: err instanceof Error ? err.message : String(err) }, 'MCP server did not take the log level');
        }),
      ),
    );
  }
}
