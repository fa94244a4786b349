import type { AuditLog } from '../audit/audit-log.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { Store } from '../storage/types.js';
import { GraphClient } from './graph-groups.js';
import { verifyIdToken } from './id-token.js';
import { LoginFlow } from './login-flow.js';
import { OidcDiscovery } from './oidc-discovery.js';
import type { Role } from './roles.js';
import { Sessions } from './sessions.js';
import { graphSettingsOf, identityFromClaims } from './sso-claims.js';
import type { ResolvedSso, SsoConfigService } from './sso-config.js';
import { TeamSync, type SyncResult } from './team-sync.js';

export interface SignInResult extends SyncResult {
  role: Role;
  app_roles: string[];
  session: { token: string; expires_at: number };
}

/**
 * SSO sign-in end to end: verify the id_token against the IdP, read groups (Graph on overage)
 * and App Roles, sync teams and memberships, open a session. Nothing is written before the
 * token has passed every check.
 */
export class SsoService {
  readonly sessions: Sessions;
  private readonly discovery: OidcDiscovery;
  private readonly graph = new GraphClient();
  private readonly flow: LoginFlow;
  private readonly teamSync: TeamSync;

  constructor(readonly config: SsoConfigService, deps: { store: Store; audit: AuditLog; now: () => number }) {
    this.sessions = new Sessions(deps);
    this.discovery = new OidcDiscovery(deps.now);
    this.flow = new LoginFlow(deps.store);
    this.teamSync = new TeamSync({ ...deps, groupName: async (group, sso) => (await this.graph.group(graphSettingsOf(sso), group.id)).displayName });
  }

  /** Verifies `idToken` (with `nonce` when the flow set one), syncs and opens a session. */
  async signIn(idToken: string, nonce?: string): Promise<SignInResult> {
    const sso = await this.config.require();
    return this.signInWith(sso, idToken, nonce);
  }

  /** The IdP URL that starts a browser sign-in. */
  async loginUrl(redirectUri: (sso: ResolvedSso) => string): Promise<string> {
    const sso = await this.config.require();
    return this.flow.begin(sso, await this.discovery.get(sso.discovery_url), redirectUri(sso));
  }

  /** The callback of a browser sign-in: state checked, code exchanged with the verifier, id_token verified with the nonce. */
  async callback(state: string, code: string, iss?: string): Promise<SignInResult> {
    const sso = await this.config.require();
    // RFC 9207: an IdP that names itself in the redirect must be the configured one (mix-up defence).
    if (iss !== undefined && iss !== sso.issuer) throw new GatewayError('SF_ERR_SSO_TOKEN_INVALID', { message: 'The sign-in was refused: the redirect came from another issuer (iss).' });
    const { idToken, nonce } = await this.flow.finish(sso, await this.discovery.get(sso.discovery_url), state, code);
    return this.signInWith(sso, idToken, nonce);
  }

  private async signInWith(sso: ResolvedSso, idToken: string, nonce: string | undefined): Promise<SignInResult> {
    const idp = await this.discovery.get(sso.discovery_url);
    const payload = await verifyIdToken(idToken, idp.keys, {
      issuer: sso.issuer,
      clientId: sso.client_id,
      tenantId: sso.tenant_id,
      nonce,
      algorithms: sso.algorithms,
      clockSkewSeconds: sso.clock_skew_seconds,
    });
    const identity = await identityFromClaims(payload, sso, this.graph);
    const result = await this.teamSync.sync(identity, sso);
    const session = await this.sessions.create(identity.userId, sso.session_ttl_seconds);
    return { ...result, role: identity.role, app_roles: identity.appRoles, session };
  }
}
