import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { mcpConfigIssues } from '../mcp/config-issues.js';
import { configSchema, type GatewayConfig } from './schema.js';

/** A config file problem, with the field path and (when known) the file line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadedConfig {
  config: GatewayConfig;
  /** Absolute path of the file read, or null when running on defaults and environment variables. */
  source: string | null;
  /** Names of `${VAR}` references that were not set (their fields were left out). */
  missingEnv: string[];
}

export interface LoadOptions {
  /** Explicit path (from --config); otherwise SMARTFLOW_CONFIG, then ./smartflow.yaml if it exists. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const PLACEHOLDER = /__SF_ENV_REF_(\d+)__/g;
const ONLY_PLACEHOLDER = /^__SF_ENV_REF_(\d+)__$/;

interface EnvRef {
  name: string;
  fallback: string | undefined;
}

/**
 * Swaps every `${VAR}` / `${VAR:-default}` for a YAML-safe placeholder before parsing: braces
 * are not allowed in plain scalars inside flow mappings (`{ api_key: ${KEY} }`), and values
 * must never be able to inject YAML structure. Placeholders have no newlines, so line numbers hold.
 */
function protectEnvRefs(text: string): { text: string; refs: EnvRef[] } {
  const refs: EnvRef[] = [];
  const out = text.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
    refs.push({ name, fallback });
    return `__SF_ENV_REF_${refs.length - 1}__`;
  });
  return { text: out, refs };
}

/**
 * Resolves placeholders inside scalar values. A scalar that is exactly one unset reference is
 * dropped with its field, so optional settings such as provider keys can name variables that
 * only some deployments set.
 */
function interpolate(doc: Document, refs: EnvRef[], env: NodeJS.ProcessEnv, missing: Set<string>): void {
  const resolveRef = (index: string): string | undefined => {
    const ref = refs[Number(index)]!;
    const v = env[ref.name];
    if (v !== undefined && v !== '') return v;
    if (ref.fallback !== undefined) return ref.fallback;
    missing.add(ref.name);
    return undefined;
  };
  const resolveText = (text: string) => text.replace(PLACEHOLDER, (_m, i: string) => resolveRef(i) ?? '');
  visit(doc, {
    // A value that is exactly one reference: resolved here, where an unset one can drop its field.
    Pair(_key, pair) {
      const node = pair.value;
      if (!isScalar(node) || typeof node.value !== 'string') return undefined;
      const only = ONLY_PLACEHOLDER.exec(node.value);
      if (!only) return undefined;
      const v = resolveRef(only[1]!);
      if (v === undefined) return visit.REMOVE;
      node.value = v;
      return undefined;
    },
    // References inside longer strings, and sequence items (an unset one drops the item).
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('__SF_ENV_REF_')) return undefined;
      const only = ONLY_PLACEHOLDER.exec(node.value);
      if (only && resolveRef(only[1]!) === undefined) return visit.REMOVE;
      node.value = resolveText(node.value);
      return undefined;
    },
  });
}

function lineOf(doc: Document, lines: LineCounter, path: PropertyKey[]): number | undefined {
  for (let depth = path.length; depth > 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function formatIssues(issues: z.core.$ZodIssue[], file: string, doc?: Document, lines?: LineCounter): string {
  return issues
    .map((issue) => {
      const field = issue.path.length ? issue.path.join('.') : '(root)';
      const line = doc && lines ? lineOf(doc, lines, issue.path) : undefined;
      return `${file}${line ? `:${line}` : ''}: ${field}: ${issue.message}`;
    })
    .join('\n');
}

/** Configuration for a start without a config file: providers for whichever API keys are set. */
function configFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const providers: Record<string, unknown> = {};
  if (env.OPENAI_API_KEY) providers.openai = { type: 'openai', api_key: env.OPENAI_API_KEY, ...(env.OPENAI_BASE_URL ? { base_url: env.OPENAI_BASE_URL } : {}) };
  if (env.ANTHROPIC_API_KEY) providers.anthropic = { type: 'anthropic', api_key: env.ANTHROPIC_API_KEY };
  if (env.GEMINI_API_KEY) providers.google = { type: 'gemini', api_key: env.GEMINI_API_KEY };
  return { providers };
}

/** Settings that environment variables override whatever the file says. */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  if (env.SMARTFLOW_MASTER_KEY && raw.master_key === undefined) raw.master_key = env.SMARTFLOW_MASTER_KEY;
  // With both set, PostgreSQL is the system of record and Redis sits in front of it.
  if (env.DATABASE_URL && raw.store === undefined) raw.store = { type: 'postgres', url: env.DATABASE_URL, ...(env.REDIS_URL ? { redis: env.REDIS_URL } : {}) };
  if (env.REDIS_URL && raw.store === undefined) raw.store = { type: 'redis', url: env.REDIS_URL };
  if (env.SMARTFLOW_SECRET_KEY) {
    const secrets = (raw.secrets ?? {}) as Record<string, unknown>;
    if (secrets.key === undefined) raw.secrets = { ...secrets, key: env.SMARTFLOW_SECRET_KEY };
  }
  if (env.SMARTFLOW_WORKERS) {
    const server = (raw.server ?? {}) as Record<string, unknown>;
    const value = env.SMARTFLOW_WORKERS.trim();
    if (server.workers === undefined) raw.server = { ...server, workers: /^\d+$/.test(value) ? Number(value) : value };
  }
  if (env.SMARTFLOW_METRICS_TOKEN) {
    const metrics = (raw.metrics ?? {}) as Record<string, unknown>;
    if (metrics.token === undefined) raw.metrics = { ...metrics, token: env.SMARTFLOW_METRICS_TOKEN };
  }
}

/** Cross-field rules the schema cannot express: every model names a configured provider, the BYOK target an Anthropic one, and the MCP rules (mcp/config-issues.ts). */
function referenceIssues(config: GatewayConfig): z.core.$ZodIssue[] {
  const issues: z.core.$ZodIssue[] = [];
  config.models.forEach((m, i) => {
    if (!config.providers[m.provider]) {
      const known = Object.keys(config.providers);
      issues.push({
        code: 'custom',
        path: ['models', i, 'provider'],
        message: `unknown provider "${m.provider}"${known.length ? ` (configured: ${known.join(', ')})` : ' (no providers are configured)'}`,
        input: m.provider,
      });
    }
  });
  const byokProvider = config.passthrough.anthropic.byok_provider;
  if (byokProvider !== undefined && config.providers[byokProvider]?.type !== 'anthropic') {
    const known = Object.entries(config.providers).filter(([, p]) => p.type === 'anthropic').map(([name]) => name);
    issues.push({
      code: 'custom',
      path: ['passthrough', 'anthropic', 'byok_provider'],
      message: `unknown Anthropic provider "${byokProvider}"${known.length ? ` (configured: ${known.join(', ')})` : ' (no Anthropic providers are configured)'}`,
      input: byokProvider,
    });
  }
  issues.push(...mcpConfigIssues(config));
  return issues;
}

/**
 * The private folder of a `smartflow serve --workers N` cluster (each worker's internal socket),
 * handed to the workers by the primary; undefined outside a cluster. Not a user setting.
 */
export function clusterDirFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.SMARTFLOW_CLUSTER_DIR || undefined;
}

/** The master key exported as SMARTFLOW_MASTER_KEY, if any (the demo honours it too). */
export function masterKeyFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.SMARTFLOW_MASTER_KEY || undefined;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const explicit = options.path ?? env.SMARTFLOW_CONFIG;
  const path = explicit ? resolve(explicit) : existsSync('smartflow.yaml') ? resolve('smartflow.yaml') : null;
  const missing = new Set<string>();

  if (!path) {
    const raw = configFromEnv(env);
    applyEnvOverrides(raw, env);
    const parsed = configSchema.safeParse(raw);
    if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, 'environment'));
    return { config: parsed.data, source: null, missingEnv: [] };
  }

  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const lines = new LineCounter();
  const protectedText = protectEnvRefs(text);
  const doc = parseDocument(protectedText.text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = first.linePos?.[0]?.line;
    throw new ConfigError(`${path}${line ? `:${line}` : ''}: not valid YAML: ${first.message.split('\n')[0]}`);
  }
  interpolate(doc, protectedText.refs, env, missing);
  const raw = (doc.toJS() ?? {}) as unknown;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${path}: the top level must be a mapping`);
  applyEnvOverrides(raw as Record<string, unknown>, env);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, path, doc, lines));
  const refs = referenceIssues(parsed.data);
  if (refs.length) throw new ConfigError(formatIssues(refs, path, doc, lines));
  return { config: parsed.data, source: path, missingEnv: [...missing] };
}
