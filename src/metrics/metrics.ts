import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterTally } from './counter-tally.js';

/** The gateway's Prometheus metrics, in a registry of its own so several gateways can share a process (tests). */
export interface GatewayMetrics {
  readonly registry: Registry;
  requests: Counter<'model' | 'provider' | 'status' | 'operation'>;
  latency: Histogram<'model' | 'provider' | 'operation'>;
  ttft: Histogram<'model' | 'provider'>;
  tokens: Counter<'model' | 'provider' | 'type'>;
  cost: Counter<'model' | 'provider'>;
  /** The per-request increments of `requests`, `tokens` and `cost`, folded into them when they are read (counter-tally.ts). */
  tallies: {
    requests: CounterTally<'model' | 'provider' | 'status' | 'operation'>;
    tokens: CounterTally<'model' | 'provider' | 'type'>;
    cost: CounterTally<'model' | 'provider'>;
  };
  /** Requests being handled now; a plain number read at scrape time (no prom-client call per request). */
  inFlight: { value: number };
  spendLogDropped: Counter;
  /** Spend-log rows the store removed to stay within its cap (Redis). */
  spendLogEvicted: Counter;
  mcp: McpMetrics;
}

/** One MCP server's connection as the scrape reads it. */
export interface McpUpstreamSample {
  alias: string;
  connected: boolean;
  restarts: number;
  tool_count: number | null;
}

/**
 * MCP tool calls and upstream connections, labelled by server alias only: aliases are what admins
 * register (bounded), while keys, tools and arguments are the callers' (unbounded). Calls naming
 * no registered server count under `server="unknown"`.
 */
export interface McpMetrics {
  toolCalls: Counter<'server' | 'status'>;
  toolCallDuration: Histogram<'server'>;
  toolCallBytes: Counter<'server' | 'direction'>;
  /** Read at scrape time; set once the upstream pool exists. */
  upstreams: { sample: (() => McpUpstreamSample[]) | null };
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  const inFlight = { value: 0 };
  // Lag sampled once a second instead of every 10 ms (prom-client's default): each sample is a
  // timer wake-up, which is most of what an idle gateway costs. A blocked loop still shows, as
  // the late firing of the next sample.
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'smartflow_', eventLoopMonitoringPrecision: 1000 });
  new Gauge({
    name: 'smartflow_requests_in_flight',
    help: 'LLM requests being handled now',
    registers: [registry],
    collect() {
      this.set(inFlight.value);
    },
  });
  const mcp = createMcpMetrics(registry);
  const tallies: GatewayMetrics['tallies'] = { requests: new CounterTally(), tokens: new CounterTally(), cost: new CounterTally() };
  return {
    registry,
    requests: new Counter({
      name: 'smartflow_requests_total',
      help: 'LLM requests by model, provider, operation and final status',
      labelNames: ['model', 'provider', 'status', 'operation'],
      registers: [registry],
      collect() {
        tallies.requests.fold(this);
      },
    }),
    latency: new Histogram({ name: 'smartflow_request_duration_seconds', help: 'Time from request arrival to the last byte', labelNames: ['model', 'provider', 'operation'], buckets: LATENCY_BUCKETS, registers: [registry] }),
    ttft: new Histogram({ name: 'smartflow_time_to_first_token_seconds', help: 'Time from request arrival to the first streamed chunk', labelNames: ['model', 'provider'], buckets: LATENCY_BUCKETS, registers: [registry] }),
    tokens: new Counter({
      name: 'smartflow_tokens_total',
      help: 'Tokens by model, provider and type (input, cached_input, output)',
      labelNames: ['model', 'provider', 'type'],
      registers: [registry],
      collect() {
        tallies.tokens.fold(this);
      },
    }),
    cost: new Counter({
      name: 'smartflow_cost_micro_usd_total',
      help: 'Spend in micro-USD by model and provider',
      labelNames: ['model', 'provider'],
      registers: [registry],
      collect() {
        tallies.cost.fold(this);
      },
    }),
    tallies,
    inFlight,
    spendLogDropped: new Counter({ name: 'smartflow_spend_log_dropped_total', help: 'Spend records dropped because the store stayed unreachable and the buffer was full', registers: [registry] }),
    spendLogEvicted: new Counter({ name: 'smartflow_spend_log_evicted_total', help: 'Spend-log rows the Redis store removed, oldest first, to keep its stream within store.spend_log_max_rows', registers: [registry] }),
    mcp,
  };
}

function createMcpMetrics(registry: Registry): McpMetrics {
  const upstreams: McpMetrics['upstreams'] = { sample: null };
  // Rebuilt from the pool at every scrape, so a removed server's series goes away with it.
  const samples = () => upstreams.sample?.() ?? [];
  new Gauge({
    name: 'smartflow_mcp_upstream_connected',
    help: 'MCP servers with a live connection (1) or none (0), by server alias; servers never used are absent',
    labelNames: ['server'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of samples()) this.set({ server: s.alias }, s.connected ? 1 : 0);
    },
  });
  new Counter({
    name: 'smartflow_mcp_upstream_restarts_total',
    help: 'Reconnections (STDIO: process restarts) after the first connection, by server alias; starts again from 0 when the server is changed',
    labelNames: ['server'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of samples()) this.inc({ server: s.alias }, s.restarts);
    },
  });
  new Gauge({
    name: 'smartflow_mcp_upstream_tools',
    help: 'Tools in the last good tools/list of each MCP server (after allowed_tools/denied_tools), by server alias',
    labelNames: ['server'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of samples()) if (s.tool_count !== null) this.set({ server: s.alias }, s.tool_count);
    },
  });
  return {
    toolCalls: new Counter({ name: 'smartflow_mcp_tool_calls_total', help: 'MCP tool calls (/mcp and the REST API) by server alias and outcome', labelNames: ['server', 'status'], registers: [registry] }),
    toolCallDuration: new Histogram({ name: 'smartflow_mcp_tool_call_duration_seconds', help: 'MCP tool call latency, gateway in to gateway out, by server alias', labelNames: ['server'], buckets: LATENCY_BUCKETS, registers: [registry] }),
    toolCallBytes: new Counter({ name: 'smartflow_mcp_tool_call_bytes_total', help: 'MCP tool call arguments (direction="in") and results (direction="out") as JSON bytes, by server alias', labelNames: ['server', 'direction'], registers: [registry] }),
    upstreams,
  };
}
