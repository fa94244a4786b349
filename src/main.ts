import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from './app.js';
import type { GatewayConfig } from './config/schema.js';
import { createAccess, type Access } from './keys/access.js';
import { createAuthenticator } from './keys/authenticator.js';
import { createRouting, type Routing } from './routing/routing.js';
import { startMcpServerRegistry, type McpServerRegistry } from './mcp/registry.js';
import { AgentRegistry } from './a2a/agent-registry.js';
import { ClientCredentialsTokens } from './mcp/auth/client-credentials.js';
import { UserTokens } from './mcp/auth/user-tokens.js';
import { SecretBox, secretKeyFrom } from './crypto/secret-box.js';
import { UpstreamPool } from './mcp/upstream/upstream-pool.js';
import { PolicyRegistry } from './policies/policy-registry.js';
import { createLogger, type Logger } from './log/logger.js';
import { throttledWarn } from './log/throttled-warn.js';
import { createMetrics, type GatewayMetrics } from './metrics/metrics.js';
import { HttpTransport } from './providers/http-transport.js';
import { createProviderRegistry, type ProviderRegistry } from './providers/registry.js';
import { createSpendCapReport } from './spend/spend-cap-report.js';
import { SpendLog } from './spend/spend-log.js';
import { SpendRetention } from './spend/spend-retention.js';
import { createStore } from './storage/index.js';
import { releaseYoungGeneration } from './core/young-generation.js';
import { startIdleTrim } from './core/idle-trim.js';
import type { Store, StoreOptions } from './storage/types.js';

export interface GatewayOptions {
  config: GatewayConfig;
  logger?: Logger;
  storeOptions?: StoreOptions;
  /** Process-level metrics (CPU, heap); off in tests that start several gateways. */
  defaultMetrics?: boolean;
  /** The clock for budget periods, rate-limit windows, key expiry and the SQLite store; tests pass a controllable one. */
  now?: () => number;
}

export interface Gateway {
  app: FastifyInstance;
  store: Store;
  registry: ProviderRegistry;
  spendLog: SpendLog;
  /** Deletes spend-log rows past `spend_log.retention_days`, and daily rollups past `spend_log.rollup_retention_days`. */
  spendRetention: SpendRetention;
  access: Access;
  routing: Routing;
  mcpServers: McpServerRegistry;
  /** Connections to the registered MCP servers (opened on first use). */
  mcpUpstreams: UpstreamPool;
  /** Hosted A2A agent profiles (smartflow.yaml and the admin API). */
  agents: AgentRegistry;
  policies: PolicyRegistry;
  logger: Logger;
  /** The Prometheus registry and metrics (a cluster worker shares them with the primary). */
  metrics: GatewayMetrics;
  /** Starts listening; resolves to the base URL (http://host:port). */
  listen(host?: string, port?: number): Promise<string>;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), flushes the spend log, closes the store. */
  close(): Promise<void>;
}

/**
 * Closes what start-up opened, newest first (the store last: the others flush into it). A start
 * that fails half-way closes what it had opened, so Redis connections and connection pools do
 * not keep the process alive after the error.
 */
class OpenResources {
  private readonly closers: Array<() => Promise<void>> = [];

  add<T>(resource: T, close: (r: T) => Promise<void>): T {
    this.closers.push(() => close(resource));
    return resource;
  }

  async closeAll(log: Logger): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) {
      await close().catch((err: unknown) => log.error({ err }, 'could not close a resource'));
    }
  }
}

/** config -> store -> providers -> app. Everything a running gateway is made of, wired in one place. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  if (!config.master_key) throw new Error('master_key is required (set SMARTFLOW_MASTER_KEY or master_key in smartflow.yaml)');
  const logger = options.logger ?? createLogger({ level: config.logging.level });
  const now = options.now ?? Date.now;
  const open = new OpenResources();
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  let store: Store;
  let registry: ProviderRegistry;
  let spendLog: SpendLog;
  let spendRetention: SpendRetention;
  let access: Access;
  let routing: Routing;
  let mcpServers: McpServerRegistry;
  let mcpUpstreams: UpstreamPool;
  let agents: AgentRegistry;
  let policies: PolicyRegistry;
  let mcpUserTokens: UserTokens;
  try {
    const onSpendEvicted = createSpendCapReport({ count: (n) => metrics.spendLogEvicted.inc(n), log: logger, now });
    const onCounterFlushError = throttledWarn(logger, 30_000, 'budget counter changes could not be written to PostgreSQL yet; retrying every half second');
    store = open.add(await createStore(config.store, { now, ...options.storeOptions, onSpendEvicted, onCounterFlushError }), (s) => s.close());
    const transport = open.add(new HttpTransport(), (t) => t.close());
    registry = open.add(createProviderRegistry(config, transport), (r) => r.close());
    spendLog = open.add(
      new SpendLog(store, logger, {
        flushIntervalMs: config.spend_log.flush_interval_ms,
        batchSize: config.spend_log.batch_size,
        maxBuffer: config.spend_log.max_buffer,
        onDrop: (n) => metrics.spendLogDropped.inc(n),
      }),
      (l) => l.close(),
    );
    spendRetention = open.add(new SpendRetention({ store, log: logger, retentionDays: config.spend_log.retention_days, rollupRetentionDays: config.spend_log.rollup_retention_days, now }).start(), (r) => r.close());
    access = open.add(await createAccess({ store, config, now, log: logger }), (a) => a.close());
    // A chain in smartflow.yaml that points nowhere throws here: the error is all the user sees.
    routing = open.add(await createRouting({ config, store, registry, now, log: logger }), (r) => r.close());
    mcpServers = open.add(await startMcpServerRegistry({ config, store, now, log: logger }), (r) => r.close());
    // Closed before the registry (newest first): stdio children get stdin EOF, then SIGTERM, then SIGKILL.
    const secrets = new SecretBox(secretKeyFrom({ key: config.secrets.key, masterKey: config.master_key }));
    const mcpTokens = new ClientCredentialsTokens({ store, secrets, log: logger, now });
    mcpUserTokens = new UserTokens({ store, secrets, log: logger, now, publicUrl: config.mcp.public_url });
    mcpUpstreams = open.add(new UpstreamPool({ registry: mcpServers, log: logger, now, tokens: mcpTokens, userTokens: mcpUserTokens }), (p) => p.close());
    agents = open.add(new AgentRegistry({ store, configAgents: config.agents, secrets, now, log: logger }), (a) => a.close());
    await agents.start();
    // A policy in smartflow.yaml naming a guardrail that does not exist (or a parent cycle) throws here.
    policies = open.add(new PolicyRegistry({ store, configGuardrails: config.guardrails, configPolicies: config.policies, now, log: logger }), (r) => r.close());
    await policies.start();
    open.add(startIdleTrim(), async (trim) => trim.stop());
  } catch (err) {
    await open.closeAll(logger);
    throw err;
  }
  let draining = false;
  const app = buildApp({
    config,
    store,
    registry,
    metrics,
    spendLog,
    logger,
    authenticator: createAuthenticator(config.master_key, access.resolver),
    access,
    routing,
    mcpServers,
    mcpUpstreams,
    agents,
    policies,
    mcpUserTokens,
    isDraining: () => draining,
  });

  let closing: Promise<void> | null = null;
  function close(): Promise<void> {
    closing ??= (async () => {
      draining = true;
      const grace = setTimeout(() => app.server.closeAllConnections(), config.server.shutdown_grace_ms);
      grace.unref();
      // server.close() only closes connections that are idle when it is called; keep-alive
      // connections whose requests finish later would hold it open until the grace period ends.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
      sweep.unref();
      try {
        await app.close();
        // Streams cut at the end of the grace period record themselves a few ticks after their
        // sockets close: wait for them (briefly) so their spend rows are in the final flush.
        for (let waited = 0; metrics.inFlight.value > 0 && waited < 2000; waited += 10) await sleep(10);
      } finally {
        clearTimeout(grace);
        clearInterval(sweep);
        await open.closeAll(logger);
      }
    })();
    return closing;
  }

  return {
    app,
    store,
    registry,
    spendLog,
    spendRetention,
    access,
    routing,
    mcpServers,
    mcpUpstreams,
    agents,
    policies,
    logger,
    metrics,
    async listen(host = config.server.host, port = config.server.port) {
      try {
        await app.listen({ host, port });
      } catch (err) {
        // Otherwise open store connections (Redis) keep the process alive after a failed start.
        await close();
        throw err;
      }
      // Start-up is over (bin/smartflow.js held the young generation small while it ran); load may grow it now.
      releaseYoungGeneration();
      const addr = app.server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return `http://${shownHost}:${addr.port}`;
    },
    close,
  };
}
