import { z } from 'zod';

/** zod schemas for MCP server definitions, shared by smartflow.yaml (`mcp_servers:`) and the admin API. */

/** Short, stable, URL- and prefix-safe: no `_`, so the first `_` of `{alias}_{tool}` splits an aggregated tool name. */
export const MCP_ALIAS = /^[a-z][a-z0-9-]{0,31}$/;
export const mcpAlias = z.string().regex(MCP_ALIAS, 'an alias is 1-32 lower-case letters, digits or "-", starting with a letter');

/** Generated ids (`mcp_…`) contain `_`, which no alias may: a path segment is one or the other. */
export const mcpServerId = z.string().regex(/^mcp_[a-z0-9_-]{1,60}$/, 'a server id is "mcp_" and 1-60 lower-case letters, digits, "_" or "-"');

export const MCP_TRANSPORTS = ['stdio', 'sse', 'streamable-http', 'auto'] as const;
export type McpTransport = (typeof MCP_TRANSPORTS)[number];

/** Tool names are `[A-Za-z0-9_.-]` by the spec's advice; `:` seen in the wild; `*` matches any run of characters. */
export const toolPattern = z.string().regex(/^[A-Za-z0-9_.:*-]{1,128}$/, 'a tool name or pattern: 1-128 letters, digits, "_", ".", ":", "-" or "*"');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name');
/** Headers the transport itself owns; a static value would break the session or the framing. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'content-type', 'accept', 'connection', 'transfer-encoding', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id']);
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, 'an HTTP header name')
  .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), 'this header is set by the MCP transport itself');
const secretValue = z.string().max(8192).refine((v) => !/[\r\n\0]/.test(v), 'no line breaks or NUL');

const httpUrl = z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).max(2048);

/** A private key for `private_key_jwt`: PEM (PKCS#8) or a JWK as JSON; PEM spans lines. */
const privateKeyValue = z.string().min(1).max(16384).refine((v) => !v.includes('\0'), 'no NUL');

/** Client assertion signing algorithms (RFC 7518 asymmetric ones). */
export const ASSERTION_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4): the gateway gets a token for the server itself.
 * `token_url`, or `issuer` to find it through RFC 8414 / OIDC discovery. The client
 * authenticates with `client_secret_basic` (default) or `private_key_jwt` (RFC 7523, a signed
 * assertion). `client_secret` and `private_key` are encrypted at rest and never shown by the API.
 */
export const clientCredentialsAuthSchema = z
  .strictObject({
    type: z.literal('oauth2_client_credentials'),
    token_url: httpUrl.optional(),
    issuer: httpUrl.optional(),
    client_id: z.string().min(1).max(1024),
    token_endpoint_auth_method: z.enum(['client_secret_basic', 'private_key_jwt'], 'token_endpoint_auth_method must be client_secret_basic or private_key_jwt').optional(),
    client_secret: secretValue.pipe(z.string().min(1, 'client_secret is required')).optional(),
    /** private_key_jwt: PEM (PKCS#8) or JWK JSON. */
    private_key: privateKeyValue.optional(),
    /** private_key_jwt: the `kid` header of the assertion (the key's id in the client's registered JWKS). */
    kid: z.string().min(1).max(256).optional(),
    /** private_key_jwt: the signing algorithm (default RS256). */
    alg: z.enum(ASSERTION_ALGS, `alg must be one of ${ASSERTION_ALGS.join(', ')}`).optional(),
    /** private_key_jwt: the assertion's `aud` (default: the issuer when configured, else the token URL). */
    assertion_audience: z.string().min(1).max(2048).optional(),
    scope: z.string().max(2048).optional(),
    /** RFC 8707 resource indicator sent with the token request (the token's audience at most IdPs). */
    resource: httpUrl.optional(),
    /** Auth0-style `audience` form field, for IdPs that use it instead of `resource`. */
    audience: z.string().max(2048).optional(),
  })
  .refine((a) => a.token_url !== undefined || a.issuer !== undefined, { message: 'auth needs token_url or issuer', path: ['token_url'] })
  .refine((a) => a.token_endpoint_auth_method === 'private_key_jwt' || a.client_secret !== undefined, { message: 'client_secret is required', path: ['client_secret'] })
  .refine((a) => a.token_endpoint_auth_method !== 'private_key_jwt' || a.private_key !== undefined, { message: 'private_key_jwt needs private_key', path: ['private_key'] });

export type ClientCredentialsAuth = z.infer<typeof clientCredentialsAuthSchema>;

/**
 * OAuth 2.0 authorization code with PKCE, one consent per user (docs/mcp-auth.md). Every field
 * but the type may be left out: the MCP authorization discovery (401 → RFC 9728 → RFC 8414/OIDC)
 * finds the endpoints, and dynamic client registration (RFC 7591) a client.
 */
export const authorizationCodeAuthSchema = z.strictObject({
  type: z.literal('oauth2_authorization_code'),
  issuer: httpUrl.optional(),
  authorization_url: httpUrl.optional(),
  token_url: httpUrl.optional(),
  client_id: z.string().min(1).max(1024).optional(),
  /** Confidential clients only; encrypted at rest, never shown by the API. */
  client_secret: secretValue.pipe(z.string().min(1)).optional(),
  /** Space-separated; default: the `scope` of the server's 401, else its metadata's `scopes_supported`. */
  scope: z.string().max(2048).optional(),
  /** RFC 8707 resource; default: the server's URL. */
  resource: httpUrl.optional(),
});
export type AuthorizationCodeAuth = z.infer<typeof authorizationCodeAuthSchema>;

export const mcpAuthSchema = z.discriminatedUnion('type', [clientCredentialsAuthSchema, authorizationCodeAuthSchema]);
export type McpAuth = z.infer<typeof mcpAuthSchema>;

export const MCP_TIMEOUT_MS = { min: 100, max: 600_000, default: 60_000 } as const;
/** Idle shutdown bounds: at least a second (tests), at most a day. */
export const MCP_IDLE_TIMEOUT_MS = { min: 1000, max: 86_400_000 } as const;
export const MCP_START_MODES = ['lazy', 'eager'] as const;
export type McpStartMode = (typeof MCP_START_MODES)[number];

const fields = {
  alias: mcpAlias,
  /** Omitted: `stdio` with a command, else `auto` (Streamable HTTP, falling back to SSE). */
  transport: z.enum(MCP_TRANSPORTS, 'transport must be one of stdio, sse, streamable-http, auto').optional(),
  command: z.string().min(1).max(4096).optional(),
  args: z.array(z.string().max(4096)).max(100).optional(),
  /** Values may be credentials: encrypted at rest, never shown by the API. */
  env: z.record(envName, secretValue).optional(),
  cwd: z.string().min(1).max(4096).optional(),
  url: httpUrl.optional(),
  /** Values may be credentials: encrypted at rest, never shown by the API. */
  headers: z.record(headerName, secretValue).optional(),
  allowed_tools: z.array(toolPattern).max(1000).optional(),
  denied_tools: z.array(toolPattern).max(1000).optional(),
  description: z.string().max(1000).optional(),
  timeout_ms: z.number().int().min(MCP_TIMEOUT_MS.min).max(MCP_TIMEOUT_MS.max).optional(),
  /** `lazy` (default): connect on first use; `eager`: connect as soon as the server is registered or the gateway starts. */
  start: z.enum(MCP_START_MODES, 'start must be lazy or eager').optional(),
  /** Unset: never. Otherwise a connection (a STDIO child) unused this long is closed, and opened again on the next call. */
  idle_timeout_ms: z.number().int().min(MCP_IDLE_TIMEOUT_MS.min).max(MCP_IDLE_TIMEOUT_MS.max).optional(),
  /** Write tool-call arguments and results to the log (redacted, size-capped). Off by default: they may hold personal data. */
  log_payloads: z.boolean().optional(),
  /** How the gateway authenticates to the server itself (docs/mcp-auth.md). */
  auth: mcpAuthSchema.optional(),
  /** A caller's forwarded `x-mcp-{alias}-{header}` wins over a static header of the same name (default: the static one wins). */
  allow_header_override: z.boolean().optional(),
};

const STDIO_ONLY = ['command', 'args', 'env', 'cwd'] as const;
const URL_ONLY = ['url', 'headers', 'auth', 'allow_header_override'] as const;

/** The fields of a definition the cross-field rules read. */
export type McpServerFields = { [K in keyof typeof fields]?: z.infer<(typeof fields)[K]> };

/** The transport a definition ends up with. */
export function transportOf(def: Pick<McpServerFields, 'transport' | 'command'>): McpTransport {
  return def.transport ?? (def.command !== undefined ? 'stdio' : 'auto');
}

/**
 * Rules across fields, each naming the field at fault: STDIO needs a command and takes no URL;
 * the URL transports need a URL and take no process settings. Returns null when the definition holds.
 */
export function serverProblem(def: McpServerFields): { param: string; message: string } | null {
  const transport = transportOf(def);
  if (transport === 'stdio') {
    if (def.command === undefined) return { param: 'command', message: 'a stdio server needs a command' };
    for (const f of URL_ONLY) if (def[f] !== undefined) return { param: f, message: `"${f}" is for the URL transports, not stdio` };
  } else {
    if (def.url === undefined) return { param: 'url', message: `a ${transport} server needs a url` };
    for (const f of STDIO_ONLY) if (def[f] !== undefined) return { param: f, message: `"${f}" is for stdio servers, not ${transport}` };
  }
  return null;
}

const crossFieldRules = (def: McpServerFields, ctx: z.core.$RefinementCtx) => {
  const problem = serverProblem(def);
  if (problem) ctx.addIssue({ code: 'custom', path: [problem.param], message: problem.message, input: def });
};

/** POST /api/mcp/servers. */
export const createServerSchema = z.strictObject(fields).superRefine(crossFieldRules);

/** A server in smartflow.yaml: the same fields, and an optional fixed id (default `mcp_cfg_<alias>`). */
export const configServerSchema = z.strictObject({ ...fields, id: mcpServerId.optional() }).superRefine(crossFieldRules);

/**
 * PATCH /api/mcp/servers/{alias-or-id}: any field; null clears an optional one. The merged
 * definition is checked again with the cross-field rules (registry.ts).
 */
export const updateServerSchema = z.strictObject({
  alias: mcpAlias.optional(),
  transport: fields.transport.unwrap().nullable().optional(),
  command: fields.command.unwrap().nullable().optional(),
  args: fields.args.unwrap().nullable().optional(),
  env: fields.env.unwrap().nullable().optional(),
  cwd: fields.cwd.unwrap().nullable().optional(),
  url: fields.url.unwrap().nullable().optional(),
  headers: fields.headers.unwrap().nullable().optional(),
  allowed_tools: fields.allowed_tools.unwrap().nullable().optional(),
  denied_tools: fields.denied_tools.unwrap().nullable().optional(),
  description: fields.description.unwrap().nullable().optional(),
  timeout_ms: fields.timeout_ms.unwrap().nullable().optional(),
  start: fields.start.unwrap().nullable().optional(),
  idle_timeout_ms: fields.idle_timeout_ms.unwrap().nullable().optional(),
  log_payloads: fields.log_payloads.unwrap().nullable().optional(),
  auth: fields.auth.unwrap().nullable().optional(),
  allow_header_override: fields.allow_header_override.unwrap().nullable().optional(),
});

/** `mcp:` in smartflow.yaml. */
export const mcpConfigSchema = z.strictObject({
  /** When set, a stdio server may only run one of these commands (exactly as written in `command`). */
  stdio_allowed_commands: z.array(z.string().min(1).max(4096)).max(1000).optional(),
  /** Browser origins (`https://app.example.com`) allowed on `/mcp` besides the gateway's own host. */
  allowed_origins: z.array(z.url().max(2048)).max(1000).default([]),
  /** Live sessions of the `/mcp` endpoint per instance; the least recently used is closed when full. */
  max_sessions: z.number().int().positive().max(1_000_000).default(1000),
  /** Tools per `tools/list` page on `/mcp` (clients follow `nextCursor`). */
  tools_page_size: z.number().int().positive().max(10_000).default(100),
  /** A session unused this long is closed. */
  session_idle_ms: z.number().int().positive().default(30 * 60_000),
  /**
   * DNS-rebinding protection on the MCP endpoints: `loopback` checks `Host` on requests that
   * arrive on a loopback address, `always` on every request, `off` never.
   */
  host_check: z.enum(['loopback', 'always', 'off']).default('loopback'),
  /** Host names (no port; IPv6 in brackets) accepted besides localhost, 127.0.0.1 and [::1]. */
  allowed_hosts: z.array(z.string().min(1).max(253).regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/, 'a host name without port')).max(1000).default([]),
  /** Events a Streamable HTTP session keeps for clients that resume a stream with Last-Event-ID. */
  resume_max_events: z.number().int().nonnegative().max(1_000_000).default(1000),
  /** Bytes of those events per session. */
  resume_max_bytes: z.number().int().nonnegative().max(1024 ** 3).default(1024 ** 2),
  /** LLM calls one MCP tool loop may make (the first included) unless the request's `max_steps` says otherwise (docs/mcp.md, "Tool loop"). */
  tool_loop_max_steps: z.number().int().min(1).max(100).default(10),
  /** A forwarded `x-mcp-{alias}-{header}` naming no registered server: `reject` (400) or `ignore`. */
  forwarded_headers_unknown_alias: z.enum(['reject', 'ignore']).default('reject'),
  /** Where the OAuth consent callback sends the browser when done; unset: a small "connected" page. */
  oauth_success_url: z.url().max(2048).optional(),
  /** The gateway's public base URL for the OAuth redirect URI (`{base}/api/mcp/auth/callback`); unset: from the request's Host. */
  public_url: z.url().max(2048).optional(),
});

/** The id a config server gets unless it names one: stable across restarts. */
export function configServerId(def: ConfigServerInput): string {
  return def.id ?? `mcp_cfg_${def.alias}`;
}

export type CreateServerInput = z.infer<typeof createServerSchema>;
export type ConfigServerInput = z.infer<typeof configServerSchema>;
export type UpdateServerInput = z.infer<typeof updateServerSchema>;
export type McpConfig = z.infer<typeof mcpConfigSchema>;
