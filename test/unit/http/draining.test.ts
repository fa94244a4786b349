import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PolicyRegistry } from '../../../src/policies/policy-registry.js';
import { buildApp } from '../../../src/app.js';
import { configSchema } from '../../../src/config/schema.js';
import { createAccess } from '../../../src/keys/access.js';
import { createAuthenticator } from '../../../src/keys/authenticator.js';
import { createRouting } from '../../../src/routing/routing.js';
import { startMcpServerRegistry } from '../../../src/mcp/registry.js';
import { UpstreamPool } from '../../../src/mcp/upstream/upstream-pool.js';
import { createLogger } from '../../../src/log/logger.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { HttpTransport } from '../../../src/providers/http-transport.js';
import { createProviderRegistry } from '../../../src/providers/registry.js';
import { SpendLog } from '../../../src/spend/spend-log.js';
import { createStore } from '../../../src/storage/index.js';
import { AgentRegistry } from '../../../src/a2a/agent-registry.js';
import { SecretBox, secretKeyFrom } from '../../../src/crypto/secret-box.js';
import { LogCollector, MASTER_KEY } from '../../helpers/build-app.js';

test('while draining, new requests get 503 shutting_down in the OpenAI error shape and Connection: close', async (t) => {
  const config = configSchema.parse({ master_key: MASTER_KEY, store: { type: 'sqlite', path: ':memory:' }, providers: { demo: { type: 'demo' } } });
  const store = await createStore(config.store);
  const logger = createLogger({ level: 'warn', destination: new LogCollector() });
  const spendLog = new SpendLog(store, logger, { flushIntervalMs: 1000, batchSize: 10, maxBuffer: 100 });
  const transport = new HttpTransport();
  const access = await createAccess({ store, config, now: Date.now, log: logger });
  const registry = createProviderRegistry(config, transport);
  const routing = await createRouting({ config, store, registry, now: Date.now, log: logger });
  const mcpServers = await startMcpServerRegistry({ config, store, now: Date.now, log: logger });
  const mcpUpstreams = new UpstreamPool({ registry: mcpServers, log: logger });
  let draining = false;
  const app = buildApp({
    config,
    store,
    registry,
    metrics: createMetrics({ defaultMetrics: false }),
    spendLog,
    logger,
    authenticator: createAuthenticator(MASTER_KEY, access.resolver),
    access,
    routing,
    mcpServers,
    mcpUpstreams,
    agents: new AgentRegistry({ store, configAgents: [], secrets: new SecretBox(secretKeyFrom({ masterKey: MASTER_KEY })), now: Date.now, log: logger }),
    policies: new PolicyRegistry({ store, configGuardrails: [], configPolicies: [], now: Date.now, log: logger }),
    isDraining: () => draining,
  });
  t.after(async () => {
    await app.close();
    await spendLog.close();
    await access.close();
    await routing.close();
    await mcpUpstreams.close();
    await mcpServers.close();
    await transport.close();
    await store.close();
  });
  const body = { model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }] };
  const headers = { authorization: `Bearer ${MASTER_KEY}` };
  const before = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers, payload: body });
  assert.equal(before.statusCode, 200);

  draining = true;
  const during = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers, payload: body });
  assert.equal(during.statusCode, 503);
  assert.equal(during.headers.connection, 'close');
  assert.deepEqual(during.json(), { error: { message: 'The gateway is shutting down.', type: 'api_error', code: 'shutting_down', param: null } });
  const ready = await app.inject({ method: 'GET', url: '/health/readiness' });
  assert.equal(ready.statusCode, 503, 'readiness fails while draining');
});
