import { randomUUID } from 'node:crypto';
import { importJWK, importPKCS8, SignJWT, type JWK } from 'jose';
import type { ClientCredentialsAuth } from '../server-schema.js';

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Short: the assertion is made for one token request. */
const ASSERTION_LIFETIME_S = 60;

/** The private key would not load (bad PEM or JWK, or one that does not fit `alg`); the message never holds the key. */
export class ClientKeyInvalid extends Error {}

/**
 * A signed client assertion for `private_key_jwt` (RFC 7523 §3, OIDC Core §9): iss = sub = the
 * client id, `aud` the authorization server, a fresh `jti`, a one-minute `exp`.
 */
export async function signClientAssertion(auth: ClientCredentialsAuth, audience: string): Promise<string> {
  const alg = auth.alg ?? 'RS256';
  const raw = (auth.private_key ?? '').trim();
  let key: Awaited<ReturnType<typeof importPKCS8>> | Uint8Array;
  try {
    key = raw.startsWith('{') ? await importJWK(JSON.parse(raw) as JWK, alg) : await importPKCS8(raw, alg);
  } catch {
    throw new ClientKeyInvalid(`the private_key is not a PKCS#8 PEM or JWK usable with ${alg}`);
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, typ: 'JWT', ...(auth.kid ? { kid: auth.kid } : {}) })
    .setIssuer(auth.client_id)
    .setSubject(auth.client_id)
    .setAudience(audience)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + ASSERTION_LIFETIME_S)
    .sign(key);
}
