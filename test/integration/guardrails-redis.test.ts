import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';

/** Two gateways on one Redis: a guardrail, policy and attachment made on one apply on the other without a restart. */
describe('guardrail policies across two instances on Redis', () => {
  const prefix = `sf-test-policies-${randomUUID()}:`;
  let fake: FakeUpstream;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    fake = await startFakeOpenAI();
    const config = {
      store: { type: 'redis', url: REDIS_URL, prefix },
      providers: fakeProviders({ openai: fake.url }),
      models: [{ name: 'm', provider: 'openai', model: 'gpt-4o-mini' }],
      logging: { level: 'warn' },
    };
    a = await startTestGateway(config);
    b = await startTestGateway(config);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await fake?.close();
    await flushRedisPrefix(prefix);
  });

  const chat = (gw: TestGateway) => call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(), body: { model: 'm', messages: [{ role: 'user', content: 'mail jane.doe@corp.io' }] } });

  test('an attachment made on A masks on B, and detaching it on A stops it on B', async () => {
    assert.equal((await chat(b)).json.choices[0].message.content, 'Echo: mail jane.doe@corp.io');
    assert.equal((await call(`${a.url}/api/guardrails`, { headers: authHeaders(), body: { name: 'pii', type: 'pii', mode: 'mask' } })).status, 201);
    assert.equal((await call(`${a.url}/api/policies`, { headers: authHeaders(), body: { name: 'base', add: ['pii'] } })).status, 201);
    assert.equal((await call(`${a.url}/api/policies/attachments`, { headers: authHeaders(), body: { policy: 'base', scope: 'model', pattern: '*' } })).status, 201);
    let seen = '';
    for (let i = 0; i < 100 && !seen.includes('REDACTED'); i++) {
      const res = await chat(b);
      seen = res.json.choices[0].message.content;
      if (!seen.includes('REDACTED')) await sleep(20);
      else assert.equal(res.headers['x-smartflow-policy-sources'], 'base=model:*');
    }
    assert.equal(seen, 'Echo: mail [REDACTED:email]');
    assert.equal((await call(`${b.url}/api/policies/base`, { headers: authHeaders() })).json.effective_guardrails[0], 'pii');

    assert.equal((await call(`${a.url}/api/policies/attachments?policy=base&scope=model&pattern=*`, { method: 'DELETE', headers: { authorization: authHeaders().authorization! } })).status, 200);
    for (let i = 0; i < 100 && seen.includes('REDACTED'); i++) {
      seen = (await chat(b)).json.choices[0].message.content;
      if (seen.includes('REDACTED')) await sleep(20);
    }
    assert.equal(seen, 'Echo: mail jane.doe@corp.io');
  });
});
