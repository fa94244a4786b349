/**
 * The credentials in a store URL (redis://, postgres://), which must never appear in an error
 * that leaves the store: the URL itself and its user name and password, raw and percent-decoded.
 */
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

/** Replaces every secret in `text` with `***`. */
export function redactSecrets(secrets: string[], text: string): string {
  return secrets.reduce((acc, secret) => acc.split(secret).join('***'), text);
}

/**
 * A fresh Error carrying only the redacted message, name and system error code of `err`: driver
 * errors can hold the connection options (with the password) on nested fields, so the original
 * is never kept as a cause.
 */
export function redactedError(secrets: string[], err: unknown): Error {
  const source = err instanceof Error ? err : new Error(String(err));
  const cause = new Error(redactSecrets(secrets, source.message));
  cause.name = source.name;
  const code: unknown = (source as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(cause, { code });
  return cause;
}
