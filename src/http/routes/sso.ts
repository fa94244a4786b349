import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../../errors/gateway-error.js';
import { memberCount } from '../../identity/memberships.js';
import { roleAllows } from '../../identity/roles.js';
import { SESSION_COOKIE, sessionTokenOf } from '../../identity/sessions.js';
import type { SignInResult, SsoService } from '../../identity/sso.js';
import { ssoConfigBodySchema, ssoConfigView } from '../../identity/sso-config.js';
import { USERS_COLLECTION, teamIdsOf, type UserRecord } from '../../identity/users.js';
import { pageQuerySchema } from '../../keys/admin-schemas.js';
import { COLLECTIONS, type TeamRecord } from '../../keys/records.js';
import type { Store } from '../../storage/types.js';
import { objectBody, parseInput, resourceId } from '../parse.js';
import { actorOf, callerOf, needs, OPEN_TO_ANYONE } from '../plugins/authenticate.js';

export interface SsoRoutesDeps {
  sso: SsoService;
  store: Store;
}

const signInSchema = z.strictObject({
  id_token: z.string('id_token is required').min(1).max(16_384),
  /** The nonce the caller's own flow sent to the IdP; the token must carry it. */
  nonce: z.string().min(1).max(512).optional(),
});

const callbackQuerySchema = z.looseObject({
  code: z.string().min(1).max(4096).optional(),
  state: z.string().min(1).max(512).optional(),
  error: z.string().max(200).optional(),
  iss: z.string().max(2048).optional(),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function teamSummary(t: TeamRecord) {
  return { id: t.id, name: t.name, sso_group_id: t.sso?.group_id ?? null };
}

function signInView(r: SignInResult) {
  return {
    object: 'sso_signin',
    user: { id: r.user.id, email: r.user.email, name: r.user.name },
    role: r.role,
    app_roles: r.app_roles,
    teams: r.teams.map(teamSummary),
    created_teams: r.created,
    added_teams: r.added,
    removed_teams: r.removed,
    session_token: r.session.token,
    expires_at: iso(r.session.expires_at),
  };
}

function isHttps(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

function sessionCookie(request: FastifyRequest, token: string, maxAgeSeconds: number): string {
  // Lax, not Strict: the cookie is set on the IdP's redirect back, a cross-site navigation.
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${isHttps(request) ? '; Secure' : ''}`;
}

/** SSO endpoints anyone may call: sign-in with an id_token, the browser flow (login → IdP → callback → cookie), logout. */
export function registerSsoSignInRoutes(open: FastifyInstance, deps: Pick<SsoRoutesDeps, 'sso'>): void {
  const { sso } = deps;

  open.post('/api/auth/sso/signin', OPEN_TO_ANYONE, async (request) => {
    const body = parseInput(signInSchema, objectBody(request.body));
    return signInView(await sso.signIn(body.id_token, body.nonce));
  });

  open.get('/api/auth/sso/login', OPEN_TO_ANYONE, async (request, reply) => {
    const url = await sso.loginUrl((s) => s.redirect_uri ?? `${request.protocol}://${request.host}/api/auth/sso/callback`);
    return reply.code(302).header('location', url).header('cache-control', 'no-store').send();
  });

  open.get('/api/auth/sso/callback', OPEN_TO_ANYONE, async (request, reply: FastifyReply) => {
    const query = parseInput(callbackQuerySchema, request.query ?? {});
    if (query.error !== undefined) throw new GatewayError('SF_ERR_SSO_TOKEN_INVALID', { message: `The sign-in was refused: the IdP answered "${query.error.replace(/[^\w.-]/g, '')}".` });
    if (query.code === undefined || query.state === undefined) throw new GatewayError('SF_ERR_SSO_TOKEN_INVALID', { message: 'The sign-in was refused: the callback needs code and state.' });
    const result = await sso.callback(query.state, query.code, query.iss);
    const settings = await sso.config.require();
    const maxAge = Math.max(0, Math.floor((result.session.expires_at - Date.now()) / 1000));
    return reply.code(303).header('set-cookie', sessionCookie(request, result.session.token, maxAge)).header('cache-control', 'no-store').header('location', settings.post_login_redirect).send();
  });

  // Open to anyone so that an expired session can still clear its cookie; it revokes only the session presented.
  open.post('/api/auth/sso/logout', { config: { openTo: 'anyone', allowEmptyBody: true } }, async (request, reply) => {
    const token = sessionTokenOf(request.headers);
    const revoked = token === undefined ? false : await sso.sessions.revoke(token);
    return reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${isHttps(request) ? '; Secure' : ''}`).send({ object: 'sso_logout', revoked });
  });

}

/** SSO endpoints in the admin scope: the settings, and the teams and memberships sync made. */
export function registerSsoAdminRoutes(admin: FastifyInstance, deps: SsoRoutesDeps): void {
  const { sso, store } = deps;

  admin.get('/api/auth/sso/config', needs('sso:read'), async () => ssoConfigView(await sso.config.require()));

  admin.post('/api/auth/sso/config', needs('sso:write'), async (request) => {
    const input = parseInput(ssoConfigBodySchema, objectBody(request.body));
    return ssoConfigView(await sso.config.save(input, actorOf(request)));
  });

  admin.get('/api/auth/sso/teams', needs('sso:read'), async (request) => {
    const query = parseInput(pageQuerySchema, request.query ?? {});
    const page = await store.listDocs<TeamRecord>(COLLECTIONS.teams, { limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
    const data = page.items
      .filter((item) => item.doc.sso !== undefined)
      .map(({ doc }) => ({
        object: 'sso_team',
        ...teamSummary(doc),
        members_count: memberCount(doc),
        sso_members_count: (doc.members ?? []).filter((m) => m.source === 'sso').length,
        last_sync_at: iso(doc.sso?.last_sync_at ?? null),
        created_at: iso(doc.created_at),
      }));
    return { object: 'list', data, next_cursor: page.next_cursor };
  });

  admin.get<{ Params: { id: string } }>('/api/auth/sso/users/:id/teams', needs('self'), async (request) => {
    const id = resourceId(request.params.id, 'user');
    const caller = callerOf(request);
    if (id !== caller.userId && !roleAllows(caller.role, 'sso:read')) throw new GatewayError('SF_ERR_FORBIDDEN', { message: "Another user's teams need the proxy_admin_viewer role (sso:read); the caller is " + caller.role + '.' });
    const user = await store.getDoc<UserRecord>(USERS_COLLECTION, id);
    if (!user) throw new GatewayError('SF_ERR_NOT_FOUND', { message: `No user with id "${id}".` });
    const teams = await Promise.all(
      teamIdsOf(user).map(async (teamId) => {
        const t = await store.getDoc<TeamRecord>(COLLECTIONS.teams, teamId);
        const sources = (t?.members ?? []).filter((m) => m.user_id === id).map((m) => m.source);
        return { id: teamId, name: t?.name ?? null, sso_group_id: t?.sso?.group_id ?? null, membership: sources };
      }),
    );
    return { object: 'sso_user_teams', user_id: user.id, email: user.email, name: user.name, role: user.role, teams, last_sign_in_at: iso(user.last_sign_in_at) };
  });
}
