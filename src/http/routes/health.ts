import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../../config/schema.js';
import type { Authenticator } from '../../keys/authenticator.js';
import type { GatewayMetrics } from '../../metrics/metrics.js';
import type { Store } from '../../storage/types.js';
import { workerIdentity } from '../../cluster/worker-identity.js';
import { clusterMetricsText } from '../../cluster/metrics-relay.js';
import { authenticatedScope, needs } from '../plugins/authenticate.js';

export interface OpsRoutesDeps {
  store: Store;
  metrics: GatewayMetrics;
  /** True once shutdown began: readiness fails so load balancers stop sending traffic. */
  isDraining: () => boolean;
  /** Who may read /metrics. */
  metricsSettings: GatewayConfig['metrics'];
  authenticator: Authenticator;
}

/** `metrics.auth` as configured, or the default: the token when one is set, else admins only. */
function metricsAuthOf(settings: GatewayConfig['metrics']): 'open' | 'master_key' | 'token' {
  return settings.auth ?? (settings.token !== undefined ? 'token' : 'master_key');
}

/** Liveness and readiness (unauthenticated, as probes expect) and Prometheus metrics (as `metrics.auth` says). */
export function registerOpsRoutes(app: FastifyInstance, deps: OpsRoutesDeps): void {
  // With `--workers N`, which worker answered: each connection goes to one of them.
  const self = workerIdentity();
  const liveness = self ? { status: 'ok', worker: { id: self.id, pid: process.pid } } : { status: 'ok' };
  app.get('/health/liveness', async () => liveness);

  app.get('/health/readiness', async (_request, reply) => {
    if (deps.isDraining()) return reply.code(503).send({ status: 'draining' });
    const started = performance.now();
    try {
      await Promise.race([deps.store.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
      return { status: 'ok', store: { type: deps.store.kind, status: 'ok', latency_ms: Math.round((performance.now() - started) * 1000) / 1000 } };
    } catch {
      return reply.code(503).send({ status: 'unavailable', store: { type: deps.store.kind, status: 'unreachable' } });
    }
  });

  // The metrics name every model and provider and what each cost, so they are open only when the
  // operator says so; a scraper gets its own token rather than the master key.
  const serveMetrics = (scope: FastifyInstance) =>
    scope.get('/metrics', needs('metrics:read'), async (_request, reply) => {
      // With `--workers N` a scrape reaches one worker: it answers for all of them.
      const text = self ? await clusterMetricsText() : await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    });
  const auth = metricsAuthOf(deps.metricsSettings);
  if (auth === 'open') serveMetrics(app);
  else authenticatedScope(app, { authenticator: deps.authenticator, admin: true, ...(auth === 'token' && deps.metricsSettings.token !== undefined ? { token: deps.metricsSettings.token } : {}) }, serveMetrics);
}
