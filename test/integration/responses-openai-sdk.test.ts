import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';

/**
 * The openai SDK's `client.responses` pointed at the gateway gets Responses API answers (plain,
 * streamed, with function tools) from OpenAI- (natively), Anthropic- and Gemini-shaped upstreams
 * (translated); what the gateway cannot honour is refused with a 400 naming the field.
 */
describe('POST /v1/responses through the openai SDK', () => {
  let openaiFake: FakeUpstream;
  let anthropicFake: FakeUpstream;
  let geminiFake: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  before(async () => {
    [openaiFake, anthropicFake, geminiFake] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini()]);
    gw = await startTestGateway({
      providers: fakeProviders({ openai: openaiFake.url, anthropic: anthropicFake.url, gemini: geminiFake.url }),
      models: [
        { name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' },
        { name: 'claude-sonnet-4-5', provider: 'anthropic', model: 'claude-sonnet-4-5' },
        { name: 'gemini-2.5-flash', provider: 'google', model: 'gemini-2.5-flash' },
      ],
      logging: { level: 'warn' },
    });
    client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });

  after(async () => {
    await gw.close();
    await Promise.all([openaiFake.close(), anthropicFake.close(), geminiFake.close()]);
  });

  const weatherTool: OpenAI.Responses.FunctionTool = {
    type: 'function',
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
    strict: false,
  };

  /** Where each model's upstream request went, to show native vs translated. */
  const upstreamPath: Record<string, RegExp> = {
    'gpt-4o-mini': /^\/v1\/responses$/,
    'claude-sonnet-4-5': /^\/v1\/messages$/,
    'gemini-2.5-flash': /generateContent/,
  };
  const fakeFor = (model: string): FakeUpstream => (model.startsWith('gpt') ? openaiFake : model.startsWith('claude') ? anthropicFake : geminiFake);

  for (const model of ['gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash']) {
    test(`${model}: plain response`, async () => {
      const res = await client.responses.create({ model, instructions: 'Be brief.', input: 'hello there' });
      assert.equal(res.object, 'response');
      assert.equal(res.status, 'completed');
      assert.match(res.id, /^resp_/);
      assert.equal(res.output_text, 'Echo: hello there');
      assert.equal(res.output.length, 1);
      assert.equal(res.output[0]?.type, 'message');
      assert.ok((res.usage?.input_tokens ?? 0) > 0);
      assert.ok((res.usage?.output_tokens ?? 0) > 0);
      assert.equal(res.usage?.total_tokens, (res.usage?.input_tokens ?? 0) + (res.usage?.output_tokens ?? 0));
      assert.equal((res as unknown as { store: boolean }).store, false);
      assert.match(fakeFor(model).requests.at(-1)!.url, upstreamPath[model]!);
    });

    test(`${model}: streamed response events, numbered, ending with response.completed`, async () => {
      const stream = await client.responses.create({ model, input: 'stream me please', stream: true });
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      assert.equal(events[0]?.type, 'response.created');
      assert.equal(events[1]?.type, 'response.in_progress');
      assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
      let text = '';
      for (const e of events) if (e.type === 'response.output_text.delta') text += e.delta;
      assert.equal(text, 'Echo: stream me please');
      const done = events.find((e) => e.type === 'response.output_text.done');
      assert.equal(done?.type === 'response.output_text.done' && done.text, 'Echo: stream me please');
      const last = events.at(-1);
      assert.equal(last?.type, 'response.completed');
      assert.ok(last?.type === 'response.completed' && (last.response.usage?.output_tokens ?? 0) > 0, 'the final event carries the usage');
      assert.equal(last?.type === 'response.completed' && last.response.output_text, undefined, 'output_text is an SDK convenience, not on the wire');
    });

    test(`${model}: function tool call, then its output`, async () => {
      const first = await client.responses.create({ model, tools: [weatherTool], input: 'Paris' });
      const fc = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === 'function_call');
      assert.ok(fc, 'a function_call item');
      assert.equal(fc.name, 'get_weather');
      assert.ok(fc.call_id);
      assert.deepEqual(JSON.parse(fc.arguments), { query: 'Paris' });
      const second = await client.responses.create({
        model,
        tools: [weatherTool],
        input: [{ role: 'user', content: 'Paris' }, fc, { type: 'function_call_output', call_id: fc.call_id, output: 'sunny' }],
      });
      assert.match(second.output_text, /sunny/);
    });

    test(`${model}: streamed tool call through the SDK's stream helper, whose accumulator checks every event`, async () => {
      const runner = client.responses.stream({ model, tools: [weatherTool], input: 'Rome' });
      let args = '';
      runner.on('response.function_call_arguments.delta', (e) => (args += e.delta));
      const final = await runner.finalResponse();
      const fc = final.output.find((o) => o.type === 'function_call');
      assert.ok(fc?.type === 'function_call');
      assert.equal(fc.name, 'get_weather');
      assert.equal(fc.status, 'completed');
      assert.deepEqual(JSON.parse(fc.arguments), { query: 'Rome' });
      assert.equal(args, fc.arguments, 'the deltas add up to the arguments');
    });
  }

  test('OpenAI-compatible upstreams get the body natively: reasoning, include, custom tools and reasoning items untouched, store forced off, cache controls removed', async () => {
    const input: OpenAI.Responses.ResponseInput = [
      { type: 'reasoning', id: 'rs_prev', summary: [], encrypted_content: 'enc_prev' },
      { role: 'user', content: 'patch please' },
    ];
    const res = await client.responses.create({
      model: 'gpt-4o-mini',
      input,
      reasoning: { effort: 'low' },
      include: ['reasoning.encrypted_content'],
      tools: [{ type: 'custom', name: 'apply_patch', description: 'Apply a patch' }],
      // @ts-expect-error: the gateway's own cache controls
      cache: { 'no-store': true },
    });
    const up = openaiFake.requests.at(-1)!;
    assert.equal(up.url, '/v1/responses');
    assert.deepEqual(up.body, { model: 'gpt-4o-mini', input, reasoning: { effort: 'low' }, include: ['reasoning.encrypted_content'], tools: [{ type: 'custom', name: 'apply_patch', description: 'Apply a patch' }], store: false });
    assert.equal(up.headers.authorization, 'Bearer sk-upstream-openai-secret');
    const reasoning = res.output.find((o) => o.type === 'reasoning');
    assert.equal(reasoning?.type === 'reasoning' && reasoning.encrypted_content, `enc_${res.id.slice('resp_'.length)}`, 'the answer comes back as the upstream sent it');
  });

  test('what chat has no equivalent for is dropped for a translated model and named in x-smartflow-dropped', async () => {
    const { data, response } = await client.responses.create({ model: 'claude-sonnet-4-5', input: 'x', tools: [{ type: 'local_shell' }] }).withResponse();
    assert.equal(data.output_text, 'Echo: x');
    assert.equal(response.headers.get('x-smartflow-dropped'), 'tools[0].type=local_shell');
  });

  for (const stream of [false, true]) {
    test(`a custom tool runs as a function for a translated model; its call comes back as a custom_tool_call${stream ? ', streamed' : ''}`, async () => {
      const tools: OpenAI.Responses.Tool[] = [{ type: 'custom', name: 'apply_patch', description: 'Apply a patch' }];
      const res = stream
        ? await client.responses.stream({ model: 'claude-sonnet-4-5', input: 'patch it', tools }).finalResponse()
        : await client.responses.create({ model: 'claude-sonnet-4-5', input: 'patch it', tools });
      const up = anthropicFake.requests.at(-1)!.body;
      assert.deepEqual(up.tools[0].input_schema.required, ['input']);
      const call = res.output.find((o) => o.type === 'custom_tool_call');
      assert.ok(call && call.type === 'custom_tool_call', JSON.stringify(res.output));
      assert.equal(call.name, 'apply_patch');
      // The fake calls the tool with {"query": ...} rather than {"input": ...}: the arguments come back as the input.
      assert.equal(call.input, '{"query":"patch it"}');
    });
  }

  test('a reasoning item from an earlier turn is dropped for a translated model', async () => {
    const res = await client.responses.create({ model: 'claude-sonnet-4-5', input: [{ type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'x' }, { role: 'user', content: 'go on' }] });
    assert.equal(res.output_text, 'Echo: go on');
    assert.deepEqual(anthropicFake.requests.at(-1)!.body.messages, [{ role: 'user', content: 'go on' }]);
  });

  const refusals: Array<[string, Record<string, unknown>, string]> = [
    ['previous_response_id', { previous_response_id: 'resp_1' }, 'previous_response_id'],
    ['store: true', { store: true }, 'store'],
    ['background mode', { background: true }, 'background'],
    ['an item_reference', { input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0].type'],
  ];
  for (const [what, extra, param] of refusals) {
    test(`${what} is refused with a 400 naming ${param}, before any provider is called`, async () => {
      const before = openaiFake.requests.length;
      const res = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body: { model: 'gpt-4o-mini', input: 'hi', ...extra } });
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(Object.keys(res.json), ['error']);
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.equal(res.json.error.param, param);
      assert.equal(openaiFake.requests.length, before);
    });
  }

  test('errors are OpenAI error JSON: unknown model, no key, no stored responses to retrieve, and an upstream error with its status', async () => {
    const unknown = await call(`${gw.url}/responses`, { headers: authHeaders(), body: { model: 'no-such-model', input: 'hi' } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'model_not_found');
    const anonymous = await call(`${gw.url}/v1/responses`, { headers: { 'content-type': 'application/json' }, body: { model: 'gpt-4o-mini', input: 'hi' } });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.error.code, 'missing_api_key');
    await assert.rejects(client.responses.retrieve('resp_123'), (err: unknown) => err instanceof OpenAI.NotFoundError && err.code === 'route_not_found');
    await assert.rejects(client.responses.create({ model: 'claude-sonnet-4-5', input: 'hi' }, { headers: { 'x-fake-status': '429', 'x-fake-retry-after': '3' } }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(err.headers.get('retry-after'), '3');
      return true;
    });
  });

  for (const model of ['gpt-4o-mini', 'claude-sonnet-4-5']) {
    test(`${model}: a stream that breaks after it started ends with error and response.failed events, never response.completed`, async () => {
      const res = await fetch(`${gw.url}/v1/responses`, {
        method: 'POST',
        headers: { ...authHeaders(), 'x-fake-break-after': '4' },
        body: JSON.stringify({ model, input: 'a longer answer that will be cut off', stream: true }),
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      const events = text.trim().split('\n\n').map((f) => JSON.parse(f.slice(f.indexOf('data: ') + 6)) as { type: string; sequence_number: number; code?: string; response?: { status: string; error: { code: string } } });
      assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
      assert.deepEqual(events.slice(-2).map((e) => e.type), ['error', 'response.failed']);
      assert.equal(events.at(-2)?.code, 'stream_interrupted');
      assert.equal(events.at(-1)?.response?.status, 'failed');
      assert.equal(events.at(-1)?.response?.error.code, 'stream_interrupted');
      assert.ok(!events.some((e) => e.type === 'response.completed'));
      assert.doesNotMatch(text, /\[DONE\]/);
    });
  }

  test('/cursor/v1/responses and /cursor/responses answer too, saying which provider family served them', async () => {
    for (const [path, model, family] of [['/cursor/v1/responses', 'claude-sonnet-4-5', 'anthropic'], ['/cursor/responses', 'gemini-2.5-flash', 'google'], ['/cursor/v1/responses', 'gpt-4o-mini', 'openai']] as const) {
      const res = await call(`${gw.url}${path}`, { headers: authHeaders(), body: { model, input: 'hi' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.output[0].content[0].text, 'Echo: hi');
      assert.equal(res.headers['x-smartflow-passthrough'], family);
    }
    const failed = await call(`${gw.url}/cursor/responses`, { headers: { ...authHeaders(), 'x-fake-status': '400' }, body: { model: 'claude-sonnet-4-5', input: 'hi' } });
    assert.equal(failed.status, 400);
    assert.equal(failed.headers['x-smartflow-passthrough'], 'anthropic', 'errors say it too');
    const plain = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body: { model: 'claude-sonnet-4-5', input: 'hi' } });
    assert.equal(plain.headers['x-smartflow-passthrough'], undefined, 'only /cursor adds it');
  });
});

test('responses_api: chat sends /v1/responses to an OpenAI-compatible server as chat completions (servers without a Responses API)', async () => {
  const fake = await startFakeOpenAI();
  const gw = await startTestGateway({
    providers: { vllm: { type: 'openai', base_url: `${fake.url}/v1`, api_key: 'sk-vllm', responses_api: 'chat' } },
    models: [{ name: 'local-llama', provider: 'vllm', model: 'llama-3.1-8b' }],
    logging: { level: 'warn' },
  });
  try {
    const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const response = await client.responses.create({ model: 'local-llama', input: 'Hello there' });
    assert.ok(response.output_text.length > 0);
    assert.deepEqual(fake.requests.map((r) => r.url), ['/v1/chat/completions']);
  } finally {
    await gw.close();
    await fake.close();
  }
});
