import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics, in a registry of its own so several gateways can share a process (tests). */
export interface GatewayMetrics {
  readonly registry: Registry;
  requests: Counter<'model' | 'provider' | 'status' | 'operation'>;
  latency: Histogram<'model' | 'provider' | 'operation'>;
  ttft: Histogram<'model' | 'provider'>;
  tokens: Counter<'model' | 'provider' | 'type'>;
  cost: Counter<'model' | 'provider'>;
  /** Requests being handled now; a plain number read at scrape time (no prom-client call per request). */
  inFlight: { value: number };
  spendLogDropped: Counter;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  const inFlight = { value: 0 };
  // 100 ms lag sampling instead of the default 10 ms: ten wake-ups a second, not a hundred, on an idle gateway.
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'smartflow_', eventLoopMonitoringPrecision: 100 });
  new Gauge({
    name: 'smartflow_requests_in_flight',
    help: 'LLM requests being handled now',
    registers: [registry],
    collect() {
      this.set(inFlight.value);
    },
  });
  return {
    registry,
    requests: new Counter({ name: 'smartflow_requests_total', help: 'LLM requests by model, provider, operation and final status', labelNames: ['model', 'provider', 'status', 'operation'], registers: [registry] }),
    latency: new Histogram({ name: 'smartflow_request_duration_seconds', help: 'Time from request arrival to the last byte', labelNames: ['model', 'provider', 'operation'], buckets: LATENCY_BUCKETS, registers: [registry] }),
    ttft: new Histogram({ name: 'smartflow_time_to_first_token_seconds', help: 'Time from request arrival to the first streamed chunk', labelNames: ['model', 'provider'], buckets: LATENCY_BUCKETS, registers: [registry] }),
    tokens: new Counter({ name: 'smartflow_tokens_total', help: 'Tokens by model, provider and type (input, cached_input, output)', labelNames: ['model', 'provider', 'type'], registers: [registry] }),
    cost: new Counter({ name: 'smartflow_cost_micro_usd_total', help: 'Spend in micro-USD by model and provider', labelNames: ['model', 'provider'], registers: [registry] }),
    inFlight,
    spendLogDropped: new Counter({ name: 'smartflow_spend_log_dropped_total', help: 'Spend records dropped because the store stayed unreachable and the buffer was full', registers: [registry] }),
  };
}
