import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeAnthropic } from '../../helpers/fake-anthropic.js';
import { anthropicTranslator } from '../../../src/providers/anthropic/translator.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import type { OpenAIChatChunk, OpenAIChatRequest, ProviderConfig, SseEvent } from '../../../src/providers/types.js';

const HEADERS = { 'content-type': 'application/json', 'x-api-key': 'sk-ant-fake', 'anthropic-version': '2023-06-01' };

function provider(url: string): ProviderConfig {
  return { name: 'anthropic', type: 'anthropic', base_url: url, api_key: 'sk-ant-fake', headers: {}, forward_headers: [], timeout_ms: 5000, responses_api: 'native' };
}

/** Minimal SSE parser: blocks separated by a blank line, `event:` and `data:` lines. */
function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    events.push(event === undefined ? { data: data.join('\n') } : { event, data: data.join('\n') });
  }
  return events;
}

async function postMessages(url: string, body: unknown, headers: Record<string, string> = HEADERS): Promise<Response> {
  return fetch(`${url}/v1/messages`, { method: 'POST', headers, body: JSON.stringify(body) });
}

test('fake anthropic', async (t) => {
  const fake = await startFakeAnthropic();
  t.after(() => fake.close());
  t.beforeEach(() => fake.reset());

  await t.test('answers a plain message in the Messages format and records the request', async () => {
    const res = await postMessages(fake.url, { model: 'claude-fake-1', max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }] });
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assert.equal(body.type, 'message');
    assert.equal(body.role, 'assistant');
    assert.match(body.id, /^msg_fake_/);
    assert.deepEqual(body.content, [{ type: 'text', text: 'Echo: Hello' }]);
    assert.equal(body.stop_reason, 'end_turn');
    assert.equal(body.usage.output_tokens, 3);
    assert.equal(typeof body.usage.input_tokens, 'number');
    assert.equal(fake.requests.length, 1);
    assert.equal(fake.requests[0]?.headers['x-api-key'], 'sk-ant-fake');
  });

  await t.test('round trip through the translator: OpenAI request in, OpenAI completion out', async () => {
    const req: OpenAIChatRequest = { model: 'smart', messages: [{ role: 'system', content: 'Be nice.' }, { role: 'user', content: 'Hi there' }] };
    const up = anthropicTranslator.toUpstreamRequest(req, 'claude-fake-1', provider(fake.url));
    const res = await fetch(up.url, { method: up.method, headers: up.headers, body: up.body ?? null });
    assert.equal(res.status, 200);
    const { completion, usage } = anthropicTranslator.fromUpstreamResponse(await res.json(), 'smart', 1);
    assert.equal(completion.choices[0]?.message.content, 'Echo: Hi there');
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.equal(usage.output_tokens, 4);
    assert.equal(fake.requests[0]?.body.system, 'Be nice.');
  });

  await t.test('streams the real event sequence, which the stream translator turns into OpenAI chunks', async () => {
    const req: OpenAIChatRequest = { model: 'smart', stream: true, messages: [{ role: 'user', content: 'stream me please' }] };
    const up = anthropicTranslator.toUpstreamRequest(req, 'claude-fake-1', provider(fake.url));
    const res = await fetch(up.url, { method: up.method, headers: up.headers, body: up.body ?? null });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = parseSse(await res.text());
    const names = events.map((e) => e.event);
    assert.deepEqual(names.slice(0, 3), ['message_start', 'content_block_start', 'ping']);
    assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    const deltas = events.filter((e) => e.event === 'content_block_delta').map((e) => JSON.parse(e.data).delta.text as string);
    assert.ok(deltas.length > 1, 'text is split into several deltas');
    assert.equal(deltas.join(''), 'Echo: stream me please');

    const translator = anthropicTranslator.createStreamTranslator('smart', 1);
    const chunks: OpenAIChatChunk[] = events.flatMap((e) => translator.push(e));
    assert.equal(translator.finished, true);
    assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'Echo: stream me please');
    assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, 'stop');
    assert.equal(chunks.at(-1)?.usage?.completion_tokens, translator.usage().output_tokens);
  });

  await t.test('answers with a tool_use of the first tool, then uses the tool result', async () => {
    const tools = [{ name: 'search', input_schema: { type: 'object' } }, { name: 'other', input_schema: { type: 'object' } }];
    const res = await postMessages(fake.url, { model: 'm', max_tokens: 100, tools, messages: [{ role: 'user', content: 'cats' }] });
    const body: any = await res.json();
    assert.equal(body.stop_reason, 'tool_use');
    assert.deepEqual(body.content, [{ type: 'tool_use', id: body.content[0].id, name: 'search', input: { query: 'cats' } }]);

    const followUp = await postMessages(fake.url, {
      model: 'm',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user', content: 'cats' },
        { role: 'assistant', content: body.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: body.content[0].id, content: 'cats are great' }] },
      ],
    });
    const answer: any = await followUp.json();
    assert.deepEqual(answer.content, [{ type: 'text', text: 'Tool said: cats are great' }]);
    assert.equal(answer.stop_reason, 'end_turn');
  });

  await t.test('streams tool input as input_json_delta pieces', async () => {
    const req: OpenAIChatRequest = {
      model: 'agent',
      stream: true,
      messages: [{ role: 'user', content: 'find the weather in Paris' }],
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }],
    };
    const up = anthropicTranslator.toUpstreamRequest(req, 'claude-fake-1', provider(fake.url));
    const events = parseSse(await (await fetch(up.url, { method: 'POST', headers: up.headers, body: up.body ?? null })).text());
    const pieces = events.filter((e) => e.event === 'content_block_delta').map((e) => JSON.parse(e.data).delta.partial_json as string);
    assert.ok(pieces.length > 2);
    assert.deepEqual(JSON.parse(pieces.join('')), { query: 'find the weather in Paris' });

    const translator = anthropicTranslator.createStreamTranslator('agent', 1);
    const chunks = events.flatMap((e) => translator.push(e));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    assert.equal(calls[0]?.function?.name, 'weather');
    assert.ok(calls.every((c) => c.index === 0));
    assert.deepEqual(JSON.parse(calls.map((c) => c.function?.arguments ?? '').join('')), { query: 'find the weather in Paris' });
    assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, 'tool_calls');
  });

  await t.test('json_schema emulation: the forced tool answer comes back as JSON content', async () => {
    const req: OpenAIChatRequest = {
      model: 'x',
      messages: [{ role: 'user', content: 'q' }],
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object', properties: { query: { type: 'string' } } } } },
    };
    const up = anthropicTranslator.toUpstreamRequest(req, 'claude-fake-1', provider(fake.url));
    const res = await fetch(up.url, { method: 'POST', headers: up.headers, body: up.body ?? null });
    const { completion } = anthropicTranslator.fromUpstreamResponse(await res.json(), 'x', 1, req);
    assert.equal(completion.choices[0]?.message.content, '{"query":"q"}');
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.equal(completion.choices[0]?.message.tool_calls, undefined);
  });

  await t.test('honours max_tokens and stop_sequences', async () => {
    const cut: any = await (await postMessages(fake.url, { model: 'm', max_tokens: 2, messages: [{ role: 'user', content: 'a fairly long question' }] })).json();
    assert.equal(cut.stop_reason, 'max_tokens');
    assert.equal(cut.content[0].text, 'Echo: a ');
    const stopped: any = await (await postMessages(fake.url, { model: 'm', max_tokens: 100, stop_sequences: ['long'], messages: [{ role: 'user', content: 'a long one' }] })).json();
    assert.equal(stopped.stop_reason, 'stop_sequence');
    assert.equal(stopped.stop_sequence, 'long');
    assert.equal(stopped.content[0].text, 'Echo: a ');
  });

  await t.test('error steering answers in the Anthropic error format, and the translator maps it', async () => {
    fake.queue.push({ status: 429, retryAfter: '3' });
    const limited = await postMessages(fake.url, { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '3');
    const text = await limited.text();
    assert.equal(JSON.parse(text).type, 'error');
    assert.equal(JSON.parse(text).error.type, 'rate_limit_error');
    const err = anthropicTranslator.fromUpstreamError(limited.status, text, Object.fromEntries(limited.headers));
    assert.equal(err.codeName, 'SF_ERR_UPSTREAM_RATE_LIMITED');
    assert.deepEqual(err.headers, { 'retry-after': '3' });

    const overloaded = await postMessages(fake.url, { model: 'm', max_tokens: 10, messages: [] }, { ...HEADERS, 'x-fake-status': '529' });
    assert.equal(overloaded.status, 529);
    assert.deepEqual(await overloaded.json(), { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });

    const expected: Record<number, string> = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 500: 'api_error' };
    for (const [status, type] of Object.entries(expected)) {
      const res = await postMessages(fake.url, {}, { ...HEADERS, 'x-fake-status': status });
      assert.equal(res.status, Number(status));
      assert.equal(((await res.json()) as any).error.type, type);
    }

    fake.steer = { status: 400, errorMessage: 'prompt is too long: 300000 tokens > 200000 maximum' };
    const long = await postMessages(fake.url, { model: 'm', max_tokens: 10, messages: [] });
    const longErr = anthropicTranslator.fromUpstreamError(long.status, await long.text(), {});
    assert.equal(longErr.codeName, 'SF_ERR_CONTEXT_LENGTH_EXCEEDED');
    fake.steer = {};

    fake.queue.push({ status: 400, errorCode: 'request_too_large', errorMessage: 'too big' });
    assert.deepEqual(await (await postMessages(fake.url, {})).json(), { type: 'error', error: { type: 'request_too_large', message: 'too big' } });
  });

  await t.test('rejects requests without x-api-key (401) or anthropic-version (400), and without max_tokens', async () => {
    const noKey = await postMessages(fake.url, { model: 'm', max_tokens: 1, messages: [] }, { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' });
    assert.equal(noKey.status, 401);
    assert.equal(((await noKey.json()) as any).error.type, 'authentication_error');
    const noVersion = await postMessages(fake.url, { model: 'm', max_tokens: 1, messages: [] }, { 'content-type': 'application/json', 'x-api-key': 'k' });
    assert.equal(noVersion.status, 400);
    const noMax = await postMessages(fake.url, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(noMax.status, 400);
    assert.match(((await noMax.json()) as any).error.message, /max_tokens/);
  });

  await t.test('a broken stream leaves the translator unfinished', async () => {
    // The delay lets the first events reach the socket before the fake destroys it.
    fake.queue.push({ breakAfter: 4, chunkDelayMs: 20 });
    const res = await postMessages(fake.url, { model: 'm', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'one two three four' }] });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } catch {
      // The socket is destroyed mid-body; whatever arrived before is what counts.
    }
    const translator = anthropicTranslator.createStreamTranslator('m', 1);
    const events = parseSse(text);
    assert.ok(events.length >= 1 && events.length <= 4, `got ${events.length} events before the break`);
    for (const e of events) translator.push(e);
    assert.equal(translator.finished, false);
  });

  await t.test('an error event in a stream throws a GatewayError from the translator', () => {
    const translator = anthropicTranslator.createStreamTranslator('m', 1);
    assert.throws(
      () => translator.push({ event: 'error', data: JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }) }),
      (err: unknown) => err instanceof GatewayError && err.status === 529 && err.retryable,
    );
  });

  await t.test('count_tokens and models endpoints', async () => {
    const count = await fetch(`${fake.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'count me' }] }),
    });
    assert.equal(count.status, 200);
    const counted: any = await count.json();
    assert.equal(typeof counted.input_tokens, 'number');
    assert.ok(counted.input_tokens > 0);

    const models = await fetch(`${fake.url}/v1/models`, { headers: HEADERS });
    const list: any = await models.json();
    assert.equal(list.has_more, false);
    assert.equal(list.data[0].type, 'model');
    assert.equal(list.first_id, list.data[0].id);

    const unauth = await fetch(`${fake.url}/v1/models`);
    assert.equal(unauth.status, 401);
  });
});
