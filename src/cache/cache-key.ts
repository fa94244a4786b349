import { hash } from 'node:crypto';

/**
 * Request fields that cannot change the answer. Everything else, including fields the gateway
 * does not know, is part of the key: an unknown field may well change what the model says.
 * `model` is replaced by the resolved model name; `cache` holds the per-request controls.
 */
const NOT_IN_KEY = new Set(['model', 'cache', 'stream', 'stream_options', 'user', 'metadata', 'store']);

/** Bumped when the key derivation changes, so old entries stop matching instead of matching wrongly. */
const KEY_VERSION = 'smartflow-cache/2';

/** What a cache key is computed from. */
export interface CacheKeyInput {
  namespace: string;
  /**
   * `chat`, `embeddings`, or for native Anthropic answers `messages:json` / `messages:sse` and for
   * Responses API answers `responses:json` / `responses:sse` (they are replayed verbatim, so each
   * form has its own entries).
   */
  operation: 'chat' | 'embeddings' | 'messages:json' | 'messages:sse' | 'responses:json' | 'responses:sse';
  /** The resolved model name (the deployment's name), not the alias the client used. */
  model: string;
  /** The validated request body; credentials never live here (they are headers). */
  body: Readonly<Record<string, unknown>>;
  /** What else reaches the provider and can change the answer (key-context.ts); empty for most requests. */
  context: Readonly<Record<string, string>>;
}

/**
 * JSON with object keys sorted at every depth, so two bodies that differ only in key order have
 * the same text. `undefined` members are left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(record).sort()) {
    if (record[k] !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(record[k])}`);
  }
  return `{${parts.join(',')}}`;
}

function keyFields(body: Readonly<Record<string, unknown>>, alsoLeaveOut?: string): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(body)) if (!NOT_IN_KEY.has(k) && k !== alsoLeaveOut) fields[k] = body[k];
  return fields;
}

/**
 * The exact-match key: SHA-256 (hex) over the namespace, the operation, the resolved model, the
 * request context (headers and query the provider sees) and every output-affecting field of the
 * body (messages or input, tools, sampling parameters ...). This is the value of
 * `x-smartflow-cache-key` and of `DELETE /api/cache/{key}`.
 */
export function cacheKey(input: CacheKeyInput): string {
  return hash('sha256', canonicalJson([KEY_VERSION, input.namespace, input.operation, input.model, input.context, keyFields(input.body)]), 'hex');
}

/**
 * The semantic cache's comparison group: everything in the exact key except the messages, plus
 * the caller's policy fingerprint. Only prompts in the same group are compared, so a similar
 * prompt never borrows an answer made with other parameters, in another namespace, or for a
 * key whose policy differs.
 */
export function semanticScope(input: CacheKeyInput, policyFingerprint: string): string {
  return hash('sha256', canonicalJson([KEY_VERSION, 'semantic', input.namespace, input.operation, input.model, input.context, policyFingerprint, keyFields(input.body, 'messages')]), 'hex');
}

/** What `x-smartflow-cache-key` values look like; anything else cannot name an entry. */
export const CACHE_KEY_PATTERN = /^[0-9a-f]{64}$/;
