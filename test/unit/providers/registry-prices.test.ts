import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { HttpTransport } from '../../../src/providers/http-transport.js';
import { createProviderRegistry } from '../../../src/providers/registry.js';

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
  assert.deepEqual(registry.resolveModel('cached-only')?.price, { input: 0.15, output: 0.6, cached_input: 0.01 });
  assert.deepEqual(registry.resolveModel('input-only')?.price, { input: 2, output: 10, cached_input: 1.25 });
  assert.equal(registry.resolveModel('unpriced')?.price, undefined);
  assert.deepEqual(registry.resolveModel('priced-local')?.price, { input: 0.1, output: 0.2 });
  // provider/model ids that could leave the model path are not models at all.
  assert.equal(registry.resolveModel('openai/../files'), undefined);
  assert.equal(registry.resolveModel('openai/gpt-4o?x=1'), undefined);
  assert.equal(registry.resolveModel('openai/gpt-4o')?.upstreamModel, 'gpt-4o');
});
