import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

/**
 * `/v1/responses` gets what every /v1 route gets: virtual-key budgets, the spend log, the
 * response cache and fallback chains, whether a deployment answers natively or translated.
 */
describe('the Responses API through the pipeline', () => {
  let openaiFake: FakeUpstream;
  let anthropicFake: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    [openaiFake, anthropicFake] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
    gw = await startTestGateway({
      providers: {
        openai: { type: 'openai', base_url: `${openaiFake.url}/v1`, api_key: 'sk-upstream-openai-secret', forward_headers: ['x-fake-*'] },
        anthropic: { type: 'anthropic', base_url: anthropicFake.url, api_key: 'sk-ant-upstream-secret', forward_headers: ['x-fake-*'] },
      },
      models: [
        // Priced so the arithmetic is readable: 10 and 20 micro-USD per input and output token.
        { name: 'metered', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 },
        { name: 'cached', provider: 'anthropic', model: 'claude-haiku-4-5' },
      ],
      cache: { models: { cached: { enabled: true } } },
      routing: {
        cooldown: { cooldown_ms: 0 },
        fallback_chains: [{ id: 'resp-chain', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }], retry: { max_attempts: 1 } }],
      },
      logging: { level: 'warn' },
    });
  });

  after(async () => {
    await gw.close();
    await Promise.all([openaiFake.close(), anthropicFake.close()]);
  });

  async function spendRow(requestId: string): Promise<any> {
    await gw.gateway.spendLog.flush();
    const logs = await call(`${gw.url}/api/spend/logs?limit=1000`, { headers: authHeaders() });
    const row = logs.json.data.find((r: { id: string }) => r.id === requestId);
    assert.ok(row, `a spend log row for ${requestId}`);
    return row;
  }

  async function settledBudget(id: string): Promise<{ spent: number; reserved: number }> {
    for (let i = 0; ; i++) {
      const res = await call(`${gw.url}/api/enterprise/vkeys/${id}/budget`, { headers: authHeaders() });
      if (res.json.reserved === 0 || i === 100) return res.json;
      await sleep(20);
    }
  }

  test('a translated answer charges the virtual key what the provider reported, and is in the spend log', async () => {
    const { id, key } = await createKey(gw.url, { max_budget: 1 });
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const { data, response } = await client.responses.create({ model: 'claude-sonnet-4-5', input: 'price me' }).withResponse();
    // claude-sonnet-4-5 from the built-in table: $3 in / $15 out per million tokens.
    const cost = data.usage!.input_tokens * 3 + data.usage!.output_tokens * 15;
    assert.equal(Number(response.headers.get('x-smartflow-cost-micros')), cost);
    assert.ok(response.headers.get('x-smartflow-budget-remaining'));
    const budget = await settledBudget(id);
    assert.equal(budget.spent, cost / 1e6);
    const row = await spendRow(response.headers.get('x-request-id')!);
    assert.deepEqual(
      { operation: row.operation, provider: row.provider, model: row.model, stream: row.stream, status: row.status, input: row.input_tokens, output: row.output_tokens, cost: row.cost_micros, key: row.key_id },
      { operation: 'responses', provider: 'anthropic', model: 'claude-sonnet-4-5', stream: false, status: 200, input: data.usage!.input_tokens, output: data.usage!.output_tokens, cost, key: id },
    );
  });

  test('a native stream is charged by the usage in its response.completed event', async () => {
    const { id, key } = await createKey(gw.url, { max_budget: 1 });
    const res = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: authHeaders(key), body: JSON.stringify({ model: 'metered', input: 'count the cost of this stream', stream: true }) });
    const frames = (await res.text()).trim().split('\n\n');
    const completed = JSON.parse(frames.at(-1)!.split('\ndata: ')[1]!) as { type: string; response: { usage: { input_tokens: number; output_tokens: number } } };
    assert.equal(completed.type, 'response.completed');
    const { input_tokens, output_tokens } = completed.response.usage;
    const cost = input_tokens * 10 + output_tokens * 20;
    const budget = await settledBudget(id);
    assert.equal(budget.reserved, 0);
    assert.equal(budget.spent, cost / 1e6);
    const row = await spendRow(res.headers.get('x-request-id')!);
    assert.deepEqual({ operation: row.operation, provider: row.provider, stream: row.stream, input: row.input_tokens, output: row.output_tokens, cost: row.cost_micros }, { operation: 'responses', provider: 'openai', stream: true, input: input_tokens, output: output_tokens, cost });
    assert.ok(row.ttft_ms !== null, 'time to first token is recorded');
  });

  test('a key whose budget cannot cover the request gets 429 budget_exceeded and no provider call', async () => {
    const { key } = await createKey(gw.url, { max_budget: 0.000001 });
    const before = openaiFake.requests.length;
    const res = await call(`${gw.url}/v1/responses`, { headers: authHeaders(key), body: { model: 'metered', input: 'too dear', max_output_tokens: 1000 } });
    assert.equal(res.status, 429, res.text);
    assert.equal(res.json.error.code, 'budget_exceeded');
    assert.equal(openaiFake.requests.length, before);
  });

  test('answers are cached per form and replayed verbatim; the key is the Responses body, apart from chat completions', async () => {
    const ask = (body: Record<string, unknown>) => call(`${gw.url}/v1/responses`, { headers: authHeaders(), body: { model: 'cached', input: 'cache this answer', ...body } });
    const calls = () => anthropicFake.requests.length;
    const before = calls();
    const first = await ask({});
    const second = await ask({});
    assert.equal(first.headers['x-smartflow-cache'], 'STORED');
    assert.equal(second.headers['x-smartflow-cache'], 'HIT');
    assert.equal(second.headers['x-smartflow-cache-key'], first.headers['x-smartflow-cache-key']);
    assert.equal(second.text, first.text);
    assert.equal(calls(), before + 1);

    const streamed = await ask({ stream: true });
    assert.equal(streamed.headers['x-smartflow-cache'], 'MISS', 'a stream has its own entry');
    assert.notEqual(streamed.headers['x-smartflow-cache-key'], first.headers['x-smartflow-cache-key']);
    const replayed = await ask({ stream: true });
    assert.equal(replayed.headers['x-smartflow-cache'], 'HIT');
    assert.equal(replayed.text, streamed.text);
    assert.match(replayed.text, /^event: response\.created\n/);
    assert.match(replayed.text, /event: response\.completed\n[^\n]+\n\n$/);
    assert.equal(calls(), before + 2);

    const otherEffort = await ask({ reasoning: { effort: 'high' } });
    assert.equal(otherEffort.headers['x-smartflow-cache'], 'STORED', 'a field only native providers read still changes the key');
    const chat = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(), body: { model: 'cached', messages: [{ role: 'user', content: 'cache this answer' }] } });
    assert.equal(chat.headers['x-smartflow-cache'], 'STORED', 'chat completions never get a Responses answer');
    assert.equal(chat.json.object, 'chat.completion');
  });

  test('a fallback chain falls over from a native target to a translated one, plain and streamed', async () => {
    const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    openaiFake.queue.push({ status: 500 });
    const { data, response } = await client.responses.create({ model: 'resp-chain', input: 'fall over' }).withResponse();
    assert.equal(data.output_text, 'Echo: fall over');
    assert.equal(response.headers.get('x-smartflow-route'), 'anthropic/claude-haiku-4-5');
    assert.equal(response.headers.get('x-smartflow-attempts'), '2');
    assert.equal(openaiFake.requests.at(-1)!.url, '/v1/responses', 'the first attempt was native');

    openaiFake.queue.push({ status: 500 });
    const final = await client.responses.stream({ model: 'resp-chain', input: 'fall over streaming' }).finalResponse();
    assert.equal(final.output_text, 'Echo: fall over streaming');
    assert.equal(final.status, 'completed');
  });

  test('a fallback to a translated target serves without what it cannot translate, and says so in x-smartflow-dropped; a native attempt gets it all', async () => {
    const body = { model: 'resp-chain', input: 'x', tools: [{ type: 'local_shell' }] };
    const native = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body });
    assert.equal(native.status, 200, native.text);
    assert.equal(native.headers['x-smartflow-dropped'], undefined);
    assert.deepEqual(openaiFake.requests.at(-1)!.body.tools, [{ type: 'local_shell' }]);

    openaiFake.queue.push({ status: 500 });
    const fellOver = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body });
    assert.equal(fellOver.status, 200, fellOver.text);
    assert.equal(fellOver.json.output[0].content[0].text, 'Echo: x');
    assert.equal(fellOver.headers['x-smartflow-dropped'], 'tools[0].type=local_shell');
    assert.equal(anthropicFake.requests.at(-1)!.body.tools, undefined);
  });
});
