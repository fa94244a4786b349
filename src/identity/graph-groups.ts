import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';

export interface GraphSettings {
  baseUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
}

export interface GraphGroup {
  id: string;
  displayName: string | null;
}

const tokenSchema = z.looseObject({ access_token: z.string().min(1), expires_in: z.number().optional() });
const pageSchema = z.looseObject({
  value: z.array(z.looseObject({ id: z.string().min(1), displayName: z.string().nullable().optional() })),
  '@odata.nextLink': z.string().optional(),
});

const TIMEOUT_MS = 10_000;
/** Entra's overage starts at 200 groups; a member of more than this many is refused rather than paged forever. */
const MAX_PAGES = 100;

function unavailable(what: string, cause?: unknown): GatewayError {
  return new GatewayError('SF_ERR_SSO_IDP_UNAVAILABLE', { message: `Microsoft Graph: ${what}.`, ...(cause === undefined ? {} : { cause }) });
}

async function getJson(url: string, init: RequestInit, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw unavailable(`${what} could not be reached`, err);
  }
  // The body may echo credentials; only the status goes into the error.
  if (!res.ok) throw unavailable(`${what} answered ${res.status}`);
  try {
    return await res.json();
  } catch (err) {
    throw unavailable(`${what} did not answer JSON`, err);
  }
}

/**
 * Microsoft Graph with the app's own identity (client credentials), for group overage: Entra
 * leaves `groups` out of the id_token of a member of more than 200 groups and points at Graph.
 * The app token is cached until shortly before it expires.
 */
export class GraphClient {
  private token: { value: string; until: number; key: string } | null = null;

  async memberGroups(settings: GraphSettings, userId: string): Promise<GraphGroup[]> {
    const base = settings.baseUrl.replace(/\/$/, '');
    let url: string | undefined = `${base}/v1.0/users/${encodeURIComponent(userId)}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName&$top=999`;
    const groups: GraphGroup[] = [];
    for (let page = 0; url !== undefined; page++) {
      if (page === MAX_PAGES) throw unavailable(`more than ${MAX_PAGES} pages of groups`);
      // nextLink must stay on the configured Graph host, or the app token would go elsewhere.
      if (new URL(url).origin !== new URL(base).origin) throw unavailable('a nextLink pointed at another host');
      const body = pageSchema.safeParse(await getJson(url, { headers: { authorization: `Bearer ${await this.appToken(settings)}`, accept: 'application/json' } }, 'the group list'));
      if (!body.success) throw unavailable('the group list has an unexpected shape');
      for (const g of body.data.value) groups.push({ id: g.id, displayName: g.displayName ?? null });
      url = body.data['@odata.nextLink'];
    }
    return groups;
  }

  async group(settings: GraphSettings, groupId: string): Promise<GraphGroup> {
    const base = settings.baseUrl.replace(/\/$/, '');
    const body = z
      .looseObject({ id: z.string(), displayName: z.string().nullable().optional() })
      .safeParse(await getJson(`${base}/v1.0/groups/${encodeURIComponent(groupId)}?$select=id,displayName`, { headers: { authorization: `Bearer ${await this.appToken(settings)}` } }, 'the group'));
    if (!body.success) throw unavailable('the group has an unexpected shape');
    return { id: body.data.id, displayName: body.data.displayName ?? null };
  }

  private async appToken(settings: GraphSettings): Promise<string> {
    const key = `${settings.tokenUrl} ${settings.clientId}`;
    if (this.token && this.token.key === key && this.token.until > Date.now()) return this.token.value;
    const form = new URLSearchParams({ grant_type: 'client_credentials', scope: `${new URL(settings.baseUrl).origin}/.default` });
    const basic = Buffer.from(`${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`).toString('base64');
    const parsed = tokenSchema.safeParse(
      await getJson(settings.tokenUrl, { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, body: form }, 'the token endpoint'),
    );
    if (!parsed.success) throw unavailable('the token endpoint sent no access_token');
    const lifetime = (parsed.data.expires_in ?? 300) * 1000;
    this.token = { value: parsed.data.access_token, until: Date.now() + Math.max(0, lifetime - 60_000), key };
    return this.token.value;
  }
}
