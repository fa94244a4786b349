import type { RequestLog } from '../core/request-log.js';
import type { GatewayConfig } from '../config/schema.js';
import { SecretBox, secretKeyFrom } from '../crypto/secret-box.js';
import { GatewayError } from '../errors/gateway-error.js';
import { timeOrderedId } from '../keys/key-material.js';
import type { Store, Unsubscribe, VersionedDoc } from '../storage/types.js';
import { updateDoc, type WriteOptions } from '../storage/update-doc.js';
import { applyServerUpdate, AUTH_SECRET_FIELDS, sealAuth, type McpServerRecord, type SealedField, type SecretField } from './server-record.js';
import { configServerId, MCP_TIMEOUT_MS, type McpAuth, serverProblem, transportOf, type ConfigServerInput, type CreateServerInput, type McpStartMode, type McpTransport, type UpdateServerInput } from './server-schema.js';

const COLLECTION = 'mcp_servers';
/** alias -> `{ id }`; createDoc on it makes an alias claim atomic across instances. */
const ALIASES = 'mcp_server_aliases';
const CHANNEL = 'mcp-servers-changed';


/** A server as the gateway uses it: defaults applied, secrets in clear (never shown by the API). */
export interface McpServer {
  id: string;
  alias: string;
  transport: McpTransport;
  command: string | null;
  args: string[];
  env: Record<string, string>;
  cwd: string | null;
  url: string | null;
  headers: Record<string, string>;
  allowed_tools: string[];
  denied_tools: string[];
  description: string | null;
  timeout_ms: number;
  start: McpStartMode;
  /** Null: never shut down for being idle. */
  idle_timeout_ms: number | null;
  log_payloads: boolean;
  /** Client credentials with the secret in clear; null: none. */
  auth: McpAuth | null;
  allow_header_override: boolean;
}

export interface StoredMcpServer {
  server: McpServer;
  /** `config`: declared in smartflow.yaml (read-only through the API); `api`: kept in the store. */
  source: 'config' | 'api';
  /** Store version (the ETag); null for config servers. */
  version: number | null;
  created_at: number | null;
  created_by: string | null;
  updated_at: number | null;
  /** `headers.X` / `env.Y` values that did not decrypt (another secrets key): left out of `server`. */
  unreadable_secrets: string[];
}

interface IndexDoc {
  id: string;
}

interface Snapshot {
  byId: ReadonlyMap<string, StoredMcpServer>;
  byAlias: ReadonlyMap<string, StoredMcpServer>;
}

export interface McpServerRegistryDeps {
  store: Store;
  configServers: readonly ConfigServerInput[];
  /** `mcp.stdio_allowed_commands`: when set, the only commands a stdio server may run. */
  stdioAllowedCommands: readonly string[] | undefined;
  secrets: SecretBox;
  now: () => number;
  log: RequestLog;
}

/** `mcp_` ids contain `_`, aliases never do. */
const isId = (ref: string) => ref.startsWith('mcp_');

function notFound(ref: string): GatewayError {
  return new GatewayError('SF_ERR_NOT_FOUND', { message: `No MCP server with alias or id "${ref.slice(0, 100)}".` });
}

function invalid(param: string, message: string): GatewayError {
  return new GatewayError('SF_ERR_INVALID_REQUEST', { message: `${param}: ${message}`, param });
}

/**
 * MCP servers from smartflow.yaml and from the admin API (kept in the store). Lookups read an
 * immutable snapshot; an API change is written with compare-and-set, announced on pub/sub, and
 * every instance rebuilds its snapshot from the store. Aliases are claimed through an index
 * collection, so two instances cannot both give one alias away.
 */
export class McpServerRegistry {
  private snapshot: Snapshot = { byId: new Map(), byAlias: new Map() };
  private unsubscribe: Unsubscribe | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly configAliases: ReadonlySet<string>;

  constructor(private readonly deps: McpServerRegistryDeps) {
    this.configAliases = new Set(deps.configServers.map((s) => s.alias));
  }

  /** Loads the servers; throws if smartflow.yaml declares a stdio command the allow-list refuses (a config built without loadConfig). */
  async start(): Promise<void> {
    for (const [i, def] of this.deps.configServers.entries()) {
      try {
        this.checkCommand(transportOf(def), def.command);
      } catch (err) {
        throw new Error(`mcp_servers[${i}].${(err as GatewayError).message}`);
      }
    }
    await this.reload();
    this.unsubscribe = await this.deps.store.subscribe(CHANNEL, () => {
      this.reload().catch((err: unknown) => this.deps.log.error({ err }, 'could not reload MCP servers'));
    });
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Called after every snapshot swap (a local write or one announced by another instance). */
  onChange(listener: () => void): Unsubscribe {
    this.listeners.add(listener);
    return async () => {
      this.listeners.delete(listener);
    };
  }

  /** Every server, ordered by alias. */
  list(): StoredMcpServer[] {
    return [...this.snapshot.byAlias.values()].sort((a, b) => (a.server.alias < b.server.alias ? -1 : 1));
  }

  /** By id (`mcp_…`) or alias. */
  get(ref: string): StoredMcpServer | undefined {
    return isId(ref) ? this.snapshot.byId.get(ref) : this.snapshot.byAlias.get(ref);
  }

  require(ref: string): StoredMcpServer {
    const found = this.get(ref);
    if (!found) throw notFound(ref);
    return found;
  }

  async create(input: CreateServerInput, actor: string): Promise<StoredMcpServer> {
    this.checkCommand(transportOf(input), input.command);
    if (this.configAliases.has(input.alias)) throw this.aliasTaken(input.alias);
    const now = this.deps.now();
    const id = timeOrderedId('mcp_', now);
    const record: McpServerRecord = {
      id,
      alias: input.alias,
      transport: transportOf(input),
      ...(input.command !== undefined ? { command: input.command } : {}),
      ...(input.args !== undefined ? { args: input.args } : {}),
      ...(input.env !== undefined ? { env: this.sealAll(id, 'env', input.env) } : {}),
      ...(input.cwd !== undefined ? { cwd: input.cwd } : {}),
      ...(input.url !== undefined ? { url: input.url } : {}),
      ...(input.headers !== undefined ? { headers: this.sealAll(id, 'headers', input.headers) } : {}),
      ...(input.allowed_tools !== undefined ? { allowed_tools: input.allowed_tools } : {}),
      ...(input.denied_tools !== undefined ? { denied_tools: input.denied_tools } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.timeout_ms !== undefined ? { timeout_ms: input.timeout_ms } : {}),
      ...(input.start !== undefined ? { start: input.start } : {}),
      ...(input.idle_timeout_ms !== undefined ? { idle_timeout_ms: input.idle_timeout_ms } : {}),
      ...(input.log_payloads !== undefined ? { log_payloads: input.log_payloads } : {}),
      ...(input.auth !== undefined ? { auth: sealAuth(input.auth, undefined, (field, name, value) => this.seal(id, field, name, value)) } : {}),
      ...(input.allow_header_override !== undefined ? { allow_header_override: input.allow_header_override } : {}),
      created_at: now,
      created_by: actor,
      updated_at: now,
    };
    // The alias is claimed first: a duplicate then leaves nothing behind.
    await this.claimAlias(record.alias, id);
    let created = false;
    try {
      created = await this.deps.store.createDoc(COLLECTION, id, record);
    } finally {
      if (!created) await this.releaseAlias(record.alias, id);
    }
    if (!created) throw new GatewayError('SF_ERR_CONFLICT', { message: 'Two servers were given one id at once; retry.' });
    await this.changed();
    return this.require(id);
  }

  /**
   * Applies a PATCH with compare-and-set. A rename claims the new alias before the write and
   * releases the old one after it; the id stays, so references by id keep working.
   */
  async update(ref: string, input: UpdateServerInput, options: WriteOptions = {}): Promise<StoredMcpServer> {
    const current = await this.requireApiRecord(ref);
    const id = current.doc.id;
    // An alias equal to the one read is no change: re-applying it over a concurrent rename would
    // point the record at an alias whose index entry that rename released.
    const { alias, ...rest } = input;
    const changes: UpdateServerInput = alias !== undefined && alias !== current.doc.alias ? { ...rest, alias } : rest;
    const claimed = changes.alias ?? null;
    if (claimed !== null) {
      if (this.configAliases.has(claimed)) throw this.aliasTaken(claimed);
      await this.claimAlias(claimed, id);
    }
    let result;
    try {
      result = await updateDoc<McpServerRecord>(
        this.deps.store,
        COLLECTION,
        id,
        (record) => {
          if (record.deleted_at !== undefined) throw notFound(ref);
          const next = applyServerUpdate(record, changes, this.deps.now(), (field, name, value) => this.seal(id, field, name, value));
          const problem = serverProblem(next);
          if (problem) throw invalid(problem.param, problem.message);
          this.checkCommand(next.transport, next.command);
          return next;
        },
        options,
      );
    } catch (err) {
      if (claimed !== null) await this.releaseAlias(claimed, id);
      throw err;
    }
    if (!result) {
      if (claimed !== null) await this.releaseAlias(claimed, id);
      throw notFound(ref);
    }
    if (result.before.alias !== result.after.alias) await this.releaseAlias(result.before.alias, id);
    await this.changed();
    return this.require(id);
  }

  /**
   * Marks the record deleted with compare-and-set (so `If-Match` holds and a concurrent rename is
   * seen), releases the alias the record had at that moment, then removes it.
   */
  async delete(ref: string, options: WriteOptions = {}): Promise<Pick<McpServer, 'id' | 'alias'>> {
    const current = await this.requireApiRecord(ref);
    const id = current.doc.id;
    const now = this.deps.now();
    const result = await updateDoc<McpServerRecord>(
      this.deps.store,
      COLLECTION,
      id,
      (record) => {
        if (record.deleted_at !== undefined) throw notFound(ref);
        return { ...record, deleted_at: now };
      },
      options,
    );
    if (!result) throw notFound(ref);
    await this.releaseAlias(result.after.alias, id);
    await this.deps.store.deleteDoc(COLLECTION, id);
    await this.changed();
    return { id, alias: result.before.alias };
  }

  /** The stored record of an API server; config servers are refused, unknown ones are 404. */
  private async requireApiRecord(ref: string): Promise<VersionedDoc<McpServerRecord>> {
    const known = this.get(ref);
    if (known?.source === 'config') throw invalid('alias', `the MCP server "${known.server.alias}" is declared in smartflow.yaml; change it there`);
    // The store, not the snapshot, decides: a server another instance made a moment ago is found too.
    const id = isId(ref) ? ref : (await this.deps.store.getDoc<IndexDoc>(ALIASES, ref))?.id;
    const found = id === undefined ? undefined : await this.deps.store.getVersionedDoc<McpServerRecord>(COLLECTION, id);
    if (!found || found.doc.deleted_at !== undefined || (!isId(ref) && found.doc.alias !== ref)) throw notFound(ref);
    return found;
  }

  private checkCommand(transport: McpTransport, command: string | null | undefined): void {
    const allowed = this.deps.stdioAllowedCommands;
    if (transport !== 'stdio' || allowed === undefined || command === undefined || command === null) return;
    if (!allowed.includes(command)) throw invalid('command', `"${command.slice(0, 200)}" is not in mcp.stdio_allowed_commands`);
  }

  private aliasTaken(alias: string): GatewayError {
    return invalid('alias', `the alias "${alias}" is already used by another MCP server`);
  }

  private async claimAlias(alias: string, id: string): Promise<void> {
    if (!(await this.deps.store.createDoc<IndexDoc>(ALIASES, alias, { id }))) throw this.aliasTaken(alias);
  }

  private async releaseAlias(alias: string, id: string): Promise<void> {
    const owner = await this.deps.store.getDoc<IndexDoc>(ALIASES, alias);
    if (owner?.id === id) await this.deps.store.deleteDoc(ALIASES, alias);
  }

  private seal(id: string, field: SealedField, name: string, value: string): string {
    return this.deps.secrets.seal(value, `${id}/${field}/${name}`);
  }

  private sealAll(id: string, field: SecretField, values: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, this.seal(id, field, name, value)]));
  }

  private async changed(): Promise<void> {
    await this.reload();
    await this.deps.store.publish(CHANNEL, '1');
  }

  private async reload(): Promise<void> {
    const byId = new Map<string, StoredMcpServer>();
    const byAlias = new Map<string, StoredMcpServer>();
    const add = (stored: StoredMcpServer) => {
      byId.set(stored.server.id, stored);
      byAlias.set(stored.server.alias, stored);
    };
    for (const def of this.deps.configServers) add(configEntry(def));
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listDocs<McpServerRecord>(COLLECTION, { limit: 500, ...(cursor ? { cursor } : {}) });
      for (const { doc, version } of page.items) {
        // A config server keeps its alias: the file wins over the store.
        if (doc.deleted_at !== undefined || byAlias.has(doc.alias) || byId.has(doc.id)) continue;
        add({ ...this.toServer(doc), version });
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    this.snapshot = { byId, byAlias };
    for (const listener of this.listeners) listener();
  }

  /** The record with its secrets opened; values that do not open are left out and named. */
  private toServer(record: McpServerRecord): Omit<StoredMcpServer, 'version'> {
    const unreadable: string[] = [];
    const open = (field: SecretField): Record<string, string> => {
      const out: Record<string, string> = {};
      for (const [name, sealed] of Object.entries(record[field] ?? {})) {
        try {
          out[name] = this.deps.secrets.open(sealed, `${record.id}/${field}/${name}`);
        } catch {
          unreadable.push(`${field}.${name}`);
        }
      }
      return out;
    };
    const env = open('env');
    const headers = open('headers');
    let auth: McpAuth | null = record.auth ?? null;
    for (const field of AUTH_SECRET_FIELDS) {
      const sealed = (record.auth as Partial<Record<string, string>> | undefined)?.[field];
      if (sealed === undefined || auth === null) continue;
      try {
        auth = { ...auth, [field]: this.deps.secrets.open(sealed, `${record.id}/auth/${field}`) } as McpAuth;
      } catch {
        unreadable.push(`auth.${field}`);
        auth = null;
      }
    }
    if (unreadable.length) this.deps.log.warn({ mcp_server: record.alias, id: record.id, fields: unreadable }, 'MCP server secrets did not decrypt (was secrets.key or the master key changed?)');
    return {
      server: {
        id: record.id,
        alias: record.alias,
        transport: record.transport,
        command: record.command ?? null,
        args: record.args ?? [],
        env,
        cwd: record.cwd ?? null,
        url: record.url ?? null,
        headers,
        allowed_tools: record.allowed_tools ?? [],
        denied_tools: record.denied_tools ?? [],
        description: record.description ?? null,
        timeout_ms: record.timeout_ms ?? MCP_TIMEOUT_MS.default,
        start: record.start ?? 'lazy',
        idle_timeout_ms: record.idle_timeout_ms ?? null,
        log_payloads: record.log_payloads ?? false,
        auth,
        allow_header_override: record.allow_header_override ?? false,
      },
      source: 'api',
      created_at: record.created_at,
      created_by: record.created_by,
      updated_at: record.updated_at,
      unreadable_secrets: unreadable,
    };
  }
}

function configEntry(def: ConfigServerInput): StoredMcpServer {
  return {
    server: {
      id: configServerId(def),
      alias: def.alias,
      transport: transportOf(def),
      command: def.command ?? null,
      args: def.args ?? [],
      env: def.env ?? {},
      cwd: def.cwd ?? null,
      url: def.url ?? null,
      headers: def.headers ?? {},
      allowed_tools: def.allowed_tools ?? [],
      denied_tools: def.denied_tools ?? [],
      description: def.description ?? null,
      timeout_ms: def.timeout_ms ?? MCP_TIMEOUT_MS.default,
      start: def.start ?? 'lazy',
      idle_timeout_ms: def.idle_timeout_ms ?? null,
      log_payloads: def.log_payloads ?? false,
      auth: def.auth ?? null,
      allow_header_override: def.allow_header_override ?? false,
    },
    source: 'config',
    version: null,
    created_at: null,
    created_by: null,
    updated_at: null,
    unreadable_secrets: [],
  };
}

/** The registry for a config, started (servers loaded, listening for changes from other instances). */
export async function startMcpServerRegistry(deps: { config: GatewayConfig; store: Store; now: () => number; log: RequestLog }): Promise<McpServerRegistry> {
  const { config } = deps;
  if (!config.master_key) throw new Error('master_key is required');
  const secrets = new SecretBox(secretKeyFrom({ key: config.secrets.key, masterKey: config.master_key }));
  const registry = new McpServerRegistry({ store: deps.store, configServers: config.mcp_servers, stdioAllowedCommands: config.mcp.stdio_allowed_commands, secrets, now: deps.now, log: deps.log });
  await registry.start();
  return registry;
}
