import { hash, randomBytes } from 'node:crypto';

/** Every gateway-issued key starts with this, so the authenticator knows where to look it up. */
export const VIRTUAL_KEY_PREFIX = 'sk-sf-';

/** A new virtual key: the prefix and 192 random bits (32 base64url characters). */
export function generateVirtualKey(): string {
  return VIRTUAL_KEY_PREFIX + randomBytes(24).toString('base64url');
}

/**
 * SHA-256 of the key, hex. The keys carry 192 random bits, so a fast unsalted hash is safe here
 * (nothing to brute-force) and lets the lookup be a single indexed read.
 */
export function hashVirtualKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** What may be shown of a key in listings and logs: the prefix and four characters. */
export function previewVirtualKey(key: string): string {
  return `${key.slice(0, VIRTUAL_KEY_PREFIX.length + 4)}…`;
}

export function isVirtualKey(key: string): boolean {
  return key.startsWith(VIRTUAL_KEY_PREFIX);
}

/** Ids that sort by creation time, so listings come out oldest first. */
export function timeOrderedId(prefix: string, now: number): string {
  return `${prefix}${now.toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}
