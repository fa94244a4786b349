import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Authenticator } from '../../keys/authenticator.js';
import type { Principal } from '../../keys/principal.js';
import { sendError } from '../error-response.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** preHandler for admin APIs: the master key (or, later, an admin role) or nothing. */
export function requireAdmin(authenticator: Authenticator): preHandlerAsyncHookHandler {
  return async function (this: unknown, request: FastifyRequest, reply: FastifyReply) {
    try {
      const principal = await authenticator.authenticate(request.headers);
      if (!principal.isAdmin) throw new GatewayError('SF_ERR_FORBIDDEN', { message: 'This endpoint needs the master key or an admin role.' });
      request.principal = principal;
    } catch (err) {
      await sendError(request, reply, err);
    }
  };
}
