import { join } from 'node:path';
import { BENCH_MASTER_KEY, GATEWAY_OPTIONS_ENV, serveControl, type GatewayProcessOptions } from './protocol.js';

/**
 * The gateway under test, as its own process so its CPU time and memory can be measured
 * alone (and pinned to a core by the parent). The config is built here rather than read
 * from a file; logs go to stdout, which the parent points at /dev/null, so log cost is the
 * real pino-to-fd cost. Options arrive as JSON in SMARTFLOW_BENCH_GATEWAY.
 */

// Measure what `npm start` runs: the compiled dist/ (built by `npm run bench` first), not src/
// through tsx, whose transpiled output and source-map support add their own costs.
process.setSourceMapsEnabled(false);
const dist = new URL('../dist/', import.meta.url).href;
// As bin/smartflow.js does before loading the gateway: start-up in a small young generation.
const { holdYoungGeneration } = (await import(`${dist}core/young-generation.js`)) as typeof import('../src/core/young-generation.js');
holdYoungGeneration();
const { configSchema } = (await import(`${dist}config/schema.js`)) as typeof import('../src/config/schema.js');
const { createGateway } = (await import(`${dist}main.js`)) as typeof import('../src/main.js');

const raw = process.env[GATEWAY_OPTIONS_ENV];
if (!raw) {
  process.stderr.write(`${GATEWAY_OPTIONS_ENV} is not set (expected JSON GatewayProcessOptions)\n`);
  process.exit(2);
}
const options = JSON.parse(raw) as GatewayProcessOptions;

const config = configSchema.parse({
  master_key: BENCH_MASTER_KEY,
  server: { host: '127.0.0.1', port: 0, shutdown_grace_ms: 2000 },
  store: options.postgres
    ? {
        type: 'postgres',
        url: options.postgres.url,
        schema: options.postgres.schema,
        ...(options.postgres.redis ? { redis: options.postgres.redis.url, redis_prefix: options.postgres.redis.prefix } : {}),
      }
    : options.redis
      ? { type: 'redis', url: options.redis.url, prefix: options.redis.prefix }
      : { type: 'sqlite', path: join(options.dataDir, 'smartflow.db') },
  providers: {
    openai: { type: 'openai', base_url: `${options.upstreamUrl}/v1`, api_key: 'sk-bench-upstream' },
  },
  models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }, ...(options.extraModels ?? []).map((name) => ({ name, provider: 'openai', model: 'gpt-4o-mini' }))],
  logging: { level: options.level, access_log: options.accessLog },
  ...(options.cache ? { cache: options.cache } : {}),
  ...(options.mcpServers ? { mcp_servers: options.mcpServers } : {}),
});

const gateway = await createGateway({ config, defaultMetrics: true });
const url = await gateway.listen('127.0.0.1', 0);
serveControl({ url }, () => gateway.close());
