import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createCallerResolver, type CallerResolver } from '../../identity/callers.js';
import { authorize, type Caller } from '../../identity/rbac.js';
import type { Permission } from '../../identity/roles.js';
import { extractApiKey, type Authenticator } from '../../keys/authenticator.js';
import type { Principal } from '../../keys/principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by an authenticated scope before any handler of that scope runs. */
    principal?: Principal;
    /** Set by an admin scope: the caller's role and what it is scoped to. */
    caller?: Caller;
  }
  interface FastifyContextConfig {
    /** What an admin route needs (identity/roles.ts); declare it with `needs(...)`. */
    permission?: Permission;
    /** A virtual key may call this admin route for its own keys (self-service). */
    selfService?: boolean;
    /** An /api route outside the admin scope says who may call it instead of a permission. */
    openTo?: 'anyone' | 'any_key';
  }
}

export interface AuthenticatedScopeOptions {
  authenticator: Authenticator;
  /**
   * Admin scopes check every route's declared permission against the caller's role: the master
   * key (proxy_admin), an SSO session, or a virtual key on self-service routes.
   */
  admin: boolean;
  /** Resolves admin callers; default: the authenticator alone (the master key and virtual keys, no sessions). */
  callers?: CallerResolver;
  /**
   * A bearer token that also opens the scope, for a machine that must not hold an admin key
   * (the Prometheus scrape token). A caller let in by it has no principal.
   */
  token?: string;
}

/**
 * Registers `routes` in an encapsulated fastify scope whose every route first authenticates the
 * caller (onRequest: before the body is read, so unauthenticated callers cost no parsing) and,
 * for admin scopes, checks the route's declared permission against the caller's role: the one
 * place RBAC happens. Failures reach the app's one error handler, which answers in the
 * surface's error shape.
 */
export function authenticatedScope(app: FastifyInstance, options: AuthenticatedScopeOptions, routes: (scope: FastifyInstance) => void): void {
  const tokenDigest = options.token === undefined ? null : hash('sha256', options.token, 'buffer');
  const callers = options.callers ?? createCallerResolver({ authenticator: options.authenticator });
  app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => {
      if (tokenDigest) {
        const presented = extractApiKey(request.headers);
        // Compared over digests: constant time whatever the lengths.
        if (presented !== undefined && timingSafeEqual(hash('sha256', presented, 'buffer'), tokenDigest)) return;
      }
      if (!options.admin) {
        request.principal = await options.authenticator.authenticate(request.headers);
        return;
      }
      const { principal, caller } = await callers.resolve(request.headers);
      const config = request.routeOptions.config;
      authorize(caller, config.permission, config.selfService === true);
      request.principal = principal;
      request.caller = caller;
    });
    routes(scope);
  });
}

/**
 * Route options declaring what an admin route needs: `app.get(path, needs('keys:read'), handler)`.
 * `selfService` lets a virtual key call it for its own keys; `allowEmptyBody` is for actions without a payload.
 */
export function needs(permission: Permission, extra: { selfService?: boolean; allowEmptyBody?: boolean } = {}) {
  return { config: { permission, ...extra } };
}

/** Route options of an /api route anyone may call (sign-in): it declares so instead of a permission. */
export const OPEN_TO_ANYONE = { config: { openTo: 'anyone' } } as const;

/** Route options of an /api route any valid key may call (its own access rules apply inside). */
export const OPEN_TO_ANY_KEY = { config: { openTo: 'any_key' } } as const;

/** The caller of a route inside an authenticated scope. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('principalOf used outside an authenticated scope');
  return request.principal;
}

/** The role-checked caller of an admin route. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new Error('callerOf used outside an admin scope');
  return request.caller;
}

/** Who did it, for the audit log. */
export function actorOf(request: FastifyRequest): string {
  return principalOf(request).id;
}

/** Route options for admin actions that take no body (POST …/revoke, DELETE). */
export const ACTION_WITHOUT_BODY = { config: { allowEmptyBody: true } } as const;
