import { GatewayError } from '../../errors/gateway-error.js';

/** Redis replies that mean "the server cannot serve you right now" rather than "your command is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|OOM|TRYAGAIN|CLUSTERDOWN|NOAUTH|WRONGPASS|NOPERM)\b/;

/** The credentials in a Redis URL, which must never appear in an error that leaves the store. */
export function secretsOf(url: string): string[] {
  const secrets = [url];
  try {
    const parsed = new URL(url);
    for (const part of [parsed.password, parsed.username]) {
      if (part.length === 0) continue;
      secrets.push(part);
      // URLs carry credentials percent-encoded; the client may report either form.
      const decoded = safeDecode(part);
      if (decoded !== part) secrets.push(decoded);
    }
  } catch {
    // Not a parseable URL: redacting the whole string is all we can do.
  }
  // Longest first so a secret inside another (the URL) is not half-replaced.
  return secrets.sort((a, b) => b.length - a.length);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Maps anything a Redis call throws to a GatewayError. The original error is not kept as the
 * cause: ioredis errors can carry the connection options (with the password) on nested fields,
 * so the cause is a fresh Error with the redacted message and the system error code.
 */
export function createErrorMapper(secrets: string[]): (err: unknown) => GatewayError {
  const redact = (text: string): string => secrets.reduce((acc, secret) => acc.split(secret).join('***'), text);

  return (err) => {
    if (err instanceof GatewayError) return err;
    const source = err instanceof Error ? err : new Error(String(err));
    const cause = new Error(redact(source.message));
    cause.name = source.name;
    const code: unknown = (source as { code?: unknown }).code;
    if (typeof code === 'string') Object.assign(cause, { code });
    if (source.name === 'ReplyError' && !TRANSIENT_REPLY.test(source.message)) {
      // A rejected command is a bug in the gateway, not an outage.
      return new GatewayError('SF_ERR_INTERNAL', { cause });
    }
    return new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause });
  };
}
