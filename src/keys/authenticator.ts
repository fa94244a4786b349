import { hash, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.js';
import type { IncomingHeaders } from '../core/request-log.js';
import type { Principal } from './principal.js';
import { isVirtualKey } from './key-material.js';
import type { VirtualKeyResolver } from './virtual-key-resolver.js';

/** Resolves request credentials to a principal. */
export interface Authenticator {
  /** Throws SF_ERR_AUTH_MISSING, SF_ERR_AUTH_INVALID, SF_ERR_KEY_REVOKED or SF_ERR_KEY_EXPIRED. */
  authenticate(headers: IncomingHeaders): Promise<Principal>;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The caller's key from `Authorization: Bearer`, or `x-api-key` / `x-goog-api-key` as sent by
 * Anthropic and Google clients.
 */
export function extractApiKey(headers: IncomingHeaders): string | undefined {
  const auth = first(headers.authorization);
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  return first(headers['x-api-key']) ?? first(headers['x-goog-api-key']);
}

/** One-shot hashing: a third of createHash()'s cost, and this runs on every request. */
function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

const MASTER: Principal = Object.freeze({ id: 'master', kind: 'master', keyId: null, teamId: null, isAdmin: true, policy: null });

/**
 * The master key (compared in constant time over its SHA-256 digest) and, when a resolver is
 * given, gateway-issued virtual keys (`sk-sf-...`).
 */
export function createAuthenticator(masterKey: string, virtualKeys?: VirtualKeyResolver): Authenticator {
  const expected = digest(masterKey);
  // Keys that already passed the constant-time check. A hash-map lookup reveals nothing about
  // how much of a wrong key matched, and saves hashing on every request.
  const verified = new Set<string>();
  // A master key that happens to look like a virtual key must still be compared before the lookup.
  const masterFirst = isVirtualKey(masterKey);
  return {
    async authenticate(headers) {
      const key = extractApiKey(headers);
      if (!key) {
        const malformed = first(headers.authorization) !== undefined;
        throw new GatewayError(malformed ? 'SF_ERR_AUTH_INVALID' : 'SF_ERR_AUTH_MISSING', malformed ? { message: 'The Authorization header must be "Bearer <key>".' } : {});
      }
      if (verified.has(key)) return MASTER;
      if (virtualKeys && isVirtualKey(key) && !(masterFirst && timingSafeEqual(digest(key), expected))) return virtualKeys.resolve(key);
      if (!timingSafeEqual(digest(key), expected)) throw new GatewayError('SF_ERR_AUTH_INVALID');
      verified.add(key);
      return MASTER;
    },
  };
}
