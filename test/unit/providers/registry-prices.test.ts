import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { HttpTransport } from '../../../src/providers/http-transport.js';
import { createProviderRegistry } from '../../../src/providers/registry.js';
import { SERVER_TOOL_PRICES } from '../../../src/spend/pricing.js';

test('config prices override the catalogue field by field', async (t) => {
  const transport = new HttpTransport();
  t.after(() => transport.close());
  const config = configSchema.parse({
    providers: { openai: { type: 'openai' }, local: { type: 'openai', base_url: 'http://127.0.0.1:9/v1' } },
    models: [
      { name: 'cached-only', provider: 'openai', model: 'gpt-4o-mini', cached_input_cost_per_mtok: 0.01 },
      { name: 'input-only', provider: 'openai', model: 'gpt-4o', input_cost_per_mtok: 2 },
      { name: 'unpriced', provider: 'local', model: 'llama-local' },
      { name: 'priced-local', provider: 'local', model: 'llama-local', input_cost_per_mtok: 0.1, output_cost_per_mtok: 0.2 },
    ],
  });
  const registry = createProviderRegistry(config, transport);
  const perCall = SERVER_TOOL_PRICES.openai;
  assert.deepEqual(registry.resolveModel('cached-only')?.price, { input: 0.15, output: 0.6, cached_input: 0.01, per_call: perCall });
  assert.deepEqual(registry.resolveModel('input-only')?.price, { input: 2, output: 10, cached_input: 1.25, per_call: perCall });
  assert.equal(registry.resolveModel('unpriced')?.price, undefined);
  assert.deepEqual(registry.resolveModel('priced-local')?.price, { input: 0.1, output: 0.2, per_call: perCall });
  // provider/model ids that could leave the model path are not models at all.
  assert.equal(registry.resolveModel('openai/../files'), undefined);
  assert.equal(registry.resolveModel('openai/gpt-4o?x=1'), undefined);
  assert.equal(registry.resolveModel('openai/gpt-4o')?.upstreamModel, 'gpt-4o');
});

test('default prices fill unpriced deployments; tiers and per-call prices come from the catalogue or the config', async (t) => {
  const transport = new HttpTransport();
  t.after(() => transport.close());
  const config = configSchema.parse({
    providers: {
      anthropic: { type: 'anthropic' },
      local: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', default_price: { input_cost_per_mtok: 0.5, output_cost_per_mtok: 1 } },
      other: { type: 'openai', base_url: 'http://127.0.0.1:9/v1' },
    },
    budgets: { default_price: { input_cost_per_mtok: 7, output_cost_per_mtok: 9 } },
    models: [
      { name: 'sonnet', provider: 'anthropic', model: 'claude-sonnet-4-5', server_tool_cost_per_call: { web_search: 0.02, web_fetch: 0.001 } },
      { name: 'tiered', provider: 'other', model: 'x', input_cost_per_mtok: 1, output_cost_per_mtok: 2, long_context: { threshold_tokens: 1000, input_cost_per_mtok: 3, output_cost_per_mtok: 4 } },
    ],
  });
  const registry = createProviderRegistry(config, transport);
  assert.deepEqual(registry.resolveModel('sonnet')?.price, {
    input: 3, output: 15, cached_input: 0.3, cache_write: 3.75,
    long_context: { threshold_tokens: 200_000, input: 6, output: 22.5, cached_input: 0.6, cache_write: 7.5 },
    per_call: { web_search: 0.02, web_fetch: 0.001 },
  });
  assert.deepEqual(registry.resolveModel('tiered')?.price?.long_context, { threshold_tokens: 1000, input: 3, output: 4 });
  // The provider's default wins over the gateway's; both apply only where no price is known.
  assert.deepEqual(registry.resolveModel('local/llama')?.price, { input: 0.5, output: 1, per_call: SERVER_TOOL_PRICES.openai });
  assert.deepEqual(registry.resolveModel('other/llama')?.price, { input: 7, output: 9, per_call: SERVER_TOOL_PRICES.openai });
  assert.equal(registry.resolveModel('anthropic/claude-sonnet-4-5')?.price?.input, 3);
});
