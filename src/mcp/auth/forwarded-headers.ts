import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../../errors/gateway-error.js';

/**
 * `x-mcp-{alias}-{header}` headers of one client request, names lower-case, values as sent.
 * They travel with the call (never in a shared place) down to the upstream connection of that
 * alias's server; nothing else ever reads them.
 */
export type ForwardedHeaders = Readonly<Record<string, string>>;

export const FORWARD_PREFIX = 'x-mcp-';

export const NO_FORWARDED_HEADERS: ForwardedHeaders = Object.freeze({});

/** Headers the transport owns, or that would change how the request is framed: never forwarded. */
const NOT_FORWARDABLE = new Set(['host', 'content-length', 'content-type', 'accept', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'trailer', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'cookie']);

export const isForwardedHeaderName = (name: string) => name.toLowerCase().startsWith(FORWARD_PREFIX);

/** The `x-mcp-*` headers of a request (an empty object when there are none). */
export function collectForwarded(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined> | undefined): ForwardedHeaders {
  if (!headers) return NO_FORWARDED_HEADERS;
  let out: Record<string, string> | null = null;
  for (const name in headers) {
    // Most requests carry no x-mcp-* header: skip the others on their first letter, unallocated.
    if ((name.charCodeAt(0) | 32) !== 120) continue;
    const lower = name.toLowerCase();
    if (!lower.startsWith(FORWARD_PREFIX)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    (out ??= {})[lower] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out ?? NO_FORWARDED_HEADERS;
}

/**
 * Which alias a forwarded header is for: aliases may contain `-`, so the longest registered
 * alias that the name starts with (followed by `-` and a header name) wins. Null: none matches.
 */
export function splitForwardedName(name: string, aliases: Iterable<string>): { alias: string; header: string } | null {
  const rest = name.slice(FORWARD_PREFIX.length);
  let best: string | null = null;
  for (const alias of aliases) {
    if (rest.length > alias.length + 1 && rest.startsWith(`${alias}-`) && (best === null || alias.length > best.length)) best = alias;
  }
  return best === null ? null : { alias: best, header: rest.slice(best.length + 1) };
}

/** Problems with a request's forwarded headers: names for no registered server, or headers that cannot be forwarded. */
export function forwardedProblems(forwarded: ForwardedHeaders, aliases: Iterable<string>): { unknown: string[]; refused: string[] } {
  const list = [...aliases];
  const unknown: string[] = [];
  const refused: string[] = [];
  for (const name in forwarded) {
    const split = splitForwardedName(name, list);
    if (!split) unknown.push(name);
    else if (NOT_FORWARDABLE.has(split.header)) refused.push(name);
  }
  return { unknown, refused };
}

/** The headers for one server (`{header}` → value), from the request's forwarded headers. */
export function headersForAlias(forwarded: ForwardedHeaders, alias: string, aliases: Iterable<string>): Record<string, string> {
  const out: Record<string, string> = {};
  if (forwarded === NO_FORWARDED_HEADERS) return out;
  const list = [...aliases];
  for (const name in forwarded) {
    const split = splitForwardedName(name, list);
    if (split && split.alias === alias && !NOT_FORWARDABLE.has(split.header)) out[split.header] = forwarded[name]!;
  }
  return out;
}

/** A stable digest of one server's forwarded headers: the key of the connection that carries them. */
export function forwardedKey(headers: Record<string, string>): string {
  const sorted = Object.keys(headers).sort().map((k) => [k, headers[k]]);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('base64url').slice(0, 22);
}

/**
 * Static headers of the server with a caller's forwarded ones: static wins on a name both set,
 * unless the server allows overriding. Header names compare case-insensitively.
 */
export function mergeHeaders(staticHeaders: Record<string, string>, forwarded: Record<string, string>, allowOverride: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const lowerStatic = new Map(Object.keys(staticHeaders).map((k) => [k.toLowerCase(), k]));
  for (const [k, v] of Object.entries(staticHeaders)) out[k] = v;
  for (const [k, v] of Object.entries(forwarded)) {
    const existing = lowerStatic.get(k);
    if (existing !== undefined) {
      if (!allowOverride) continue;
      delete out[existing];
    }
    out[k] = v;
  }
  return out;
}

/**
 * The 400 a request gets for forwarded headers that cannot go anywhere: a name for no registered
 * server (unless `unknownAlias` is `ignore`), or a header the transport owns. Null: fine. Names
 * only in the message, never values.
 */
export function forwardedHeadersError(headers: IncomingHttpHeaders, aliases: () => Iterable<string>, unknownAlias: 'reject' | 'ignore'): GatewayError | null {
  const forwarded = collectForwarded(headers);
  // Every request passes here: the aliases are only looked up for one that forwards something.
  if (forwarded === NO_FORWARDED_HEADERS) return null;
  const { unknown, refused } = forwardedProblems(forwarded, aliases());
  if (refused.length) return new GatewayError('SF_ERR_INVALID_REQUEST', { message: `${refused[0]}: this header is set by the MCP transport itself and cannot be forwarded.`, param: refused[0]! });
  if (unknown.length && unknownAlias === 'reject') {
    return new GatewayError('SF_ERR_INVALID_REQUEST', { message: `${unknown[0]}: forwarded headers are "x-mcp-{server alias}-{header}", and no MCP server has an alias this header names.`, param: unknown[0]! });
  }
  return null;
}
