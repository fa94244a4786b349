import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { RequestLog } from '../../core/request-log.js';
import type { Principal } from '../../keys/principal.js';
import type { SpendGuardrailHit } from '../../spend/spend-record.js';
import type { ForwardedHeaders } from '../auth/forwarded-headers.js';
import type { McpServer, McpServerRegistry } from '../registry.js';
import { ToolNotOffered, type UpstreamCallOptions, type UpstreamCallResult, type UpstreamPool, type UpstreamTool } from '../upstream/upstream-pool.js';
import { ToolAccessDenied, ToolNotFound } from './downstream-errors.js';
import { mapResultUris } from './resource-uris.js';
import { allowsServer, allowsTool, serversInScope, type EndpointScope } from './scope-servers.js';
import type { ToolCallRecorder, ToolCallStatus } from './tool-call-record.js';
import { prefixedToolName, splitToolName } from './tool-names.js';

export { ToolAccessDenied, ToolNotFound } from './downstream-errors.js';
export type { EndpointScope } from './scope-servers.js';

export interface ToolCatalogDeps {
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  log: RequestLog;
  /** Told about every call, whatever its outcome (spend log, metrics, payload log). */
  onToolCall?: ToolCallRecorder;
  now?: () => number;
  /** Guardrail policies on arguments and results (src/policies/tool-call-guard.ts); A2A tasks will pass the same seam. */
  guard?: ToolCallGuard;
}

/** Checks, and may rewrite, a call's arguments before the upstream sees them and its result before the caller does; throws to refuse. */
export interface ToolCallGuard {
  arguments(caller: ToolCaller, server: McpServer, tool: string, args: Record<string, unknown> | undefined, report: (hit: SpendGuardrailHit) => void): Promise<Record<string, unknown> | undefined>;
  result(caller: ToolCaller, server: McpServer, tool: string, result: UpstreamCallResult, report: (hit: SpendGuardrailHit) => void): Promise<UpstreamCallResult>;
}

/** Who asked: the caller's principal and the id of the HTTP request that carried the call. */
export interface ToolCaller {
  principal: Principal;
  traceId: string;
  /** Set when a tool loop made the call: which loop, and the LLM step that asked for it. */
  loop?: { id: string; step: number };
  /** The `x-mcp-*` headers of the client request; each server gets the ones for its alias. */
  forwarded?: ForwardedHeaders;
}

/** The tools of one server a caller may use. */
export interface ServerTools {
  server: McpServer;
  tools: UpstreamTool[];
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '');

function statusOf(err: unknown, cancelled: boolean): ToolCallStatus {
  if (err instanceof ToolAccessDenied) return 'denied';
  if (err instanceof ToolNotFound) return 'not_found';
  if (err instanceof McpError && (err.data as { code?: unknown } | undefined)?.code === 'guardrail_blocked') return 'blocked';
  if (cancelled) return 'cancelled';
  if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) return 'timeout';
  return 'error';
}

/**
 * The tools a caller sees through the gateway's own MCP endpoint and the REST API, and the
 * routing of their calls. Access is checked on every list and every call against the caller's
 * current policy (a key changed or revoked mid-session takes effect on its next request), and
 * every call is recorded the same way whichever surface it came through.
 */
export class ToolCatalog {
  constructor(private readonly deps: ToolCatalogDeps) {}

  private servers(principal: Principal, scope: EndpointScope): McpServer[] {
    return serversInScope(this.deps.registry, principal, scope);
  }

  /**
   * Every tool the caller may use, named for the scope. A server that cannot be reached and has
   * never listed its tools is left out (and logged) rather than failing the whole list.
   */
  async list(principal: Principal, scope: EndpointScope, forwarded?: ForwardedHeaders): Promise<UpstreamTool[]> {
    const lists = await this.toolsOf(principal, this.servers(principal, scope), forwarded);
    return lists.flatMap(({ server, tools }) => (scope.kind === 'all' ? tools.map((t) => ({ ...t, name: prefixedToolName(server.alias, t.name) })) : tools));
  }

  /**
   * The tools of every server the caller may use, or of one (alias or id) with `ref`, by server
   * with their own names. `ref` naming no server is a ToolNotFound, one the caller may not use a
   * ToolAccessDenied, and one asked for by name that cannot list its tools fails with its McpError.
   */
  async listByServer(principal: Principal, ref?: string, forwarded?: ForwardedHeaders): Promise<ServerTools[]> {
    if (ref === undefined) return this.toolsOf(principal, this.servers(principal, { kind: 'all' }), forwarded);
    const server = this.usableServer(principal, ref);
    const { tools } = await this.deps.upstreams.listTools(server.id, { forwarded, userId: principal.userId });
    return [{ server, tools: tools.filter((t) => allowsTool(principal, server, t.name)) }];
  }

  /** Each server's tools minus those the caller may not use; an unreachable server without a last list is left out (and logged). */
  private async toolsOf(principal: Principal, servers: McpServer[], forwarded?: ForwardedHeaders): Promise<ServerTools[]> {
    const lists = await Promise.all(
      servers.map(async (server) => {
        try {
          const { tools } = await this.deps.upstreams.listTools(server.id, { forwarded, userId: principal.userId });
          return [{ server, tools: tools.filter((t) => allowsTool(principal, server, t.name)) }];
        } catch (err) {
          this.deps.log.warn({ mcp_server: server.alias, err: err instanceof Error ? err.message : String(err) }, 'MCP server left out of tools/list: unreachable');
          return [];
        }
      }),
    );
    return lists.flat();
  }

  /** A registered server by alias or id that the caller may use; typed errors otherwise (ToolNotFound, ToolAccessDenied). */
  private usableServer(principal: Principal, ref: string): McpServer {
    const server = this.deps.registry.get(ref)?.server;
    if (!server) throw new ToolNotFound(`There is no MCP server "${ref.slice(0, 100)}".`);
    if (!allowsServer(principal, server)) throw new ToolAccessDenied(`MCP server "${server.alias}"`);
    return server;
  }

  /**
   * Calls a tool by its scoped name; the upstream result comes back unchanged (on `/mcp`, with the
   * resource URIs it carries mapped so they route back), failures as MCP errors naming the server.
   */
  call(caller: ToolCaller, scope: EndpointScope, name: string, args: Record<string, unknown> | undefined, meta: Record<string, unknown> | undefined, options: UpstreamCallOptions = {}): Promise<{ server: McpServer; result: UpstreamCallResult }> {
    const target = scope.kind === 'one' ? { alias: scope.alias, tool: name } : splitToolName(name);
    const how = { options, mapUris: scope.kind === 'all' };
    return this.recorded(caller, { alias: target?.alias ?? null, tool: name, upstreamTool: target?.tool ?? name }, args, how, () => {
      if (!target) throw new ToolNotFound(`Unknown tool "${name}": tool names here are "{server alias}_{tool}".`);
      const server = this.deps.registry.get(target.alias)?.server;
      // An id is no alias here: a prefixed name or an endpoint path names a server by its alias.
      if (!server || server.alias !== target.alias) throw new ToolNotFound(`Unknown tool "${name}": there is no MCP server "${target.alias}".`);
      return { server, tool: target.tool, meta };
    });
  }

  /** Calls a tool of a server named by alias or id (the REST API): a reference by id survives renames. */
  callOnServer(caller: ToolCaller, ref: string, tool: string, args: Record<string, unknown> | undefined): Promise<{ server: McpServer; result: UpstreamCallResult }> {
    const known = this.deps.registry.get(ref)?.server;
    return this.recorded(caller, { alias: known?.alias ?? null, tool, upstreamTool: tool }, args, { options: {}, mapUris: false }, () => {
      if (!known) throw new ToolNotFound(`There is no MCP server "${ref.slice(0, 100)}".`);
      return { server: known, tool, meta: undefined };
    });
  }

  /** Checks access, calls, and tells `onToolCall` how it went (also when the checks refused it). */
  private async recorded(
    caller: ToolCaller,
    named: { alias: string | null; tool: string; upstreamTool: string },
    args: Record<string, unknown> | undefined,
    { options, mapUris }: { options: UpstreamCallOptions; mapUris: boolean },
    resolve: () => { server: McpServer; tool: string; meta: Record<string, unknown> | undefined },
  ): Promise<{ server: McpServer; result: UpstreamCallResult }> {
    const started = performance.now();
    const startedAt = (this.deps.now ?? Date.now)();
    let server: McpServer | null = null;
    let result: UpstreamCallResult | null = null;
    let failure: unknown = null;
    const guardrails: SpendGuardrailHit[] = [];
    const report = (hit: SpendGuardrailHit) => guardrails.push(hit);
    try {
      const target = resolve();
      server = target.server;
      const { principal } = caller;
      if (!allowsServer(principal, server)) throw new ToolAccessDenied(`MCP server "${server.alias}"`);
      if (!allowsTool(principal, server, target.tool)) throw new ToolAccessDenied(`tool "${target.tool}" of MCP server "${server.alias}"`);
      const guard = this.deps.guard;
      const sent = guard ? await guard.arguments(caller, server, target.tool, args, report) : args;
      result = await this.callUpstream(server, target.tool, sent, target.meta, { ...options, forwarded: options.forwarded ?? caller.forwarded, userId: principal.userId ?? null });
      if (guard) result = await guard.result(caller, server, target.tool, result, report);
      return { server, result: mapUris ? mapResultUris(server.alias, result) : result };
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      this.deps.onToolCall?.({
        principal: caller.principal,
        serverAlias: server?.alias ?? named.alias,
        serverId: server?.id ?? null,
        tool: named.tool,
        upstreamTool: named.upstreamTool,
        status: failure !== null ? statusOf(failure, options.signal?.aborted === true) : result?.isError === true ? 'tool_error' : 'ok',
        startedAt,
        latencyMs: Math.round(performance.now() - started),
        error: failure === null ? null : failure instanceof Error ? failure.message : String(failure),
        bytesIn: jsonBytes(args ?? {}),
        bytesOut: result === null ? 0 : jsonBytes(result),
        traceId: caller.traceId,
        ...(caller.loop ? { loop: caller.loop } : {}),
        ...(guardrails.length ? { guardrails } : {}),
        ...(server?.log_payloads ? { payload: { arguments: args ?? {}, result } } : {}),
      });
    }
  }

  private async callUpstream(server: McpServer, tool: string, args: Record<string, unknown> | undefined, meta: Record<string, unknown> | undefined, options: UpstreamCallOptions): Promise<UpstreamCallResult> {
    try {
      return await this.deps.upstreams.callTool(server.id, tool, args, meta, options);
    } catch (err) {
      if (err instanceof ToolNotOffered) throw new ToolNotFound(err.message.replace(/^MCP error -?\d+: /, ''));
      if (err instanceof McpError) throw err;
      throw new McpError(ErrorCode.InternalError, `MCP server "${server.alias}" failed the call to "${tool}".`);
    }
  }
}
