import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import { authHeaders, fakeProviders, startTestGateway } from '../helpers/build-app.js';

test('client-chosen model names cannot grow metric labels without bound', async (t) => {
  const fake = await startFakeOpenAI();
  const gw = await startTestGateway({ providers: fakeProviders({ openai: fake.url }), logging: { level: 'warn' } });
  t.after(async () => {
    await gw.close();
    await fake.close();
  });
  const send = (model: string) =>
    gw.gateway.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: authHeaders(), payload: { model, messages: [{ role: 'user', content: 'x' }] } });
  for (let i = 0; i < 510; i++) assert.equal((await send(`openai/model-${i}`)).statusCode, 200);
  const metrics = (await gw.gateway.app.inject({ method: 'GET', url: '/metrics', headers: authHeaders() })).body;
  const labels = new Set([...metrics.matchAll(/smartflow_requests_total\{model="([^"]+)"/g)].map((m) => m[1]));
  assert.equal(labels.size, 501, 'at most 500 names plus "other"');
  assert.ok(labels.has('other'));
  assert.ok(labels.has('openai/model-0'));
  assert.ok(!labels.has('openai/model-509'));
  // The spend log keeps the exact name regardless.
  await gw.gateway.spendLog.flush();
  const page = await gw.gateway.store.querySpend({ limit: 1, model: 'openai/model-509' });
  assert.equal(page.rows.length, 1);
});
