import { z } from 'zod';
import { cacheConfigSchema } from '../cache/cache-config.js';
import { isValidTimeZone } from '../keys/budget-period.js';
import { configServerSchema, mcpConfigSchema } from '../mcp/server-schema.js';
import { ssoSettingsSchema } from '../identity/sso-config.js';
import { toolSearchConfigSchema } from '../toolsearch/config.js';
import { a2aConfigSchema } from '../a2a/a2a-config.js';
import { createAgentSchema } from '../a2a/agent-schema.js';
import { guardrailSchema } from '../guardrails/guardrail-schema.js';
import { policySchema } from '../policies/policy-schema.js';
import { chainSchema, DEFAULT_RETRY_ON, retryCondition, retryPolicySchema } from '../routing/chain-schema.js';

/** The shape of smartflow.yaml, with defaults. Every field a user can set is here and documented in docs/configuration.md. */

/** Token prices for deployments that have none of their own (docs/virtual-keys.md, "Unpriced models"). */
export const defaultPriceSchema = z.strictObject({
  input_cost_per_mtok: z.number().nonnegative(),
  output_cost_per_mtok: z.number().nonnegative(),
});

/** Server tool kinds (`web_search`, `web_fetch` ...) to USD per call. */
const perCallPrices = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a server tool kind such as web_search'), z.number().nonnegative());

const providerName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'provider names are lower-case letters, digits, "-" or "_"');

export const providerSchema = z.strictObject({
  type: z.enum(['openai', 'anthropic', 'gemini', 'demo']),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
  api_key: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  forward_headers: z.array(z.string().regex(/^[a-z0-9-]+\*?$/i, 'a header name, or a prefix ending in "*"')).default([]),
  auth_header: z.enum(['authorization', 'api-key']).optional(),
  /** Query parameters on every upstream URL (Azure OpenAI's api-version). */
  query: z.record(z.string(), z.string()).default({}),
  timeout_ms: z.number().int().positive().default(600_000),
  /** Prices for this provider's models that have none (no `models` price, not in the catalogue); wins over `budgets.default_price`. */
  default_price: defaultPriceSchema.optional(),
  /** OpenAI-compatible providers: `native` sends /v1/responses requests to the provider's own /responses; `chat` translates them to chat completions (servers without a Responses API: older vLLM, Ollama). */
  responses_api: z.enum(['native', 'chat']).default('native'),
});

export const modelSchema = z.strictObject({
  name: z.string().min(1).max(200),
  provider: providerName,
  model: z.string().min(1).max(200),
  mode: z.enum(['chat', 'embedding']).optional(),
  input_cost_per_mtok: z.number().nonnegative().optional(),
  output_cost_per_mtok: z.number().nonnegative().optional(),
  cached_input_cost_per_mtok: z.number().nonnegative().optional(),
  cache_write_cost_per_mtok: z.number().nonnegative().optional(),
  /** Prices of the whole request once its prompt exceeds `threshold_tokens` (long-context tier); replaces the catalogue's tier. */
  long_context: z
    .strictObject({
      threshold_tokens: z.number().int().positive(),
      input_cost_per_mtok: z.number().nonnegative(),
      output_cost_per_mtok: z.number().nonnegative(),
      cached_input_cost_per_mtok: z.number().nonnegative().optional(),
      cache_write_cost_per_mtok: z.number().nonnegative().optional(),
    })
    .optional(),
  /** USD per call of billable server tools, by kind; merged over the catalogue's prices for the provider type. */
  server_tool_cost_per_call: perCallPrices.optional(),
  max_output_tokens: z.number().int().positive().optional(),
  context_window: z.number().int().positive().optional(),
  description: z.string().optional(),
  /** Entries sharing a name form a load-balanced group; weight is this entry's share under `weighted`. */
  weight: z.number().positive().max(1_000_000).default(1),
});

export const balanceStrategy = z.enum(['weighted', 'round_robin', 'least_in_flight', 'lowest_latency']);

export const storeSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('sqlite'), path: z.string().min(1).default('./data/smartflow.db') }),
  z.strictObject({
    type: z.literal('redis'),
    url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL'),
    prefix: z.string().default('sf:'),
    /** Spend-log rows the Redis stream keeps; older ones are removed, counted and logged (docs/observability.md). */
    spend_log_max_rows: z.number().int().positive().default(1_000_000),
  }),
  z.strictObject({
    type: z.literal('postgres'),
    url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL'),
    /** The schema that holds the gateway's tables; created on first start. */
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL identifier: letters, digits and _, not starting with a digit')
      .default('smartflow'),
    /** Connections each gateway process keeps to the database. */
    pool_size: z.number().int().min(1).max(1000).default(10),
    /** Redis in front of PostgreSQL for counters, the response cache and pub/sub (docs/storage.md). */
    redis: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').optional(),
    /** Prefix of every Redis key, with `redis`. */
    redis_prefix: z.string().default('sf:'),
  }),
]);

/** How long the daily spend rollups are kept by default: two years of /api/spend/keys and /teams. */
const DEFAULT_ROLLUP_RETENTION_DAYS = 730;

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(4000),
      /** Largest accepted request body. */
      body_limit_bytes: z.number().int().positive().default(20 * 1024 * 1024),
      /** How long SIGTERM waits for in-flight requests before closing them. */
      shutdown_grace_ms: z.number().int().nonnegative().default(30_000),
      /**
       * Processes `smartflow serve` runs (node:cluster, one listening socket): `auto` is one per
       * core; 1 is a single process without a cluster primary. `--workers` wins, then this key,
       * then SMARTFLOW_WORKERS.
       */
      workers: z.union([z.literal('auto'), z.number().int().min(1).max(1024)]).default('auto'),
    })
    .prefault({}),
  master_key: z.string().min(8, 'the master key must be at least 8 characters').optional(),
  store: storeSchema.default({ type: 'sqlite', path: './data/smartflow.db' }),
  providers: z.record(providerName, providerSchema).default({}),
  models: z.array(modelSchema).default([]),
  spend_log: z
    .strictObject({
      flush_interval_ms: z.number().int().positive().default(1000),
      batch_size: z.number().int().positive().default(500),
      /** Records kept in memory while the store is unreachable, before the oldest are dropped. */
      max_buffer: z.number().int().positive().default(100_000),
      /** Rows older than this many days are deleted in the background (docs/observability.md#retention); 0 keeps every row. */
      retention_days: z.number().int().min(0).max(36_500).default(90),
      /**
       * Daily rollups (totals per UTC day, key, team and model: what /api/spend/keys and /teams
       * read for whole days) older than this many days are deleted; 0 keeps them. Default: 730, or
       * retention_days when longer; 0 when retention_days is 0 (docs/configuration.md#spend_log).
       */
      rollup_retention_days: z.number().int().min(0).max(36_500).optional(),
    })
    .superRefine((s, ctx) => {
      const days = s.rollup_retention_days;
      if (days === undefined || days === 0 || (s.retention_days !== 0 && days >= s.retention_days)) return;
      // Summaries read whole days from the rollups alone: raw rows that outlived them would drop out.
      ctx.addIssue({
        code: 'custom',
        path: ['rollup_retention_days'],
        message:
          s.retention_days === 0
            ? 'must be 0 or left out while retention_days is 0 (every raw row kept): /api/spend/keys and /teams read whole days from the rollups, so deleting them would drop those days'
            : `(${days}) must be at least retention_days (${s.retention_days}), or 0 to keep the rollups: /api/spend/keys and /teams read whole days from them, so raw rows that outlived them would drop out`,
      });
    })
    .transform((s) => ({ ...s, rollup_retention_days: s.rollup_retention_days ?? (s.retention_days === 0 ? 0 : Math.max(DEFAULT_ROLLUP_RETENTION_DAYS, s.retention_days)) }))
    .prefault({}),
  routing: z
    .strictObject({
      /** How a model group (several `models` entries with one name) picks a deployment. */
      strategy: balanceStrategy.default('weighted'),
      /** Per-group strategies, by model name. */
      groups: z.record(z.string(), z.strictObject({ strategy: balanceStrategy })).default({}),
      /** Retries for requests that use no chain: by default one attempt per deployment (a group still falls over to its other deployments). */
      retry: retryPolicySchema.prefault({}),
      retry_on: z.array(retryCondition).max(50).default(DEFAULT_RETRY_ON),
      /** A deployment failing `failures` times within `window_ms` is skipped for `cooldown_ms`, on every instance. */
      cooldown: z
        .strictObject({
          failures: z.number().int().min(1).max(1000).default(3),
          window_ms: z.number().int().positive().default(60_000),
          cooldown_ms: z.number().int().nonnegative().default(30_000),
        })
        .prefault({}),
      fallback_chains: z.array(chainSchema).default([]),
    })
    .prefault({}),
  passthrough: z
    .strictObject({
      anthropic: z
        .strictObject({
          /** Callers on /anthropic may send their own Anthropic key in x-api-key (with a gateway key as Bearer). */
          allow_byok: z.boolean().default(false),
          /** The provider callers' own keys are meant for (default: the first `anthropic` provider); they go only to providers at its base_url. */
          byok_provider: providerName.optional(),
          /** A route target that may not receive a caller's own key: `skip` it, or call it with its own configured key (`provider_key`). */
          byok_fallback: z.enum(['skip', 'provider_key']).default('skip'),
        })
        .prefault({}),
    })
    .prefault({}),
  budgets: z
    .strictObject({
      /** IANA time zone in which daily, weekly and monthly budget periods start at midnight. */
      timezone: z.string().refine(isValidTimeZone, 'an IANA time zone such as UTC or Europe/Berlin').default('UTC'),
      /** Output tokens reserved for a request without max_tokens to a model whose output limit is unknown. */
      default_max_output_tokens: z.number().int().positive().default(4096),
      /**
       * Prices for deployments without one (a `provider/model` name or a catalogue family the
       * catalogue does not list). Without it, budgeted keys are refused such models.
       */
      default_price: defaultPriceSchema.optional(),
      /** Calls reserved per billable server tool a request declares without `max_uses`. */
      max_server_tool_calls: z.number().int().positive().max(10_000).default(20),
      /** Budget allowances: blocks of a budget a process reserves at once and serves requests from (docs/virtual-keys.md#allowances). */
      allowance: z
        .strictObject({
          /** Worst-case requests one block holds; 0 reserves every request in the store. */
          requests: z.number().int().nonnegative().max(10_000).default(64),
          /** A block is held only while the budget left after it is at least this many blocks. */
          headroom: z.number().int().min(1).max(10_000).default(16),
          /** How often spend settled from blocks is written to the store. */
          sync_ms: z.number().int().min(10).max(60_000).default(250),
          /** A block no request has drawn from for this long is given back. */
          idle_ms: z.number().int().min(100).max(600_000).default(2000),
        })
        .prefault({}),
    })
    .prefault({}),
  virtual_keys: z
    .strictObject({
      /** How long a key lookup is trusted without an invalidation message from another instance. */
      cache_ttl_ms: z.number().int().nonnegative().default(60_000),
      /** Cached key lookups (known and unknown keys) kept in memory per instance. */
      cache_max_entries: z.number().int().positive().default(100_000),
    })
    .prefault({}),
  /** Response caching (docs/caching.md). */
  cache: cacheConfigSchema.prefault({}),
  /** Who may read GET /metrics (docs/observability.md). */
  metrics: z
    .strictObject({
      /** `open`: anyone; `master_key`: admins only; `token`: the metrics token, and admins. Unset: `token` when a token is set, else `master_key`. */
      auth: z.enum(['open', 'master_key', 'token']).optional(),
      /** A bearer token only for reading metrics (also SMARTFLOW_METRICS_TOKEN), so a scraper needs no admin key. */
      token: z.string().min(16, 'the metrics token must be at least 16 characters').optional(),
    })
    .prefault({})
    .refine((m) => m.auth !== 'token' || m.token !== undefined, { message: 'auth "token" needs metrics.token (or SMARTFLOW_METRICS_TOKEN)', path: ['token'] }),
  /** MCP servers declared here are read-only through the API (docs/mcp.md). */
  mcp_servers: z.array(configServerSchema).default([]),
  mcp: mcpConfigSchema.prefault({}),
  /** Single sign-on with Entra ID or another OIDC IdP (docs/sso.md); set here, it is read-only through the API. */
  sso: ssoSettingsSchema.optional(),
  /** Search over every MCP server's tools (docs/tool-search.md). */
  toolsearch: toolSearchConfigSchema.prefault({}),
  /** A2A agents declared here are read-only through the API (docs/a2a.md). */
  agents: z.array(createAgentSchema).default([]),
  a2a: a2aConfigSchema.prefault({}),
  /** Guardrails and policies declared here are read-only through the admin API (docs/guardrails.md); attachments are made through the API. */
  guardrails: z.array(guardrailSchema).default([]),
  policies: z.array(policySchema).default([]),
  /** Secrets at rest (MCP header and env values): AES-256-GCM under this key, else one derived from the master key. */
  secrets: z
    .strictObject({
      /** 32 bytes as 64 hex digits or base64 (also SMARTFLOW_SECRET_KEY). */
      key: z.string().min(1).optional(),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** One info line per request (id, model, status, latency). */
      access_log: z.boolean().default(true),
    })
    .prefault({}),
});

export type GatewayConfig = z.infer<typeof configSchema>;
export type ProviderSettings = z.infer<typeof providerSchema>;
export type ModelSettings = z.infer<typeof modelSchema>;
