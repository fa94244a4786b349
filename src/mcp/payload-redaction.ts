import { REDACTED } from './server-record.js';

/**
 * Tool arguments and results made fit for a log line, for servers with `log_payloads: true`.
 * Tools take credentials as arguments and return them in results (a database URL, an API
 * response echoing a token), so values under secret-looking keys and strings that look like
 * keys or tokens are replaced by `[REDACTED]` before anything is written, and the whole is capped.
 */

/** Key names whose values are secrets, matched case-insensitively anywhere in the name (`db_password`, `X-Api-Key`). */
const SECRET_KEY = /authorization|token|passw(or)?d|secret|api[-_]?key|credential|cookie|private[-_]?key|session[-_]?id/i;

/**
 * Keys and tokens inside any string: Smartflow and OpenAI-style keys (`sk-…`, `sk-sf-…`,
 * `sk-ant-…`), bearer credentials, GitHub and Slack tokens, AWS access key ids, JWTs.
 */
const SECRET_VALUE = new RegExp(
  [
    String.raw`\bsk-[A-Za-z0-9_-]{8,}`,
    String.raw`\bBearer\s+[A-Za-z0-9._~+/=-]+`,
    String.raw`\bBasic\s+[A-Za-z0-9+/=]{8,}`,
    String.raw`\bgh[pousr]_[A-Za-z0-9]{16,}`,
    String.raw`\bxox[abposr]-[A-Za-z0-9-]{8,}`,
    String.raw`\bAKIA[0-9A-Z]{16}\b`,
    String.raw`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+`,
  ].join('|'),
  'gi',
);

/** Deeper structures are cut: a log line is not the place for them, and recursion stays bounded. */
const MAX_DEPTH = 20;

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.replace(SECRET_VALUE, REDACTED);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? REDACTED : redactValue(v, depth + 1);
  return out;
}

/** The value with every secret replaced by `[REDACTED]` (a copy; the input is not changed). */
export function redactPayload(value: unknown): unknown {
  return redactValue(value, 0);
}

/**
 * The redacted value as JSON, cut to `maxBytes` (UTF-8) with a marker saying how much was left
 * out. Cut after redaction, so a secret is never half-kept at the edge.
 */
export function loggablePayload(value: unknown, maxBytes: number): string {
  const json = JSON.stringify(redactPayload(value)) ?? 'null';
  const bytes = Buffer.byteLength(json);
  if (bytes <= maxBytes) return json;
  // Decoding a cut buffer drops a split trailing character rather than producing a broken one.
  const head = new TextDecoder().decode(Buffer.from(json).subarray(0, maxBytes)).replace(/\uFFFD$/, '');
  return `${head}…[${bytes - Buffer.byteLength(head)} more bytes]`;
}
