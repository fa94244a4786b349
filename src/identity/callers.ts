import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingHeaders } from '../core/request-log.js';
import type { Authenticator } from '../keys/authenticator.js';
import type { Principal } from '../keys/principal.js';
import type { VirtualKeyService } from '../keys/virtual-keys.js';
import type { Store } from '../storage/types.js';
import { MASTER_CALLER, type Caller } from './rbac.js';
import { sessionTokenOf, type Sessions } from './sessions.js';
import { teamIdsOf, USERS_COLLECTION, type UserRecord } from './users.js';

export interface ResolvedCaller {
  principal: Principal;
  caller: Caller;
}

/** Resolves an admin API caller: an SSO session (Bearer or cookie), else the master key or a virtual key. */
export interface CallerResolver {
  resolve(headers: IncomingHeaders): Promise<ResolvedCaller>;
}

/** Without sessions: what the authenticator says, the master key as proxy_admin, a virtual key for self-service. */
export function createCallerResolver(deps: { authenticator: Authenticator; sessions?: Sessions; store?: Store; keys?: VirtualKeyService }): CallerResolver {
  return {
    async resolve(headers) {
      const token = deps.sessions ? sessionTokenOf(headers) : undefined;
      if (token !== undefined && deps.sessions && deps.store) {
        const session = await deps.sessions.resolve(token);
        if (!session) throw new GatewayError('SF_ERR_AUTH_INVALID', { message: 'The SSO session is unknown, expired or signed out; sign in again.' });
        const user = await deps.store.getDoc<UserRecord>(USERS_COLLECTION, session.user_id);
        if (!user) throw new GatewayError('SF_ERR_AUTH_INVALID', { message: 'The SSO session is unknown, expired or signed out; sign in again.' });
        const principal: Principal = { id: `sso:${user.id}`, kind: 'session', keyId: null, teamId: null, isAdmin: user.role === 'proxy_admin', policy: null };
        return { principal, caller: { kind: 'session', role: user.role, userId: user.id, teamIds: teamIdsOf(user) } };
      }
      const principal = await deps.authenticator.authenticate(headers);
      if (principal.kind === 'master') return { principal, caller: MASTER_CALLER };
      const record = principal.keyId !== null && deps.keys ? await deps.keys.get(principal.keyId) : undefined;
      const caller: Caller = {
        kind: 'virtual_key',
        role: 'internal_user',
        userId: record?.user_id ?? null,
        teamIds: principal.teamId === null ? [] : [principal.teamId],
      };
      return { principal, caller };
    },
  };
}
