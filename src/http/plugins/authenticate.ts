import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Authenticator } from '../../keys/authenticator.js';
import type { Principal } from '../../keys/principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by an authenticated scope before any handler of that scope runs. */
    principal?: Principal;
  }
}

export interface AuthenticatedScopeOptions {
  authenticator: Authenticator;
  /** Only admins (the master key, later an admin role) may reach the scope's routes. */
  admin: boolean;
}

/**
 * Registers `routes` in an encapsulated fastify scope whose every route first authenticates the
 * caller (onRequest: before the body is read, so unauthenticated callers cost no parsing) and,
 * for admin scopes, refuses non-admins with 403. Failures reach the app's one error handler,
 * which answers in the surface's error shape. Role checks extend this one place.
 */
export function authenticatedScope(app: FastifyInstance, options: AuthenticatedScopeOptions, routes: (scope: FastifyInstance) => void): void {
  app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => {
      const principal = await options.authenticator.authenticate(request.headers);
      if (options.admin && !principal.isAdmin) throw new GatewayError('SF_ERR_FORBIDDEN', { message: 'This endpoint needs the master key or an admin role.' });
      request.principal = principal;
    });
    routes(scope);
  });
}

/** The caller of a route inside an authenticated scope. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('principalOf used outside an authenticated scope');
  return request.principal;
}

/** Who did it, for the audit log. */
export function actorOf(request: FastifyRequest): string {
  return principalOf(request).id;
}

/** Route options for admin actions that take no body (POST …/revoke, DELETE). */
export const ACTION_WITHOUT_BODY = { config: { allowEmptyBody: true } } as const;
