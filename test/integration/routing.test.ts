import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';


/** Two OpenAI-compatible upstreams (`primary`, `backup`) and an Anthropic one. */
function providers(primary: FakeUpstream, backup: FakeUpstream, anthropic: FakeUpstream): Record<string, unknown> {
  return {
    primary: { type: 'openai', base_url: `${primary.url}/v1`, api_key: 'sk-primary-secret', forward_headers: ['x-fake-*'] },
    backup: { type: 'openai', base_url: `${backup.url}/v1`, api_key: 'sk-backup-secret' },
    anthropic: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-secret' },
  };
}

function chat(url: string, model: string, extra: Record<string, unknown> = {}): Promise<Res> {
  return call(`${url}/v1/chat/completions`, { headers: authHeaders(), body: { model, messages: [{ role: 'user', content: 'hi' }], ...extra } });
}

async function spendRow(gw: TestGateway, id: string): Promise<any> {
  await gw.gateway.spendLog.flush();
  const res = await call(`${gw.url}/api/spend/logs?limit=50`, { headers: authHeaders() });
  return res.json.data.find((r: any) => r.id === id);
}

describe('fallback chains and retries', () => {
  let primary: FakeUpstream;
  let backup: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    [primary, backup, anthropic] = await Promise.all([startFakeOpenAI(), startFakeOpenAI(), startFakeAnthropic()]);
    gw = await startTestGateway({
      providers: providers(primary, backup, anthropic),
      logging: { level: 'warn' },
      routing: {
        // These tests fail targets on purpose; the cooldown has its own test.
        cooldown: { cooldown_ms: 0 },
        fallback_chains: [
          {
            id: 'main',
            models: ['assistant'],
            targets: [{ provider: 'primary', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }],
            retry: { max_attempts: 3, base_delay_ms: 200, jitter: 0, max_retry_after_ms: 2000 },
          },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([primary.close(), backup.close(), anthropic.close()]);
  });
  const resetAll = () => [primary, backup, anthropic].forEach((f) => f.reset());

  test('503 then 200 on one target: retried on the same target after the backoff', async () => {
    resetAll();
    primary.queue.push({ status: 503 });
    const started = performance.now();
    const res = await chat(gw.url, 'main');
    const elapsed = performance.now() - started;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-smartflow-attempts'], '2');
    assert.equal(res.headers['x-smartflow-route'], 'primary/gpt-4o-mini');
    assert.equal(res.headers['x-smartflow-fallback-chain'], 'main');
    assert.equal(primary.requests.length, 2);
    assert.equal(anthropic.requests.length, 0);
    assert.ok(elapsed >= 200, `the retry waited the base delay (took ${elapsed.toFixed(0)} ms)`);
    const row = await spendRow(gw, String(res.headers['x-request-id']));
    assert.equal(row.fallback_chain, 'main');
    assert.deepEqual(row.attempts.map((a: any) => [a.provider, a.status]), [['primary', 503], ['primary', 200]]);
  });

  test('400 on the first target: the next target at once, no retry', async () => {
    resetAll();
    primary.queue.push({ status: 400, errorMessage: 'bad request upstream' });
    const res = await chat(gw.url, 'assistant');
    assert.equal(res.status, 200, res.text);
    assert.equal(primary.requests.length, 1);
    assert.equal(anthropic.requests.length, 1);
    assert.equal(res.headers['x-smartflow-route'], 'anthropic/claude-haiku-4-5');
    assert.equal(res.headers['x-smartflow-attempts'], '2');
    assert.equal(res.headers['x-smartflow-fallback-chain'], 'main', 'a model bound to a chain walks it');
  });

  test('429 with Retry-After: the wait honours it; one longer than the cap moves on instead', async () => {
    resetAll();
    primary.queue.push({ status: 429, retryAfter: '1' });
    let started = performance.now();
    let res = await chat(gw.url, 'main');
    assert.equal(res.status, 200);
    assert.ok(performance.now() - started >= 1000, 'waited the second the provider asked for');
    assert.equal(primary.requests.length, 2);

    resetAll();
    primary.queue.push({ status: 429, retryAfter: '30' });
    started = performance.now();
    res = await chat(gw.url, 'main');
    assert.equal(res.status, 200);
    assert.ok(performance.now() - started < 1500, 'did not wait 30 s');
    assert.equal(res.headers['x-smartflow-route'], 'anthropic/claude-haiku-4-5');
  });

  test('every target failing: the last error, with every attempt listed', async () => {
    resetAll();
    primary.steer = { status: 503 };
    anthropic.steer = { status: 500 };
    const res = await chat(gw.url, 'main');
    primary.steer = {};
    anthropic.steer = {};
    assert.equal(res.status, 500);
    assert.equal(res.headers['x-smartflow-attempts'], '6', res.text);
    assert.match(res.json.error.message, /all 6 attempts failed: primary\/gpt-4o-mini -> 503.*anthropic\/claude-haiku-4-5 -> 500/);
    assert.equal(primary.requests.length, 3);
    assert.equal(anthropic.requests.length, 3);
    const row = await spendRow(gw, String(res.headers['x-request-id']));
    assert.equal(row.attempts.length, 6);
    assert.equal(row.status, 500);
  });

  test('a virtual key\'s budget is charged only what the attempts cost', async () => {
    resetAll();
    const created = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { max_budget: 1 } });
    assert.equal(created.status, 201, created.text);
    primary.queue.push({ status: 400 });
    const res = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(created.json.key), body: { model: 'main', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-smartflow-attempts'], '2');
    const row = await spendRow(gw, String(res.headers['x-request-id']));
    assert.ok(row.cost_micros > 0);
    assert.equal(row.attempts[0].cost_micros, 0, 'the failed attempt cost nothing');
    const budget = await call(`${gw.url}/api/enterprise/vkeys/${created.json.id}/budget`, { headers: authHeaders() });
    assert.equal(budget.json.reserved, 0);
    assert.equal(budget.json.spent, row.cost_micros / 1e6);
  });

  test('a key limited to one model cannot reach others through a chain that starts with it', async () => {
    const created = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { models: ['primary/gpt-4o-mini'] } });
    const key = created.json.key;
    const viaChain = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(key), body: { model: 'main', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(viaChain.status, 403, viaChain.text);
    assert.equal(viaChain.json.error.code, 'model_not_allowed');
    const direct = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(key), body: { model: 'primary/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(direct.status, 200, direct.text);
    const allowed = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { models: ['main'] } });
    const res = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(allowed.json.key), body: { model: 'main', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(res.status, 200, 'a key allowed the chain may use it');
  });

  test('a stream failing before its first byte falls over cleanly', async () => {
    resetAll();
    primary.queue.push({ status: 400 });
    const res = await request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: authHeaders(), body: JSON.stringify({ model: 'main', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-smartflow-route'], 'anthropic/claude-haiku-4-5');
    const text = await res.body.text();
    assert.match(text, /data: \[DONE\]/);
    assert.doesNotMatch(text, /"error"/);
  });

  test('a stream that breaks after its first byte ends with an error event and no [DONE]; no fallback', async () => {
    resetAll();
    primary.queue.push({ breakAfter: 2 });
    const res = await request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: authHeaders(), body: JSON.stringify({ model: 'main', stream: true, messages: [{ role: 'user', content: 'a longer answer please' }] }) });
    assert.equal(res.statusCode, 200);
    const text = await res.body.text();
    assert.match(text, /data: \{"error":/);
    assert.doesNotMatch(text, /\[DONE\]/);
    assert.equal(anthropic.requests.length, 0);
  });
});

test('stream_resume: a stream broken mid-way continues on the next target with the partial answer as prefill', async () => {
  const [primary, backup, anthropic] = await Promise.all([startFakeOpenAI(), startFakeOpenAI(), startFakeAnthropic()]);
  const gw = await startTestGateway({
    providers: providers(primary, backup, anthropic),
    logging: { level: 'warn' },
    routing: { fallback_chains: [{ id: 'resume', stream_resume: true, targets: [{ provider: 'primary', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }] }] },
  });
  try {
    primary.queue.push({ breakAfter: 3 });
    const res = await request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: authHeaders(), body: JSON.stringify({ model: 'resume', stream: true, messages: [{ role: 'user', content: 'tell me a fairly long story' }] }) });
    assert.equal(res.statusCode, 200);
    const text = await res.body.text();
    assert.match(text, /^: smartflow stream_resume: primary\/gpt-4o-mini broke after \d+ characters; continued on anthropic\/claude-haiku-4-5$/m);
    assert.match(text, /data: \[DONE\]\n\n$/);
    assert.doesNotMatch(text, /"error"/);
    const prefill = anthropic.requests[0]!.body.messages.at(-1);
    assert.equal(prefill.role, 'assistant');
    const partial = [...text.split(': smartflow')[0]!.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('');
    assert.ok(partial.length > 0);
    assert.equal(JSON.stringify(prefill.content).includes(partial), true, 'the prefill is the text the client already received');
    const row = await spendRow(gw, String(res.headers['x-request-id']));
    assert.deepEqual(row.attempts.map((a: any) => a.provider), ['primary', 'anthropic']);
    assert.equal(row.provider, 'anthropic');
  } finally {
    await gw.close();
    await Promise.all([primary.close(), backup.close(), anthropic.close()]);
  }
});

test('a cached answer through a chain is keyed by the chain, whichever target answered', async () => {
  const [primary, backup, anthropic] = await Promise.all([startFakeOpenAI(), startFakeOpenAI(), startFakeAnthropic()]);
  const gw = await startTestGateway({
    providers: providers(primary, backup, anthropic),
    logging: { level: 'warn' },
    cache: { models: { cached: { enabled: true } } },
    routing: { fallback_chains: [{ id: 'cached', targets: [{ provider: 'primary', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }] }] },
  });
  try {
    primary.queue.push({ status: 400 });
    const first = await chat(gw.url, 'cached');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers['x-smartflow-route'], 'anthropic/claude-haiku-4-5');
    const second = await chat(gw.url, 'cached');
    assert.equal(second.headers['x-smartflow-cache'], 'HIT');
    assert.equal(second.headers['x-smartflow-cache-key'], first.headers['x-smartflow-cache-key']);
    assert.equal(primary.requests.length, 1);
    assert.equal(anthropic.requests.length, 1);
  } finally {
    await gw.close();
    await Promise.all([primary.close(), backup.close(), anthropic.close()]);
  }
});

describe('load balancing and cooldowns', () => {
  let primary: FakeUpstream;
  let backup: FakeUpstream;
  let anthropic: FakeUpstream;
  before(async () => {
    [primary, backup, anthropic] = await Promise.all([startFakeOpenAI(), startFakeOpenAI(), startFakeAnthropic()]);
  });
  after(() => Promise.all([primary.close(), backup.close(), anthropic.close()]));

  test('weighted balancing over 1,000 requests follows the weights (3:1) within tolerance', async (t) => {
    const gw = await startTestGateway({
      providers: providers(primary, backup, anthropic),
      logging: { level: 'warn', access_log: false },
      models: [
        { name: 'balanced', provider: 'primary', model: 'gpt-4o-mini', weight: 3 },
        { name: 'balanced', provider: 'backup', model: 'gpt-4o-mini', weight: 1 },
      ],
    });
    t.after(() => gw.close());
    primary.reset();
    backup.reset();
    for (let batch = 0; batch < 20; batch++) {
      const results = await Promise.all(Array.from({ length: 50 }, () => chat(gw.url, 'balanced')));
      assert.ok(results.every((r) => r.status === 200));
    }
    const share = primary.requests.length / 1000;
    assert.equal(primary.requests.length + backup.requests.length, 1000);
    // Binomial(1000, 0.75): sd ~ 0.0137; five sd either side.
    assert.ok(share > 0.68 && share < 0.82, `primary got ${(share * 100).toFixed(1)}%`);
  });

  test('round robin alternates; a failing deployment falls over to the rest of its group', async (t) => {
    const gw = await startTestGateway({
      providers: providers(primary, backup, anthropic),
      logging: { level: 'warn' },
      models: [
        { name: 'rr', provider: 'primary', model: 'gpt-4o-mini' },
        { name: 'rr', provider: 'backup', model: 'gpt-4o-mini' },
      ],
      routing: { groups: { rr: { strategy: 'round_robin' } } },
    });
    t.after(() => gw.close());
    const routes = [];
    for (let i = 0; i < 4; i++) routes.push((await chat(gw.url, 'rr')).headers['x-smartflow-route']);
    assert.deepEqual(routes, ['primary/gpt-4o-mini', 'backup/gpt-4o-mini', 'primary/gpt-4o-mini', 'backup/gpt-4o-mini']);
    primary.queue.push({ status: 503 });
    const res = await chat(gw.url, 'rr');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-smartflow-route'], 'backup/gpt-4o-mini');
  });

  test('cooldown: a deployment failing 2 times is skipped for the cooldown, on another instance too, then used again', async (t) => {
    let clock = Date.parse('2026-06-01T12:00:00Z');
    const prefix = `sf-test-cooldown-${randomUUID()}:`;
    const config = {
      providers: providers(primary, backup, anthropic),
      logging: { level: 'warn' },
      store: { type: 'redis', url: REDIS_URL, prefix },
      models: [
        { name: 'pair', provider: 'primary', model: 'gpt-4o-mini' },
        { name: 'pair', provider: 'backup', model: 'gpt-4o-mini' },
      ],
      routing: { groups: { pair: { strategy: 'round_robin' } }, cooldown: { failures: 2, window_ms: 60_000, cooldown_ms: 30_000 } },
    };
    const a = await startTestGateway(config, { now: () => clock });
    const b = await startTestGateway(config, { now: () => clock });
    t.after(async () => {
      await a.close();
      await b.close();
      await flushRedisPrefix(prefix);
    });
    primary.reset();
    backup.reset();
    primary.steer = { status: 503 };
    t.after(() => (primary.steer = {}));
    // Round robin starts on primary: each of these fails there first and is answered by backup.
    assert.equal((await chat(a.url, 'pair')).status, 200);
    await chat(a.url, 'pair');
    await chat(a.url, 'pair');
    const failuresSeen = primary.requests.length;
    assert.equal(failuresSeen, 2, 'primary was tried until it tripped');
    // The other instance hears of the trip through Redis pub/sub.
    for (let i = 0; i < 100 && !b.gateway.routing.cooldowns.isCooling('primary/gpt-4o-mini'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(b.gateway.routing.cooldowns.isCooling('primary/gpt-4o-mini'), 'the second instance learned of the cooldown within a second');
    // Now cooling: neither instance sends it anything.
    for (let i = 0; i < 4; i++) {
      assert.equal((await chat(a.url, 'pair')).headers['x-smartflow-route'], 'backup/gpt-4o-mini');
      assert.equal((await chat(b.url, 'pair')).headers['x-smartflow-route'], 'backup/gpt-4o-mini');
    }
    assert.equal(primary.requests.length, failuresSeen);
    primary.steer = {};
    clock += 31_000;
    const routes = new Set<string>();
    for (let i = 0; i < 4; i++) routes.add(String((await chat(a.url, 'pair')).headers['x-smartflow-route']));
    assert.ok(routes.has('primary/gpt-4o-mini'), 'primary is used again after the cooldown');
  });
});

describe('the chains API', () => {
  let primary: FakeUpstream;
  let anthropic: FakeUpstream;
  let a: TestGateway;
  let b: TestGateway;
  const prefix = `sf-test-chains-${randomUUID()}:`;
  before(async () => {
    [primary, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
    const config = {
      providers: providers(primary, primary, anthropic),
      logging: { level: 'warn' },
      store: { type: 'redis', url: REDIS_URL, prefix },
      routing: { fallback_chains: [{ id: 'from-config', targets: [{ model: 'gpt-4o-mini' }] }] },
    };
    a = await startTestGateway(config);
    b = await startTestGateway(config);
  });
  after(async () => {
    await a.close();
    await b.close();
    await Promise.all([primary.close(), anthropic.close()]);
    await flushRedisPrefix(prefix);
  });
  const api = (gw: TestGateway, path = '') => `${gw.url}/api/routing/fallback-chains${path}`;

  test('invalid chains get 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ id: 'empty', targets: [] }, 'targets'],
      [{ id: 'bad-provider', targets: [{ provider: 'nope', model: 'x' }] }, 'targets[0].provider'],
      [{ id: 'bad-model', targets: [{ model: 'no-such-model' }] }, 'targets[0].model'],
      [{ id: 'bad-chain', targets: [{ chain: 'missing' }] }, 'targets[0].chain'],
      [{ id: 'self', targets: [{ chain: 'self' }] }, 'targets[0].chain'],
      [{ id: 'x', targets: [{ model: 'gpt-4o-mini' }], retry: { jitter: 2 } }, 'retry.jitter'],
    ];
    for (const [body, param] of cases) {
      const res = await call(api(a), { headers: authHeaders(), body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.error.param, param, res.text);
    }
  });

  test('a cycle between chains is refused', async () => {
    assert.equal((await call(api(a), { headers: authHeaders(), body: { id: 'c1', targets: [{ model: 'gpt-4o-mini' }] } })).status, 201);
    assert.equal((await call(api(a), { headers: authHeaders(), body: { id: 'c2', targets: [{ chain: 'c1' }] } })).status, 201);
    const res = await call(api(a, '/c1'), { method: 'PUT', headers: authHeaders(), body: { targets: [{ chain: 'c2' }] } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.param, 'targets[0].chain');
    assert.match(res.json.error.message, /cycle: c1 -> c2 -> c1/);
  });

  test('create, replace and delete apply on another instance without a restart', async () => {
    const created = await call(api(a), { headers: authHeaders(), body: { id: 'live', targets: [{ provider: 'primary', model: 'gpt-4o-mini' }] } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.source, 'api');
    // The other instance hears of the new chain over the store's pub/sub, within milliseconds.
    let res = await chat(b.url, 'live');
    for (let i = 0; i < 100 && res.status === 404; i++) {
      await new Promise((r) => setTimeout(r, 10));
      res = await chat(b.url, 'live');
    }
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-smartflow-route'], 'primary/gpt-4o-mini');

    const replaced = await call(api(a, '/live'), { method: 'PUT', headers: authHeaders(), body: { targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }] } });
    assert.equal(replaced.status, 200, replaced.text);
    for (let i = 0; i < 100; i++) {
      res = await chat(b.url, 'live');
      if (res.headers['x-smartflow-route'] === 'anthropic/claude-haiku-4-5') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(res.headers['x-smartflow-route'], 'anthropic/claude-haiku-4-5');

    const listed = await call(api(b), { headers: authHeaders() });
    assert.ok(listed.json.data.some((c: any) => c.id === 'from-config' && c.source === 'config'));
    assert.equal((await call(api(a, '/from-config'), { method: 'DELETE', headers: { authorization: `Bearer ${MASTER_KEY}` } })).status, 400, 'config chains are read-only');
    assert.equal((await call(api(a, '/live'), { method: 'DELETE', headers: { authorization: `Bearer ${MASTER_KEY}` } })).status, 200);
    for (let i = 0; i < 100; i++) {
      res = await chat(b.url, 'live');
      if (res.status === 404) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(res.status, 404);
    assert.equal((await call(api(a, '/live'), { headers: authHeaders() })).status, 404);
  });
});
