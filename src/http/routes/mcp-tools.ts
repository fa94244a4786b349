import { ForwardedHeadersNotApplicable } from '../../mcp/upstream/upstream-pool.js';
import { collectForwarded } from '../../mcp/auth/forwarded-headers.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../../errors/gateway-error.js';
import { ToolAccessDenied, ToolNotFound, type ToolCatalog } from '../../mcp/downstream/tool-catalog.js';
import { prefixedToolName } from '../../mcp/downstream/tool-names.js';
import { objectBody, parseInput } from '../parse.js';
import { OPEN_TO_ANY_KEY, principalOf } from '../plugins/authenticate.js';

const listQuerySchema = z.strictObject({
  /** An alias or an id (`mcp_…`). */
  server: z.string().min(1).max(200).optional(),
});

const callBodySchema = z.strictObject({
  /** An alias or an id: an id keeps working after a rename. */
  server: z.string('an MCP server alias or id is required').min(1, 'an MCP server alias or id is required').max(200),
  tool: z.string('the tool name is required').min(1, 'the tool name is required').max(256),
  arguments: z.record(z.string(), z.unknown(), 'arguments must be a JSON object').optional(),
});

const stripMcpPrefix = (message: string) => message.replace(/^MCP error -?\d+: /, '');

/** The catalog's MCP errors as the gateway's typed HTTP errors: refused 403, unknown 404, upstream failures 502/504. */
function httpErrorOf(err: unknown): unknown {
  if (!(err instanceof McpError)) return err;
  const message = stripMcpPrefix(err.message);
  if ((err.data as { code?: unknown } | undefined)?.code === 'guardrail_blocked') return new GatewayError('SF_ERR_GUARDRAIL_BLOCKED', { message, param: String((err.data as { guardrail?: unknown }).guardrail) });
  if (err instanceof ToolAccessDenied) return new GatewayError('SF_ERR_FORBIDDEN', { message });
  if (err instanceof ToolNotFound) return new GatewayError('SF_ERR_NOT_FOUND', { message });
  if (err instanceof ForwardedHeadersNotApplicable) return new GatewayError('SF_ERR_INVALID_REQUEST', { message });
  if (err.code === ErrorCode.RequestTimeout) return new GatewayError('SF_ERR_MCP_UPSTREAM_TIMEOUT', { message });
  if (err.code === ErrorCode.ConnectionClosed) return new GatewayError('SF_ERR_MCP_UPSTREAM_UNAVAILABLE', { message });
  return new GatewayError('SF_ERR_MCP_UPSTREAM_ERROR', { message });
}

/**
 * MCP tools over plain JSON, for callers that do not speak MCP: `GET /api/mcp/tools` and
 * `POST /api/mcp/tools/call`. Registered inside a scope that accepts any valid key; the key's
 * MCP access applies exactly as on `/mcp`, and calls are recorded the same way (the catalog does).
 */
export function registerMcpToolRoutes(app: FastifyInstance, deps: { catalog: ToolCatalog }): void {
  const { catalog } = deps;

  app.get('/api/mcp/tools', OPEN_TO_ANY_KEY, async (request) => {
    const { server: ref } = parseInput(listQuerySchema, request.query);
    let lists;
    try {
      lists = await catalog.listByServer(principalOf(request), ref, collectForwarded(request.headers));
    } catch (err) {
      throw httpErrorOf(err);
    }
    return {
      object: 'list',
      data: lists.flatMap(({ server, tools }) => tools.map((tool) => ({ ...tool, object: 'mcp_tool', server: server.alias, server_id: server.id, prefixed_name: prefixedToolName(server.alias, tool.name) }))),
    };
  });

  app.post('/api/mcp/tools/call', OPEN_TO_ANY_KEY, async (request) => {
    const body = parseInput(callBodySchema, objectBody(request.body));
    try {
      const { result } = await catalog.callOnServer({ principal: principalOf(request), traceId: request.id, forwarded: collectForwarded(request.headers) }, body.server, body.tool, body.arguments);
      return result;
    } catch (err) {
      throw httpErrorOf(err);
    }
  });
}
