import { z } from 'zod';
import type { Resealer } from '../crypto/resealer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Store } from '../storage/types.js';
import { UNCHANGED, updateDoc } from '../storage/update-doc.js';
import { ROLES, type Role } from './roles.js';

/** Signature algorithms an id_token may use. Never `none`, never HS* (a client secret must not sign identities). */
export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const httpUrl = z.url({ protocol: /^https?$/ });
const claimName = z.string().regex(/^[A-Za-z0-9_.:/-]{1,128}$/, 'a claim name');

/** `sso:` in smartflow.yaml and the body of POST /api/auth/sso/config. */
export const ssoSettingsSchema = z.strictObject({
  /** Entra tenant id: the default issuer, and the `tid` every id_token must carry. */
  tenant_id: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'a tenant id (GUID)').optional(),
  client_id: z.string().min(1).max(256),
  /** For the code exchange and Microsoft Graph. Sealed at rest, never returned. */
  client_secret: z.string().min(1).max(2048).optional(),
  /** The expected `iss`; default `https://login.microsoftonline.com/{tenant_id}/v2.0`. */
  issuer: httpUrl.optional(),
  /** Default `{issuer}/.well-known/openid-configuration`. */
  discovery_url: httpUrl.optional(),
  groups_claim: claimName.default('groups'),
  roles_claim: claimName.default('roles'),
  /** App Role value → internal role, over the defaults (each role name maps to itself). */
  role_mapping: z.record(z.string().min(1).max(256), z.enum(ROLES)).default({}),
  /** Settings of teams created for groups. */
  default_team: z
    .strictObject({
      max_budget: z.number().finite().nonnegative().max(1e9).optional(),
      budget_period: z.enum(['daily', 'weekly', 'monthly', 'lifetime']).default('monthly'),
      models: z.array(z.string().min(1).max(200)).max(1000).default([]),
      /** A guardrail policy name, recorded on the team (metadata.guardrail_policy). */
      guardrail_policy: z.string().min(1).max(200).optional(),
    })
    .prefault({}),
  /** Which groups become teams: listed ids, and/or ids or names matching a pattern. Neither: every group. */
  group_filter: z
    .strictObject({
      ids: z.array(z.string().min(1).max(256)).max(10_000).optional(),
      pattern: z
        .string()
        .max(500)
        .refine((p) => {
          try {
            new RegExp(p);
            return true;
          } catch {
            return false;
          }
        }, 'a regular expression')
        .optional(),
    })
    .prefault({}),
  /** Microsoft Graph, for group overage (more than 200 groups) and group names. */
  graph: z
    .strictObject({
      base_url: httpUrl.default('https://graph.microsoft.com'),
      /** Default `https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token`. */
      token_url: httpUrl.optional(),
      /** Look up display names of groups that become teams (one Graph call per new team). */
      resolve_names: z.boolean().default(false),
    })
    .prefault({}),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/)).max(50).default(['openid', 'profile', 'email']),
  /** Where the IdP sends the browser back; default `{scheme}://{host}/api/auth/sso/callback` of the login request. */
  redirect_uri: httpUrl.optional(),
  /** Where the callback sends the browser once signed in (a path on the gateway). */
  post_login_redirect: z.string().regex(/^\/(?!\/)[^\s]*$/, 'a path on the gateway, such as /').default('/'),
  session_ttl_seconds: z.number().int().min(60).max(30 * 86_400).default(8 * 3600),
  /** Tolerated clock difference for `exp`, `nbf` and `iat`. */
  clock_skew_seconds: z.number().int().min(0).max(300).default(60),
  algorithms: z.array(z.enum(ASYMMETRIC_ALGS)).min(1).default(['RS256']),
});

export type SsoSettingsInput = z.input<typeof ssoSettingsSchema>;
export type SsoSettings = z.output<typeof ssoSettingsSchema>;

/** The API body: `client_secret: null` clears the stored secret; leaving it out keeps it. */
export const ssoConfigBodySchema = ssoSettingsSchema.extend({ client_secret: z.string().min(1).max(2048).nullable().optional() });

/** SSO settings in effect, with the secret opened and the defaults that depend on the tenant filled in. */
export interface ResolvedSso extends SsoSettings {
  issuer: string;
  discovery_url: string;
  source: 'file' | 'api';
  /** The role each App Role value stands for (defaults merged with role_mapping). */
  roleOf: (appRole: string) => Role | undefined;
}

interface StoredSso extends Omit<SsoSettings, 'client_secret'> {
  client_secret_sealed: string | null;
  updated_at: number;
  updated_by: string;
}

const COLLECTION = 'sso_config';
const DOC_ID = 'current';
const SECRET_CONTEXT = 'sso:client_secret';

function resolve(settings: SsoSettings, source: ResolvedSso['source']): ResolvedSso {
  const issuer = settings.issuer ?? (settings.tenant_id ? `https://login.microsoftonline.com/${settings.tenant_id}/v2.0` : undefined);
  if (!issuer) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'sso needs tenant_id (Entra ID) or issuer (another IdP).', param: 'issuer' });
  const mapping: Record<string, Role> = Object.fromEntries(ROLES.map((r) => [r, r]));
  Object.assign(mapping, settings.role_mapping);
  return {
    ...settings,
    issuer,
    discovery_url: settings.discovery_url ?? `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
    source,
    roleOf: (appRole) => (Object.hasOwn(mapping, appRole) ? mapping[appRole] : undefined),
  };
}

/** The SSO settings: from smartflow.yaml (then read-only) or stored through the API, the secret sealed. */
export class SsoConfigService {
  constructor(private readonly deps: { store: Store; secrets: SecretBox; audit: AuditLog; now: () => number; fromFile?: SsoSettings | undefined }) {
    if (deps.fromFile) resolve(deps.fromFile, 'file');
  }

  /** The settings in effect, or undefined when SSO is not configured. Read from the store each time, so every instance sees a change at once. */
  async current(): Promise<ResolvedSso | undefined> {
    if (this.deps.fromFile) return resolve(this.deps.fromFile, 'file');
    const stored = await this.deps.store.getDoc<StoredSso>(COLLECTION, DOC_ID);
    if (!stored) return undefined;
    const { client_secret_sealed, updated_at: _at, updated_by: _by, ...settings } = stored;
    const secret = client_secret_sealed === null ? {} : { client_secret: this.deps.secrets.open(client_secret_sealed, SECRET_CONTEXT) };
    return resolve({ ...settings, ...secret }, 'api');
  }

  async require(): Promise<ResolvedSso> {
    const sso = await this.current();
    if (!sso) throw new GatewayError('SF_ERR_SSO_NOT_CONFIGURED');
    return sso;
  }

  /** Replaces the stored settings (compare-and-set). Refused when smartflow.yaml configures SSO. */
  async save(input: z.output<typeof ssoConfigBodySchema>, actor: string): Promise<ResolvedSso> {
    if (this.deps.fromFile) throw new GatewayError('SF_ERR_CONFLICT', { message: 'SSO is configured in smartflow.yaml (sso:); change it there.' });
    const { client_secret, ...settings } = input;
    resolve(settings, 'api');
    const current = await this.deps.store.getVersionedDoc<StoredSso>(COLLECTION, DOC_ID);
    const sealed = client_secret === undefined ? (current?.doc.client_secret_sealed ?? null) : client_secret === null ? null : this.deps.secrets.seal(client_secret, SECRET_CONTEXT);
    const doc: StoredSso = { ...settings, client_secret_sealed: sealed, updated_at: this.deps.now(), updated_by: actor };
    if ((await this.deps.store.compareAndSetDoc(COLLECTION, DOC_ID, doc, current?.version ?? 0)) === null) throw new GatewayError('SF_ERR_CONFLICT');
    await this.deps.audit.record({ actor, action: 'sso.configure', target_type: 'sso', target_id: DOC_ID, details: { issuer: settings.issuer ?? null, client_id: settings.client_id } });
    return (await this.current())!;
  }
}

/** The settings as GET returns them: everything but the secret, which is only said to be set. */
export function ssoConfigView(sso: ResolvedSso) {
  const { client_secret, roleOf: _roleOf, ...rest } = sso;
  return { object: 'sso_config', ...rest, client_secret_set: client_secret !== undefined };
}

/** `smartflow secrets rotate`: the stored SSO client secret, sealed again under the new key (compare-and-set). */
export async function resealSsoSecret(store: Store, resealer: Resealer): Promise<number> {
  let moved = 0;
  await updateDoc<StoredSso>(store, COLLECTION, DOC_ID, (d) => {
    if (d.client_secret_sealed === null) return UNCHANGED;
    moved = 1;
    return { ...d, client_secret_sealed: resealer.move(d.client_secret_sealed, SECRET_CONTEXT, 'sso_config/client_secret') };
  });
  return moved;
}
