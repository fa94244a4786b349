import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { GatewayError } from '../errors/gateway-error.js';

export interface IdTokenExpectations {
  issuer: string;
  clientId: string;
  /** `tid` the token must carry (Entra tenant); undefined: not checked. */
  tenantId?: string | undefined;
  /** The nonce the sign-in flow sent; undefined: none was set. */
  nonce?: string | undefined;
  algorithms: readonly string[];
  clockSkewSeconds: number;
}

function refused(reason: string, cause?: unknown): GatewayError {
  return new GatewayError('SF_ERR_SSO_TOKEN_INVALID', { message: `The id_token was refused: ${reason}.`, ...(cause === undefined ? {} : { cause }) });
}

/** jose's errors as reasons a person can act on (never the token itself). */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'it has expired (exp)';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'it was issued by another issuer (iss)';
    if (err.claim === 'aud') return 'it was issued for another client (aud)';
    if (err.claim === 'nbf') return 'it is not valid yet (nbf)';
    if (err.claim === 'iat') return 'its issue time (iat) is in the future';
    return `its ${err.claim} claim is not valid`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (err instanceof errors.JWKSNoMatchingKey) return 'it was signed with a key the IdP does not publish';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'its signature algorithm is not allowed';
  return 'it is not a valid signed JWT';
}

/**
 * Verifies an id_token completely: signature against the IdP's keys with an allow-list of
 * asymmetric algorithms, `iss`, `aud` = the client id, `exp`/`nbf`/`iat` with a small skew,
 * and `tid` and `nonce` when expected. Any failure is a 401 that says why.
 */
export async function verifyIdToken(token: string, keys: JWTVerifyGetKey, expect: IdTokenExpectations): Promise<JWTPayload> {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch (err) {
    throw refused('it is not a JWT', err);
  }
  // Checked before jose so the reason is plain; jose would refuse these too.
  if (alg === undefined || alg === 'none') throw refused('it is unsigned (alg "none")');
  if (typeof alg !== 'string') throw refused('it is not a valid signed JWT');
  if (!expect.algorithms.includes(alg)) throw refused(`alg "${alg.slice(0, 20)}" is not allowed (allowed: ${expect.algorithms.join(', ')})`);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: expect.issuer,
      audience: expect.clientId,
      algorithms: [...expect.algorithms],
      clockTolerance: expect.clockSkewSeconds,
      requiredClaims: ['sub', 'exp', 'iat'],
    }));
  } catch (err) {
    if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || (err instanceof TypeError && !(err instanceof errors.JOSEError))) {
      throw new GatewayError('SF_ERR_SSO_IDP_UNAVAILABLE', { message: "The IdP's signing keys could not be read.", cause: err });
    }
    throw refused(reasonOf(err), err);
  }
  if (typeof payload.iat === 'number' && payload.iat * 1000 > Date.now() + expect.clockSkewSeconds * 1000) throw refused('its issue time (iat) is in the future');
  if (expect.tenantId !== undefined && payload.tid !== expect.tenantId) throw refused('it was issued for another tenant (tid)');
  if (expect.nonce !== undefined && payload.nonce !== expect.nonce) throw refused('its nonce does not match the sign-in');
  return payload;
}
