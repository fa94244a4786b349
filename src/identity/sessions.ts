import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Store } from '../storage/types.js';

/** Session tokens look like this, so the admin plugin knows which lookup to make. */
export const SESSION_PREFIX = 'sf-sess-';
export const SESSION_COOKIE = 'sf_session';

const sessionSchema = z.strictObject({ user_id: z.string(), expires_at: z.number() });
export type Session = z.infer<typeof sessionSchema>;

/** Only the token's SHA-256 is stored: a store dump holds no usable session. */
function entryKey(token: string): string {
  return `sso:session:${createHash('sha256').update(token).digest('hex')}`;
}

/** Opaque SSO sessions as store entries that expire by themselves; shared by every instance. */
export class Sessions {
  constructor(private readonly deps: { store: Store; now: () => number }) {}

  async create(userId: string, ttlSeconds: number): Promise<{ token: string; expires_at: number }> {
    const token = `${SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expires_at = this.deps.now() + ttlSeconds * 1000;
    await this.deps.store.setEntry(entryKey(token), JSON.stringify({ user_id: userId, expires_at }), ttlSeconds * 1000);
    return { token, expires_at };
  }

  /** The live session of a token, or undefined (unknown, revoked or expired). */
  async resolve(token: string): Promise<Session | undefined> {
    if (!token.startsWith(SESSION_PREFIX) || token.length > 200) return undefined;
    const raw = await this.deps.store.getEntry(entryKey(token));
    if (raw === undefined) return undefined;
    const parsed = sessionSchema.safeParse(JSON.parse(raw));
    if (!parsed.success || parsed.data.expires_at <= this.deps.now()) return undefined;
    return parsed.data;
  }

  revoke(token: string): Promise<boolean> {
    return this.deps.store.deleteEntry(entryKey(token));
  }
}

/** The session token of a request: `Authorization: Bearer sf-sess-…` or the session cookie. */
export function sessionTokenOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(sf-sess-\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  const cookie = headers.cookie;
  if (typeof cookie !== 'string') return undefined;
  for (const part of cookie.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) {
      const token = value.join('=');
      return token.startsWith(SESSION_PREFIX) ? token : undefined;
    }
  }
  return undefined;
}
