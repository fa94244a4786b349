import { z } from 'zod';

/** The fields of RFC 8414 / OIDC discovery metadata the gateway reads. */
export const asMetadataSchema = z.looseObject({
  issuer: z.string().optional(),
  authorization_endpoint: z.string().optional(),
  token_endpoint: z.string().optional(),
  registration_endpoint: z.string().optional(),
  code_challenge_methods_supported: z.array(z.string()).optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  scopes_supported: z.array(z.string()).optional(),
});
export type AsMetadata = z.infer<typeof asMetadataSchema>;

/**
 * The discovery URLs of an issuer in the order the MCP authorization spec gives (RFC 8414 with
 * the path after the well-known segment, then OIDC both ways; without a path, RFC 8414 then OIDC).
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const origin = url.origin;
  if (!path) return [`${origin}/.well-known/oauth-authorization-server`, `${origin}/.well-known/openid-configuration`];
  return [`${origin}/.well-known/oauth-authorization-server${path}`, `${origin}/.well-known/openid-configuration${path}`, `${origin}${path}/.well-known/openid-configuration`];
}

/** The first metadata document found for the issuer; throws naming the issuer when none is. */
export async function discoverAsMetadata(issuer: string, fetchFn: typeof fetch = fetch): Promise<AsMetadata> {
  for (const url of metadataUrls(issuer)) {
    const res = await fetchFn(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) }).catch(() => null);
    if (!res) continue;
    if (!res.ok) {
      await res.body?.cancel();
      continue;
    }
    const parsed = asMetadataSchema.safeParse(await res.json().catch(() => null));
    if (parsed.success) return parsed.data;
  }
  throw new Error(`no OAuth authorization server metadata found for issuer ${issuer}`);
}
