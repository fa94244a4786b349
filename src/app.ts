import { describeAuthResolution } from './mcp/auth/auth-resolution.js';
import { registerMcpAuthCallback, registerMcpAuthRoutes } from './http/routes/mcp-auth.js';
import type { UserTokens } from './mcp/auth/user-tokens.js';
import { forwardedHeadersError } from './mcp/auth/forwarded-headers.js';
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createCaching } from './cache/caching.js';
import type { GatewayConfig } from './config/schema.js';
import { GatewayError } from './errors/gateway-error.js';
import type { ErrorSurface } from './errors/to-wire.js';
import { trackAllowedMethods } from './http/allowed-methods.js';
import { sendError } from './http/error-response.js';
import { registerJsonBodyParser } from './http/json-body.js';
import { authenticatedScope } from './http/plugins/authenticate.js';
import { recordRouteTable } from './http/route-table.js';
import { registerSsoAdminRoutes, registerSsoSignInRoutes } from './http/routes/sso.js';
import { createCallerResolver } from './identity/callers.js';
import { ManualMemberships } from './identity/memberships.js';
import { SsoService } from './identity/sso.js';
import { SsoConfigService } from './identity/sso-config.js';
import { SecretBox, secretKeyFrom } from './crypto/secret-box.js';
import { registerOpsRoutes } from './http/routes/health.js';
import { registerAnthropicRoutes } from './http/routes/anthropic.js';
import { createByokRule } from './providers/anthropic/byok.js';
import { registerOpenAIRoutes } from './http/routes/openai.js';
import { registerResponsesRoutes } from './http/routes/responses.js';
import { registerSpendRoutes } from './http/routes/spend.js';
import { registerAuditRoutes } from './http/routes/audit.js';
import { registerCacheRoutes } from './http/routes/cache.js';
import { registerTeamRoutes } from './http/routes/teams.js';
import { registerVirtualKeyRoutes } from './http/routes/virtual-keys.js';
import type { Access } from './keys/access.js';
import { registerRoutingRoutes } from './http/routes/routing.js';
import { registerMcpServerRoutes } from './http/routes/mcp-servers.js';
import { registerMcpRoutes } from './http/routes/mcp.js';
import { registerMcpToolRoutes } from './http/routes/mcp-tools.js';
import { registerToolIndexRoutes, registerToolSearchRoutes } from './http/routes/mcp-tool-search.js';
import { createToolSearch } from './toolsearch/create-tool-search.js';
import { registerGuardrailRoutes } from './http/routes/guardrails.js';
import { registerPolicyRoutes } from './http/routes/policies.js';
import type { PolicyRegistry } from './policies/policy-registry.js';
import { createGuardrailsStage } from './pipeline/stages/guardrails.js';
import { createToolCallGuard } from './policies/tool-call-guard.js';
import { createToolCallRecorder } from './mcp/downstream/tool-call-recorder.js';
import { ToolCatalog } from './mcp/downstream/tool-catalog.js';
import type { McpServerRegistry } from './mcp/registry.js';
import type { ToolLoopDeps } from './http/tool-loop-answer.js';
import type { UpstreamPool } from './mcp/upstream/upstream-pool.js';
import { createRouteStage } from './pipeline/stages/route.js';
import type { Routing } from './routing/routing.js';
import type { Authenticator } from './keys/authenticator.js';
import type { GatewayMetrics } from './metrics/metrics.js';
import { compose } from './pipeline/compose.js';
import { createAuthenticateStage } from './pipeline/stages/authenticate.js';
import { createAuthorizeModelStage } from './pipeline/stages/authorize-model.js';
import { createTurnGateStage } from './pipeline/stages/turn-gate.js';
import { createBudgetStage } from './pipeline/stages/budget.js';
import { createCacheStage } from './pipeline/stages/cache.js';
import { createInvokeProviderStage } from './pipeline/stages/invoke-provider.js';
import { createRecordSpendStage } from './pipeline/stages/record-spend.js';
import { createOutputLimitsStage } from './pipeline/stages/output-limits.js';
import { createResolveModelStage } from './pipeline/stages/resolve-model.js';
import { createValidateRequestStage } from './pipeline/stages/validate-request.js';
import type { ProviderRegistry } from './providers/registry.js';
import type { SpendLog } from './spend/spend-log.js';
import type { Store } from './storage/types.js';
import type { AgentRegistry } from './a2a/agent-registry.js';
import { A2aService } from './a2a/a2a-service.js';
import { TaskStore } from './a2a/task-store.js';
import { PushNotifier } from './a2a/push-notifier.js';
import { registerA2aRoutes } from './http/routes/a2a.js';
import { registerA2aAdminRoutes } from './http/routes/a2a-admin.js';

export interface AppDeps {
  config: GatewayConfig;
  store: Store;
  registry: ProviderRegistry;
  metrics: GatewayMetrics;
  spendLog: SpendLog;
  logger: Logger;
  authenticator: Authenticator;
  access: Access;
  routing: Routing;
  mcpServers: McpServerRegistry;
  mcpUpstreams: UpstreamPool;
  agents: AgentRegistry;
  /** Guardrails, policies and their attachments (docs/guardrails.md). */
  policies: PolicyRegistry;
  /** Per-user OAuth tokens for MCP servers that need each user's consent; without them /api/mcp/auth/* is not served. */
  mcpUserTokens?: UserTokens;
  /** True once shutdown began. */
  isDraining?: () => boolean;
}

/** Anthropic clients on `/anthropic` read Anthropic error JSON; everyone else OpenAI's. */
function surfaceOf(url: string): ErrorSurface {
  return url.startsWith('/anthropic') ? 'anthropic' : 'openai';
}

/** Errors raised before a passthrough route's handler (a malformed body) still say which surface answered. */
function passthroughHeaders(url: string): Record<string, string> {
  if (url.startsWith('/anthropic')) return { 'x-smartflow-passthrough': 'anthropic' };
  if (url.startsWith('/cursor')) return { 'x-smartflow-passthrough': 'openai' };
  return {};
}

/** A client-supplied request id is kept only if it is short and harmless in logs and headers. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the gateway's fastify instance. It never listens by itself: main.ts or a test does. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // The record-spend stage writes one access line per LLM request; fastify's own two lines per request would double the cost.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.server.body_limit_bytes,
    requestIdHeader: false,
    genReqId(req) {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    return503OnClosing: false,
    // Errors fastify raises before routing (a malformed URL) get the same shape as every other error.
    frameworkErrors: (err, request, reply) => sendError(request, reply, err, passthroughHeaders(request.url), surfaceOf(request.url)),
  });

  recordRouteTable(app);
  const isDraining = deps.isDraining ?? (() => false);
  // fastify accepts text/plain by default; every body here is JSON, so anything else is a 415.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);

  const byokSettings = deps.config.passthrough.anthropic;
  const anthropicByok = createByokRule(byokSettings.byok_provider === undefined ? deps.registry.firstOfType('anthropic') : deps.registry.provider(byokSettings.byok_provider), byokSettings.byok_fallback);
  const caching = createCaching({ config: deps.config.cache, store: deps.store, registry: deps.registry, spendLog: deps.spendLog, now: deps.access.now, log: deps.logger });
  const pipeline = compose([
    createRecordSpendStage({ spendLog: deps.spendLog, metrics: deps.metrics, accessLog: deps.config.logging.access_log }),
    createAuthenticateStage(deps.authenticator),
    createValidateRequestStage(),
    createResolveModelStage(deps.routing.planner),
    createAuthorizeModelStage(),
    createOutputLimitsStage(),
    createGuardrailsStage({ snapshot: () => deps.policies.snapshot() }),
    createTurnGateStage(),
    createBudgetStage({ limits: deps.access.limits, defaultMaxOutputTokens: deps.config.budgets.default_max_output_tokens, maxServerToolCalls: deps.config.budgets.max_server_tool_calls }),
    createCacheStage({ config: deps.config.cache, cache: caching.cache, semantic: caching.semantic, now: deps.access.now, allowAnthropicByok: deps.config.passthrough.anthropic.allow_byok }),
    createRouteStage({ balancer: deps.routing.balancer, cooldowns: deps.routing.cooldowns, now: deps.access.now }),
    createInvokeProviderStage(deps.registry, { allowAnthropicByok: byokSettings.allow_byok, anthropicByok }),
  ]);

  const mcpAliases = () => deps.mcpServers.list().map((s) => s.server.alias);
  // Callback style on purpose: an async hook costs a promise and a microtask on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // Requests arriving on kept-alive connections while draining get our error shape, and the
    // connection is closed after the answer so clients reconnect to another instance. Probes and
    // scrapes still answer: liveness must stay up, readiness reports the drain itself.
    if (isDraining() && !request.url.startsWith('/health/') && request.url !== '/metrics') {
      reply.header('connection', 'close');
      sendError(request, reply, new GatewayError('SF_ERR_SHUTTING_DOWN'), {}, surfaceOf(request.url));
      return;
    }
    // `x-mcp-{alias}-{header}` for no server is refused on every route, before anything reads the request.
    const forwardedError = forwardedHeadersError(request.headers, mcpAliases, deps.config.mcp.forwarded_headers_unknown_alias);
    if (forwardedError) {
      sendError(request, reply, forwardedError, {}, surfaceOf(request.url));
      return;
    }
    done();
  });

  // Admins asking with `x-smartflow-debug: true` learn how each MCP server's auth resolved (names, never values).
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.headers['x-smartflow-debug'] !== 'true') return done(null, payload);
    deps.authenticator
      .authenticate(request.headers)
      .catch(() => null)
      .then((principal) => {
        if (principal?.isAdmin) reply.header('x-smartflow-mcp-auth', describeAuthResolution(deps.mcpServers.list().map((s) => s.server), request.headers));
        done(null, payload);
      });
  });
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err, passthroughHeaders(request.url), surfaceOf(request.url)));
  const allowedMethods = trackAllowedMethods(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!.slice(0, 200);
    const allow = allowedMethods.of(path);
    const err = allow.length
      ? new GatewayError('SF_ERR_METHOD_NOT_ALLOWED', { message: `${request.method} is not allowed on ${path}; use ${allow.join(', ')}.`, headers: { allow: allow.join(', ') } })
      : new GatewayError('SF_ERR_ROUTE_NOT_FOUND', { message: `No endpoint ${request.method} ${path}.` });
    return sendError(request, reply, err, passthroughHeaders(request.url), surfaceOf(request.url));
  });

  // One catalog for /mcp, the REST tool API and the tool loop: the same access checks, spend rows and metrics.
  const onToolCall = createToolCallRecorder({ spendLog: deps.spendLog, metrics: deps.metrics.mcp, log: deps.logger });
  const mcpCatalog = new ToolCatalog({ registry: deps.mcpServers, upstreams: deps.mcpUpstreams, log: deps.logger, onToolCall, now: deps.access.now, guard: createToolCallGuard(() => deps.policies.snapshot(), deps.logger) });
  const toolLoop: ToolLoopDeps = {
    authenticator: deps.authenticator,
    registry: deps.mcpServers,
    upstreams: deps.mcpUpstreams,
    catalog: mcpCatalog,
    spendLog: deps.spendLog,
    maxSteps: deps.config.mcp.tool_loop_max_steps,
    now: deps.access.now,
  };
  registerOpenAIRoutes(app, { pipeline, registry: deps.registry, chains: deps.routing.chains, authenticator: deps.authenticator, now: deps.access.now, toolLoop });
  registerOpenAIRoutes(app, { pipeline, registry: deps.registry, chains: deps.routing.chains, authenticator: deps.authenticator, now: deps.access.now, toolLoop }, { prefixes: ['/cursor/v1', '/cursor'], surface: 'cursor' });
  registerAnthropicRoutes(app, { pipeline, registry: deps.registry, authenticator: deps.authenticator, allowByok: byokSettings.allow_byok, byok: anthropicByok, now: deps.access.now });
  registerResponsesRoutes(app, { pipeline, now: deps.access.now, toolLoop }, { paths: ['/v1/responses', '/responses'], surface: 'openai' });
  registerResponsesRoutes(app, { pipeline, now: deps.access.now, toolLoop }, { paths: ['/cursor/v1/responses', '/cursor/responses'], surface: 'cursor' });
  deps.metrics.mcp.upstreams.sample = () => deps.mcpUpstreams.snapshots();
  const toolSearch = createToolSearch({ config: deps.config.toolsearch, registry: deps.mcpServers, upstreams: deps.mcpUpstreams, providers: deps.registry, store: deps.store, spendLog: deps.spendLog, log: deps.logger, now: deps.access.now });
  app.addHook('onClose', () => toolSearch.close());
  registerMcpRoutes(app, { authenticator: deps.authenticator, registry: deps.mcpServers, catalog: mcpCatalog, upstreams: deps.mcpUpstreams, config: deps.config.mcp, log: deps.logger, now: deps.access.now, toolSearch });
  const a2aPush = new PushNotifier({ allowPrivate: deps.config.a2a.push_allow_private, log: deps.logger });
  const a2aTasks = new TaskStore(deps.store, { retentionMs: deps.config.a2a.task_retention_ms, now: deps.access.now });
  const a2a = new A2aService({ pipeline, registry: deps.mcpServers, upstreams: deps.mcpUpstreams, catalog: mcpCatalog, tasks: a2aTasks, now: deps.access.now, maxMessageBytes: deps.config.a2a.max_message_bytes, push: a2aPush });
  app.addHook('onReady', () => a2a.start());
  app.addHook('onClose', () => a2a.close());
  registerA2aRoutes(app, { agents: deps.agents, service: a2a, authenticator: deps.authenticator, publicUrl: deps.config.a2a.public_url });
  // Any valid key (the key's MCP access decides); the rest of /api is admin-only, below.
  const mcpAuth = deps.mcpUserTokens ? { registry: deps.mcpServers, userTokens: deps.mcpUserTokens, config: deps.config.mcp } : null;
  authenticatedScope(app, { authenticator: deps.authenticator, admin: false }, (callers) => {
    registerMcpToolRoutes(callers, { catalog: mcpCatalog });
    registerToolSearchRoutes(callers, { index: toolSearch });
    if (mcpAuth) registerMcpAuthRoutes(callers, mcpAuth);
  });
  // The browser comes back from the provider without a key: the single-use state authenticates it.
  if (mcpAuth) registerMcpAuthCallback(app, mcpAuth);
  const now = deps.access.now;
  const ssoConfig = new SsoConfigService({
    store: deps.store,
    secrets: new SecretBox(secretKeyFrom({ key: deps.config.secrets.key, masterKey: deps.config.master_key ?? '' })),
    audit: deps.access.audit,
    now,
    fromFile: deps.config.sso,
  });
  const sso = new SsoService(ssoConfig, { store: deps.store, audit: deps.access.audit, now });
  const callers = createCallerResolver({ authenticator: deps.authenticator, sessions: sso.sessions, store: deps.store, keys: deps.access.keys });
  registerSsoSignInRoutes(app, { sso });
  // Every admin API lives in one scope: each route declares a permission, checked against the
  // caller's role (master key, SSO session, or a virtual key on self-service routes) or 401/403.
  authenticatedScope(app, { authenticator: deps.authenticator, admin: true, callers }, (admin) => {
    registerSsoAdminRoutes(admin, { sso, store: deps.store });
    registerSpendRoutes(admin, { store: deps.store, spendLog: deps.spendLog, keys: deps.access.keys, teams: deps.access.teams, now: deps.access.now });
    registerVirtualKeyRoutes(admin, { access: deps.access });
    registerTeamRoutes(admin, { access: deps.access, memberships: new ManualMemberships({ store: deps.store, now }) });
    registerAuditRoutes(admin, { audit: deps.access.audit });
    registerRoutingRoutes(admin, { chains: deps.routing.chains, audit: deps.access.audit });
    registerCacheRoutes(admin, { cache: caching.cache, audit: deps.access.audit });
    registerMcpServerRoutes(admin, { servers: deps.mcpServers, upstreams: deps.mcpUpstreams, audit: deps.access.audit });
    registerToolIndexRoutes(admin, { index: toolSearch });
    registerA2aAdminRoutes(admin, { agents: deps.agents, tasks: a2aTasks, audit: deps.access.audit });
    registerGuardrailRoutes(admin, { policies: deps.policies, audit: deps.access.audit });
    registerPolicyRoutes(admin, {
      policies: deps.policies,
      audit: deps.access.audit,
      estimate: { store: deps.store, keys: deps.access.keys, teams: deps.access.teams, models: () => deps.registry.listModels().map((m) => m.name), now: deps.access.now },
    });
  });
  // A semantic cache whose embedding model cannot embed stops the start; listen() then closes what is open.
  app.addHook('onReady', caching.verify);
  registerOpsRoutes(app, { store: deps.store, metrics: deps.metrics, isDraining, metricsSettings: deps.config.metrics, authenticator: deps.authenticator });
  return app;
}
