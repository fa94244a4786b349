import type { FastifyReply } from 'fastify';

/** JSON-RPC error bodies as the MCP SDK itself sends them for transport-level failures (unknown session, missing session id). */
export function rpcError(reply: FastifyReply, status: number, code: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}
