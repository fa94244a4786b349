import { pino, type Logger, type LoggerOptions } from 'pino';
import { TurnBatchedDestination } from './turn-batched-destination.js';

export type { Logger };

/** Header names that carry credentials, lower-case as Node delivers them. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie', 'set-cookie'];

/** Field names whose values are secrets wherever they appear (top level or one level down). */
const SECRET_FIELDS = new Set(['api_key', 'master_key', 'access_token', 'refresh_token', 'id_token', 'client_secret', 'private_key', 'client_assertion', 'password', 'token']);

const CENSOR = '[redacted]';

function censorHeaders(headers: unknown): unknown {
  if (!headers || typeof headers !== 'object') return headers;
  let copy: Record<string, unknown> | undefined;
  for (const name of CREDENTIAL_HEADERS) {
    if ((headers as Record<string, unknown>)[name] !== undefined) {
      copy ??= { ...(headers as Record<string, unknown>) };
      copy[name] = CENSOR;
    }
  }
  // Forwarded MCP credentials (`x-mcp-{alias}-{header}`), whatever the header after the alias.
  for (const name in headers) {
    if (name.toLowerCase().startsWith('x-mcp-')) {
      copy ??= { ...(headers as Record<string, unknown>) };
      copy[name] = CENSOR;
    }
  }
  return copy ?? headers;
}

function censorFields(value: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    if (SECRET_FIELDS.has(key)) {
      copy ??= { ...value };
      copy[key] = CENSOR;
    }
  }
  return copy ?? value;
}

/**
 * Removes credentials from a log object: credential headers under `headers` or `req.headers`,
 * and secret fields at the top level or one level down (`providers.openai.api_key` style
 * objects are two levels: `provider.api_key` is covered, whole configs are never logged).
 * Hand-written rather than pino's path-based `redact` because that costs about 5 µs per
 * line with this many paths, and the access log writes a line per request.
 */
export function redactCredentials(obj: Record<string, unknown>): Record<string, unknown> {
  let out = censorFields(obj);
  for (const key in out) {
    const v = out[key];
    if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
    let next: unknown;
    if (key === 'headers') next = censorHeaders(v);
    else if (key === 'req' && (v as { headers?: unknown }).headers) next = { ...(v as object), headers: censorHeaders((v as { headers?: unknown }).headers) };
    else next = censorFields(v as Record<string, unknown>);
    if (next !== v) {
      if (out === obj) out = { ...obj };
      out[key] = next;
    }
  }
  return out;
}

let stampedMs = -1;
let stamp = '';
/** pino's isoTime, formatted once per millisecond: under load many lines share one. */
function isoTime(): string {
  const ms = Date.now();
  if (ms !== stampedMs) {
    stampedMs = ms;
    stamp = `,"time":"${new Date(ms).toISOString()}"`;
  }
  return stamp;
}

export interface LoggerSettings {
  level: string;
  /** Destination stream; stdout (written once per event-loop turn) when absent. Tests pass a collector to assert on redaction. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: 'smartflow' },
    formatters: { log: redactCredentials },
    timestamp: isoTime,
  };
  if (settings.destination) return pino(options, settings.destination as pino.DestinationStream);
  const stdout = new TurnBatchedDestination(1);
  process.once('exit', () => stdout.flush());
  return pino(options, stdout);
}
