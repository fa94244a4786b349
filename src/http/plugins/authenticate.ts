import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors/gateway-error.js';
import { extractApiKey, type Authenticator } from '../../keys/authenticator.js';
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
  /**
   * A bearer token that also opens the scope, for a machine that must not hold an admin key
   * (the Prometheus scrape token). A caller let in by it has no principal.
   */
  token?: string;
}

/**
 * Registers `routes` in an encapsulated fastify scope whose every route first authenticates the
 * caller (onRequest: before the body is read, so unauthenticated callers cost no parsing) and,
 * for admin scopes, refuses non-admins with 403. Failures reach the app's one error handler,
 * which answers in the surface's error shape. Role checks extend this one place.
 */
export function authenticatedScope(app: FastifyInstance, options: AuthenticatedScopeOptions, routes: (scope: FastifyInstance) => void): void {
  const tokenDigest = options.token === undefined ? null : hash('sha256', options.token, 'buffer');
  app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => {
      if (tokenDigest) {
        const presented = extractApiKey(request.headers);
        // Compared over digests: constant time whatever the lengths.
        if (presented !== undefined && timingSafeEqual(hash('sha256', presented, 'buffer'), tokenDigest)) return;
      }
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
