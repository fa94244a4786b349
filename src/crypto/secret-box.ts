import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** Fixed, so the same master key always derives the same secret key (and never a key used elsewhere). */
const HKDF_INFO = 'smartflow secret-box v1';
const PREFIX = 'enc:v1:';

/**
 * The 32-byte key from `secrets.key` (base64 or hex), or, without one, derived from the master key
 * with HKDF-SHA256. Throws on a configured key that is not 32 bytes: a short key must not start.
 */
export function secretKeyFrom(settings: { key?: string | undefined; masterKey: string }): Buffer {
  if (settings.key === undefined) return Buffer.from(hkdfSync('sha256', settings.masterKey, Buffer.alloc(0), HKDF_INFO, 32));
  const raw = settings.key.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new Error('secrets.key (SMARTFLOW_SECRET_KEY) must be 32 bytes, as 64 hex digits or base64');
  return key;
}

/**
 * AES-256-GCM for secrets at rest (MCP header and env values). Sealed form:
 * `enc:v1:<iv>:<tag>:<ciphertext>`, each part base64url. `context` is bound as associated data,
 * so a value copied onto another record or field does not open.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('a secret-box key is 32 bytes');
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${PREFIX}${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ciphertext.toString('base64url')}`;
  }

  /** Throws when the value was sealed with another key or context, or was tampered with. */
  open(sealed: string, context: string): string {
    if (!SecretBox.isSealed(sealed)) throw new Error('not a sealed value');
    const [iv, tag, ciphertext] = sealed.slice(PREFIX.length).split(':') as [string, string, string | undefined];
    if (ciphertext === undefined) throw new Error('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }

  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX);
  }
}
