import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';

describe('the built-in demo provider type', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      providers: { demo: { type: 'demo' } },
      // The same upstream model under a second, priced name: its prices belong to that name only.
      models: [{ name: 'demo-chat-metered', provider: 'demo', model: 'demo-chat', input_cost_per_mtok: 10, output_cost_per_mtok: 30 }],
      routing: { fallback_chains: [{ id: 'via-chain', targets: [{ provider: 'demo', model: 'demo-chat' }] }] },
    });
  });
  after(() => gw.close());

  const ask = (model: string) => call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(), body: { model, messages: [{ role: 'user', content: 'What does it cost?' }] } });

  test('demo-chat named as a chain target (provider + model) costs what demo-chat costs: nothing', async () => {
    const direct = await ask('demo-chat');
    assert.equal(direct.status, 200);
    assert.equal(direct.headers['x-smartflow-cost-micros'], '0');
    const chained = await ask('via-chain');
    assert.equal(chained.status, 200, chained.text);
    assert.equal(chained.headers['x-smartflow-route'], 'demo/demo-chat');
    assert.equal(chained.headers['x-smartflow-cost-micros'], '0', 'not the pretend prices of demo-chat-metered');
  });

  test('the priced name is still charged its prices', async () => {
    const metered = await ask('demo-chat-metered');
    assert.equal(metered.status, 200);
    assert.ok(Number(metered.headers['x-smartflow-cost-micros']) > 0);
  });
});
