import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { storeSchema } from '../config/schema.js';
import { UsageError } from './usage-error.js';
import type { StoreConfig } from '../storage/index.js';

/** A store named on the `migrate` command line. */
export interface StoreArg {
  config: StoreConfig;
  /**
   * The store without credentials, e.g. `postgres://db:5432/gw (schema smartflow)`: what is
   * printed, and how a target's progress marker names the source it came from.
   */
  name: string;
  /** What must never be printed: the URL's password, raw and percent-decoded. */
  secrets: string[];
}

export interface StoreArgOptions {
  /** `--from-prefix` / `--to-prefix`: Redis, or the Redis in front of PostgreSQL. */
  prefix?: string | undefined;
  /** `--from-schema` / `--to-schema`: PostgreSQL only. */
  schema?: string | undefined;
  /** `--from-redis` / `--to-redis`: the Redis in front of a PostgreSQL store (`store.redis`). */
  redis?: string | undefined;
}

const FORMS = 'sqlite:PATH, redis://HOST[:PORT][/DB] (or rediss://) or postgres://HOST[:PORT]/DATABASE (or postgresql://)';

/**
 * The URL's password, as written and percent-decoded (a driver may report either). Not the user
 * name: "postgres" would blank out every postgres:// printed.
 */
function passwordsOf(url: URL): string[] {
  if (url.password === '') return [];
  try {
    return [...new Set([url.password, decodeURIComponent(url.password)])].sort((a, b) => b.length - a.length);
  } catch {
    // A malformed escape: the raw form is all there is.
    return [url.password];
  }
}

/** The store's address with credentials, query and fragment dropped; postgresql: spelled postgres: so both name one source. */
function addressOf(url: URL): string {
  const scheme = url.protocol === 'postgresql:' ? 'postgres:' : url.protocol;
  return `${scheme}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/**
 * Reads a `--from`/`--to` value. Never quotes a URL it rejects: it may hold a password.
 * `flag` names the argument in messages (`--from`).
 */
export function parseStoreArg(flag: string, value: string | undefined, options: StoreArgOptions = {}): StoreArg {
  if (value === undefined || value === '') throw new UsageError(`migrate needs ${flag}: ${FORMS}`);
  const side = flag.replace(/^--/, '');
  const refuse = (option: 'prefix' | 'schema' | 'redis', kind: string): void => {
    if (options[option] !== undefined) throw new UsageError(`--${side}-${option} applies to a ${kind} store only`);
  };

  if (value.startsWith('sqlite:')) {
    refuse('redis', 'postgres://');
    refuse('prefix', 'redis://');
    refuse('schema', 'postgres://');
    const path = value.slice('sqlite:'.length);
    if (path === '' || path === ':memory:') throw new UsageError(`${flag}: sqlite: needs the path of a database file, e.g. sqlite:./data/smartflow.db`);
    let absolute = resolve(path);
    try {
      // One file reached through a symlink or another relative path is one source.
      absolute = realpathSync(absolute);
    } catch {
      // Not there yet (a target): its resolved path names it.
    }
    return { config: { type: 'sqlite', path }, name: `sqlite:${absolute}`, secrets: [] };
  }

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} is not a store: use ${FORMS}`);
  }
  const secrets = passwordsOf(url);
  if (url.protocol === 'redis:' || url.protocol === 'rediss:') {
    refuse('schema', 'postgres://');
    refuse('redis', 'postgres://');
    const parsed = storeSchema.safeParse({ type: 'redis', url: value, ...(options.prefix !== undefined ? { prefix: options.prefix } : {}) });
    if (!parsed.success || parsed.data.type !== 'redis') throw new UsageError(`${flag} is not a Redis URL: use ${FORMS}`);
    return { config: parsed.data, name: `${addressOf(url)} (prefix ${parsed.data.prefix})`, secrets };
  }
  if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') {
    if (options.redis === undefined) refuse('prefix', 'redis:// (or postgres:// with --' + side + '-redis)');
    const parsed = storeSchema.safeParse({
      type: 'postgres',
      url: value,
      ...(options.schema !== undefined ? { schema: options.schema } : {}),
      ...(options.redis !== undefined ? { redis: options.redis } : {}),
      ...(options.prefix !== undefined ? { redis_prefix: options.prefix } : {}),
    });
    if (!parsed.success || parsed.data.type !== 'postgres') {
      const issue = parsed.success ? undefined : parsed.error.issues[0];
      if (issue?.path[0] === 'schema') throw new UsageError(`--${side}-schema: ${issue.message}`);
      if (issue?.path[0] === 'redis') throw new UsageError(`--${side}-redis is not a Redis URL: use redis://HOST[:PORT][/DB] or rediss://`);
      throw new UsageError(`${flag} is not a PostgreSQL URL: use ${FORMS}`);
    }
    let name = `${addressOf(url)} (schema ${parsed.data.schema})`;
    if (parsed.data.redis !== undefined) {
      // The Redis in front is part of the store: its password is a secret too.
      const redisUrl = new URL(parsed.data.redis);
      secrets.push(...passwordsOf(redisUrl));
      secrets.sort((a, b) => b.length - a.length);
      name += ` + ${addressOf(redisUrl)} (prefix ${parsed.data.redis_prefix})`;
    }
    return { config: parsed.data, name, secrets };
  }
  throw new UsageError(`${flag} is not a store: use ${FORMS}`);
}
