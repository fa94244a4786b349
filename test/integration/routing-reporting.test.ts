import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';

/** An OpenAI-compatible upstream (`primary`) and an Anthropic one, both steerable per request by x-fake-* headers. */
function providers(primary: FakeUpstream, anthropic: FakeUpstream): Record<string, unknown> {
  return {
    primary: { type: 'openai', base_url: `${primary.url}/v1`, api_key: 'sk-primary-secret', forward_headers: ['x-fake-*'] },
    anthropic: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-secret', forward_headers: ['x-fake-*'] },
  };
}

function chat(gw: TestGateway, model: string, extra: Record<string, unknown> = {}, key?: string): Promise<Res> {
  return call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(key), body: { model, messages: [{ role: 'user', content: 'hi' }], ...extra } });
}

async function spendRow(gw: TestGateway, id: string): Promise<any> {
  await gw.gateway.spendLog.flush();
  const res = await call(`${gw.url}/api/spend/logs?limit=50`, { headers: authHeaders() });
  return res.json.data.find((r: any) => r.id === id);
}

describe('retries and cooldowns read the error\'s own retryability', () => {
  let primary: FakeUpstream;
  let anthropic: FakeUpstream;
  before(async () => {
    [primary, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
  });
  after(() => Promise.all([primary.close(), anthropic.close()]));

  test('Anthropic 529 overloaded is retried on the same target by default', async (t) => {
    const gw = await startTestGateway({
      providers: providers(primary, anthropic),
      logging: { level: 'warn' },
      routing: { cooldown: { cooldown_ms: 0 }, fallback_chains: [{ id: 'claude', targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }, { provider: 'primary', model: 'gpt-4o-mini' }], retry: { base_delay_ms: 10, jitter: 0 } }] },
    });
    t.after(() => gw.close());
    anthropic.reset();
    primary.reset();
    anthropic.queue.push({ status: 529 });
    const res = await chat(gw, 'claude');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-smartflow-route'], 'anthropic/claude-haiku-4-5', 'answered by the same target after a retry, not by the fallback');
    assert.equal(res.headers['x-smartflow-attempts'], '2');
    assert.equal(anthropic.requests.length, 2);
    assert.equal(primary.requests.length, 0);
    const row = await spendRow(gw, String(res.headers['x-request-id']));
    assert.deepEqual(row.attempts.map((a: any) => [a.provider, a.status]), [['anthropic', 529], ['anthropic', 200]]);
  });

  test('529s count toward the cooldown: the deployment trips and is skipped', async (t) => {
    const gw = await startTestGateway({
      providers: providers(primary, anthropic),
      logging: { level: 'warn' },
      routing: {
        cooldown: { failures: 2, window_ms: 60_000, cooldown_ms: 30_000 },
        fallback_chains: [{ id: 'claude', targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5', max_retries: 0 }, { provider: 'primary', model: 'gpt-4o-mini' }] }],
      },
    });
    t.after(() => gw.close());
    anthropic.reset();
    primary.reset();
    anthropic.steer = { status: 529 };
    t.after(() => (anthropic.steer = {}));
    for (let i = 0; i < 2; i++) assert.equal((await chat(gw, 'claude')).headers['x-smartflow-route'], 'primary/gpt-4o-mini');
    assert.equal(anthropic.requests.length, 2);
    for (let i = 0; i < 3; i++) assert.equal((await chat(gw, 'claude')).headers['x-smartflow-route'], 'primary/gpt-4o-mini');
    assert.equal(anthropic.requests.length, 2, 'after two 529s the deployment is cooling down and gets nothing');
  });

  test('an error that says it is not retryable is not retried, even with a status in retry_on', async (t) => {
    // OpenAI's 429 insufficient_quota: the account is out of credit, and waiting does not change that.
    const gw = await startTestGateway({
      providers: providers(primary, anthropic),
      logging: { level: 'warn' },
      routing: { cooldown: { cooldown_ms: 0 }, fallback_chains: [{ id: 'quota', targets: [{ provider: 'primary', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }], retry: { base_delay_ms: 10, jitter: 0 } }] },
    });
    t.after(() => gw.close());
    anthropic.reset();
    primary.reset();
    primary.queue.push({ status: 429, errorCode: 'insufficient_quota', errorMessage: 'You exceeded your current quota.' });
    const res = await chat(gw, 'quota');
    assert.equal(res.status, 200, res.text);
    assert.equal(primary.requests.length, 1, 'not retried on the same target');
    assert.equal(res.headers['x-smartflow-route'], 'anthropic/claude-haiku-4-5');
  });
});

describe('what the attempts list and the final error say', () => {
  let primary: FakeUpstream;
  let anthropic: FakeUpstream;
  before(async () => {
    [primary, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
  });
  after(() => Promise.all([primary.close(), anthropic.close()]));

  test('a target skipped for cooling down is named in the attempts list and in the final error', async (t) => {
    const clock = Date.parse('2026-06-01T12:00:00Z');
    const gw = await startTestGateway(
      {
        providers: providers(primary, anthropic),
        logging: { level: 'warn' },
        routing: {
          cooldown: { failures: 1, window_ms: 60_000, cooldown_ms: 30_000 },
          fallback_chains: [{ id: 'pair', targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5', max_retries: 0 }, { provider: 'primary', model: 'gpt-4o-mini', max_retries: 0 }] }],
        },
      },
      { now: () => clock },
    );
    t.after(() => gw.close());
    anthropic.reset();
    primary.reset();
    anthropic.queue.push({ status: 503 });
    assert.equal((await chat(gw, 'pair')).headers['x-smartflow-route'], 'primary/gpt-4o-mini');

    // Anthropic is cooling down now: skipped, and the answer's attempts list says so.
    const ok = await chat(gw, 'pair');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers['x-smartflow-attempts'], '1', 'a skipped target is not an upstream call');
    const okRow = await spendRow(gw, String(ok.headers['x-request-id']));
    assert.deepEqual(okRow.attempts.map((a: any) => [a.provider, a.status, a.skipped ?? null]), [
      ['anthropic', 0, 'cooling down until 2026-06-01T12:00:30.000Z'],
      ['primary', 200, null],
    ]);

    primary.queue.push({ status: 500 });
    const failed = await chat(gw, 'pair');
    assert.equal(failed.status, 500);
    assert.match(failed.json.error.message, /\(1 attempt failed, 1 target skipped: anthropic\/claude-haiku-4-5 skipped: cooling down until 2026-06-01T12:00:30\.000Z; primary\/gpt-4o-mini -> 500/);
    const failedRow = await spendRow(gw, String(failed.headers['x-request-id']));
    assert.equal(failedRow.attempts.length, 2);
    assert.equal(failedRow.attempts[0].skipped, 'cooling down until 2026-06-01T12:00:30.000Z');
  });

  test('each attempt\'s latency is its own: the answer\'s leaves out the failed attempt and the backoff wait', async (t) => {
    const gw = await startTestGateway({
      providers: providers(primary, anthropic),
      logging: { level: 'warn' },
      routing: { cooldown: { cooldown_ms: 0 }, fallback_chains: [{ id: 'slow-retry', targets: [{ provider: 'primary', model: 'gpt-4o-mini' }], retry: { base_delay_ms: 600, jitter: 0 } }] },
    });
    t.after(() => gw.close());
    primary.reset();
    primary.queue.push({ status: 503 });
    const res = await chat(gw, 'slow-retry');
    assert.equal(res.status, 200, res.text);
    const row = await spendRow(gw, String(res.headers['x-request-id']));
    assert.ok(row.latency_ms >= 600, `the request took the backoff too (${row.latency_ms} ms)`);
    const [failedAttempt, answer] = row.attempts;
    assert.ok(answer.latency_ms < 400, `the answering attempt took ${answer.latency_ms} ms of its own, not the 600 ms wait before it`);
    assert.ok(failedAttempt.latency_ms + answer.latency_ms + 600 <= row.latency_ms + 1, 'attempts and the wait between them fit in the request');
  });
});

describe('a stream resume that fails', () => {
  let primary: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    [primary, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
    gw = await startTestGateway({
      providers: providers(primary, anthropic),
      logging: { level: 'warn' },
      routing: {
        cooldown: { cooldown_ms: 0 },
        fallback_chains: [
          { id: 'resume', stream_resume: true, targets: [{ provider: 'primary', model: 'gpt-4o-mini', max_retries: 0 }, { provider: 'anthropic', model: 'claude-haiku-4-5', max_retries: 0 }] },
          { id: 'plain', targets: [{ provider: 'primary', model: 'gpt-4o-mini', max_retries: 0 }] },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([primary.close(), anthropic.close()]);
  });

  async function brokenStream(model: string, key: string): Promise<any> {
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...authHeaders(key), 'x-fake-break-after': '3' },
      body: JSON.stringify({ model, stream: true, max_tokens: 100, messages: [{ role: 'user', content: 'tell me a fairly long story about the sea' }] }),
    });
    assert.equal(res.statusCode, 200);
    const text = await res.body.text();
    assert.match(text, /data: \{"error":/, 'the stream ended with an error event');
    return spendRow(gw, String(res.headers['x-request-id']));
  }

  test('the request stays on the target that broke, and the broken attempt is charged once', async () => {
    const created = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { max_budget: 1 } });
    assert.equal(created.status, 201, created.text);
    const key = created.json.key;
    // The same broken stream without stream_resume: what it costs when charged once.
    const plain = await brokenStream('plain', key);
    assert.equal(plain.provider, 'primary');
    assert.ok(plain.cost_micros > 0);

    anthropic.queue.push({ status: 400 });
    const resumed = await brokenStream('resume', key);
    assert.equal(anthropic.requests.length, 1, 'the resume was tried');
    assert.equal(resumed.provider, 'primary', 'the spend row names the deployment whose answer the client got');
    assert.equal(resumed.upstream_model, 'gpt-4o-mini');
    assert.equal(resumed.cost_micros, plain.cost_micros, 'charged once, at the broken deployment\'s price');
    assert.deepEqual(resumed.attempts.map((a: any) => [a.provider, a.cost_micros > 0]), [['anthropic', false], ['primary', true]]);
    const budget = await call(`${gw.url}/api/enterprise/vkeys/${created.json.id}/budget`, { headers: authHeaders() });
    assert.equal(budget.json.spent, (plain.cost_micros + resumed.cost_micros) / 1e6, 'the budget was charged what the spend log says');
  });
});
