import { GatewayError } from '../errors/gateway-error.js';
import type { McpAuth, McpStartMode, McpTransport, UpdateServerInput } from './server-schema.js';

/** What the API shows in place of every header and env value: the names are useful, the values may be credentials. */
export const REDACTED = '[REDACTED]';

export const SECRET_FIELDS = ['headers', 'env'] as const;
export type SecretField = (typeof SECRET_FIELDS)[number];
/** Where a sealed value lives: a header or env value by name, or the auth client secret. */
export type SealedField = SecretField | 'auth';

/** An MCP server as stored: optional fields absent when unset, `headers`/`env` values sealed (crypto/secret-box.ts). Times in epoch ms. */
export interface McpServerRecord {
  id: string;
  alias: string;
  transport: McpTransport;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  url?: string;
  headers?: Record<string, string>;
  allowed_tools?: string[];
  denied_tools?: string[];
  description?: string;
  timeout_ms?: number;
  start?: McpStartMode;
  idle_timeout_ms?: number;
  log_payloads?: boolean;
  /** `client_secret` sealed. */
  auth?: McpAuth;
  allow_header_override?: boolean;
  created_at: number;
  created_by: string;
  updated_at: number;
  /** Set by a delete before the record goes, so a PATCH racing it fails instead of bringing it back. */
  deleted_at?: number;
}

type Sealer = (field: SealedField, name: string, value: string) => string;

/**
 * A new secret map: each value sealed, except `[REDACTED]`, which keeps the stored value of that
 * name, so a client can send back what it read and change one header without knowing the others.
 */
function mergeSecrets(field: SecretField, current: Record<string, string> | undefined, input: Record<string, string>, seal: Sealer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(input)) {
    if (value === REDACTED) {
      const kept = current?.[name];
      if (kept === undefined) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `${field}.${name}: "${REDACTED}" keeps a stored value, but there is none for this name`, param: `${field}.${name}` });
      out[name] = kept;
    } else {
      out[name] = seal(field, name, value);
    }
  }
  return out;
}

/** Auth fields that are secrets: sealed at rest, never returned. */
export const AUTH_SECRET_FIELDS = ['client_secret', 'private_key'] as const;

/** The auth block with its client secret and private key sealed; `[REDACTED]` keeps the stored one. */
export function sealAuth(input: McpAuth, current: McpAuth | undefined, seal: Sealer): McpAuth {
  const out: Record<string, unknown> = { ...input };
  for (const field of AUTH_SECRET_FIELDS) {
    const value = (input as Partial<Record<string, string>>)[field];
    if (value === undefined) continue;
    if (value !== REDACTED) {
      out[field] = seal('auth', field, value);
      continue;
    }
    const kept = (current as Partial<Record<string, string>> | undefined)?.[field];
    if (!kept) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `auth.${field}: "${REDACTED}" keeps a stored value, but there is none`, param: `auth.${field}` });
    out[field] = kept;
  }
  return out as McpAuth;
}

/**
 * The record with a PATCH applied: null clears a field, a missing one keeps it. A pure function of
 * the record (sealing aside), so a compare-and-set retry can apply it again to a newer record.
 * Clearing `transport` infers it again (stdio with a command, else auto).
 */
export function applyServerUpdate(current: McpServerRecord, input: UpdateServerInput, now: number, seal: Sealer): McpServerRecord {
  const next: McpServerRecord = { ...current, updated_at: now };
  const set = <K extends 'command' | 'args' | 'cwd' | 'url' | 'allowed_tools' | 'denied_tools' | 'description' | 'timeout_ms' | 'start' | 'idle_timeout_ms' | 'log_payloads' | 'allow_header_override'>(key: K) => {
    const value = input[key];
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = value as McpServerRecord[K];
  };
  if (input.alias !== undefined) next.alias = input.alias;
  set('command');
  set('args');
  set('cwd');
  set('url');
  set('allowed_tools');
  set('denied_tools');
  set('description');
  set('timeout_ms');
  set('start');
  set('idle_timeout_ms');
  set('log_payloads');
  set('allow_header_override');
  if (input.auth === null) delete next.auth;
  else if (input.auth !== undefined) next.auth = sealAuth(input.auth, current.auth, seal);
  for (const field of SECRET_FIELDS) {
    const value = input[field];
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = mergeSecrets(field, current[field], value, seal);
  }
  if (input.transport !== undefined) next.transport = input.transport ?? (next.command !== undefined ? 'stdio' : 'auto');
  return next;
}
