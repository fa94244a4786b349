import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeGemini } from '../../helpers/fake-gemini.js';
import { fakeAnswer, fakeTokens, type FakeUpstream } from '../../helpers/fake-upstream.js';
import { geminiTranslator } from '../../../src/providers/gemini/translator.js';
import { estimateEmbeddingTokens, fromGeminiEmbeddingsResponse, toGeminiEmbeddingsRequest } from '../../../src/providers/gemini/translate-embeddings.js';
import type { OpenAIChatChunk, OpenAIChatRequest, ProviderConfig, SseEvent, UpstreamRequest } from '../../../src/providers/types.js';

const CREATED = 1700000000;

function providerFor(fake: FakeUpstream, apiKey = 'fake-key'): ProviderConfig {
  return { name: 'gemini', type: 'gemini', base_url: `${fake.url}/`, api_key: apiKey, headers: {}, forward_headers: [], timeout_ms: 5000, responses_api: 'native' };
}

async function send(up: UpstreamRequest, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(up.url, { method: up.method, headers: { ...up.headers, ...extra }, body: up.body ?? null });
}

/** Minimal SSE parser: Gemini sends only `data:` lines, one event per blank-line-separated block. */
function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => ({ data: block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n') }));
}

function chatRequest(over: Partial<OpenAIChatRequest> = {}): OpenAIChatRequest {
  return { model: 'my-gemini', messages: [{ role: 'system', content: 'Be nice.' }, { role: 'user', content: 'hello there' }], ...over };
}

const TOOLS: OpenAIChatRequest['tools'] = [
  { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { query: { type: 'string' } }, additionalProperties: false } } },
];

async function withFake(t: { after: (fn: () => Promise<void>) => void }): Promise<FakeUpstream> {
  const fake = await startFakeGemini();
  t.after(() => fake.close());
  return fake;
}

test('fake gemini: plain generateContent answers deterministically and translates back', async (t) => {
  const fake = await withFake(t);
  const up = geminiTranslator.toUpstreamRequest(chatRequest(), 'gemini-2.5-flash', providerFor(fake));
  const res = await send(up);
  assert.equal(res.status, 200);
  const body: any = await res.json();
  assert.equal(body.candidates[0].content.role, 'model');
  assert.equal(body.candidates[0].content.parts[0].text, fakeAnswer('hello there'));
  assert.equal(body.candidates[0].finishReason, 'STOP');
  assert.equal(body.usageMetadata.candidatesTokenCount, fakeTokens(fakeAnswer('hello there')));
  assert.equal(body.usageMetadata.promptTokenCount, fakeTokens('Be nice.\nhello there'));

  const recorded = fake.requests[0];
  assert.ok(recorded);
  assert.equal(recorded.url, '/v1beta/models/gemini-2.5-flash:generateContent');
  assert.equal(recorded.headers['x-goog-api-key'], 'fake-key');
  assert.deepEqual(recorded.body.systemInstruction, { parts: [{ text: 'Be nice.' }] });

  const { completion, usage } = geminiTranslator.fromUpstreamResponse(body, 'my-gemini', CREATED);
  assert.equal(completion.choices[0]?.message.content, fakeAnswer('hello there'));
  assert.equal(completion.choices[0]?.finish_reason, 'stop');
  assert.equal(completion.id, `chatcmpl-${body.responseId}`);
  assert.equal(usage.output_tokens, body.usageMetadata.candidatesTokenCount);
});

test('fake gemini: maxOutputTokens truncates with MAX_TOKENS -> length', async (t) => {
  const fake = await withFake(t);
  const up = geminiTranslator.toUpstreamRequest(chatRequest({ max_tokens: 1 }), 'gemini-2.5-flash', providerFor(fake));
  const body: any = await (await send(up)).json();
  assert.equal(body.candidates[0].finishReason, 'MAX_TOKENS');
  assert.equal(geminiTranslator.fromUpstreamResponse(body, 'm', CREATED).completion.choices[0]?.finish_reason, 'length');
});

test('fake gemini: streamGenerateContent?alt=sse sends data-only events the stream translator reassembles', async (t) => {
  const fake = await withFake(t);
  const up = geminiTranslator.toUpstreamRequest(chatRequest({ stream: true }), 'gemini-2.5-flash', providerFor(fake));
  assert.ok(up.url.endsWith(':streamGenerateContent?alt=sse'));
  const res = await send(up);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const raw = await res.text();
  assert.doesNotMatch(raw, /^event:/m);
  const events = parseSse(raw);
  assert.ok(events.length > 1, 'several events');
  const parsed = events.map((e) => JSON.parse(e.data));
  assert.equal(parsed.at(-1).candidates[0].finishReason, 'STOP');
  assert.ok(parsed.at(-1).usageMetadata);
  assert.equal(parsed[0].usageMetadata, undefined);

  const st = geminiTranslator.createStreamTranslator('my-gemini', CREATED);
  const chunks: OpenAIChatChunk[] = events.flatMap((e) => st.push(e));
  assert.equal(st.finished, true);
  assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  assert.equal(text, fakeAnswer('hello there'));
  assert.deepEqual(chunks.at(-1)?.choices, []);
  assert.equal(chunks.at(-1)?.usage?.completion_tokens, fakeTokens(fakeAnswer('hello there')));
  assert.equal(st.usage().output_tokens, fakeTokens(fakeAnswer('hello there')));
});

test('fake gemini: breakAfter cuts the stream before the finish event', async (t) => {
  const fake = await withFake(t);
  const up = geminiTranslator.toUpstreamRequest(chatRequest({ stream: true }), 'gemini-2.5-flash', providerFor(fake));
  const st = geminiTranslator.createStreamTranslator('m', CREATED);
  let raw = '';
  try {
    raw = await (await send(up, { 'x-fake-break-after': '1' })).text();
  } catch {
    // The socket is destroyed mid-body; whatever arrived before is enough.
  }
  for (const e of parseSse(raw)) st.push(e);
  assert.equal(st.finished, false);
});

test('fake gemini: tool call, then a functionResponse round trip', async (t) => {
  const fake = await withFake(t);
  const first = chatRequest({ tools: TOOLS, tool_choice: 'auto' });
  const res1: any = await (await send(geminiTranslator.toUpstreamRequest(first, 'gemini-2.5-flash', providerFor(fake)))).json();
  assert.deepEqual(res1.candidates[0].content.parts[0].functionCall, { name: 'lookup', args: { query: 'hello there' } });
  assert.equal(fake.requests[0]?.body.tools[0].functionDeclarations[0].parameters.additionalProperties, undefined);

  const { completion } = geminiTranslator.fromUpstreamResponse(res1, 'my-gemini', CREATED);
  const choice = completion.choices[0];
  assert.equal(choice?.finish_reason, 'tool_calls');
  const call = choice?.message.tool_calls?.[0];
  assert.ok(call);
  assert.equal(call.id, 'call_0_lookup');
  assert.deepEqual(JSON.parse(call.function.arguments), { query: 'hello there' });

  const second = chatRequest({
    tools: TOOLS,
    messages: [...first.messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '{"answer":42}' }],
  });
  const res2: any = await (await send(geminiTranslator.toUpstreamRequest(second, 'gemini-2.5-flash', providerFor(fake)))).json();
  assert.equal(res2.candidates[0].content.parts[0].text, 'Tool said: {"content":{"answer":42}}');

  const streamed = await send(geminiTranslator.toUpstreamRequest({ ...first, stream: true }, 'gemini-2.5-flash', providerFor(fake)));
  const st = geminiTranslator.createStreamTranslator('my-gemini', CREATED);
  const chunks = parseSse(await streamed.text()).flatMap((e) => st.push(e));
  const delta = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])[0];
  assert.deepEqual(delta, { index: 0, id: 'call_0_lookup', type: 'function', function: { name: 'lookup', arguments: '{"query":"hello there"}' } });
  assert.equal(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason, 'tool_calls');
});

test('fake gemini: embeddings (embedContent, batchEmbedContents) and the model list', async (t) => {
  const fake = await withFake(t);
  const provider = providerFor(fake);
  const req = { model: 'emb', input: ['alpha', 'beta'] };
  const up = toGeminiEmbeddingsRequest(req, 'gemini-embedding-001', provider);
  const body: any = await (await send(up)).json();
  assert.equal(body.embeddings.length, 2);
  assert.equal(body.embeddings[0].values.length, 8);
  assert.notDeepEqual(body.embeddings[0].values, body.embeddings[1].values);
  const again: any = await (await send(up)).json();
  assert.deepEqual(again, body, 'deterministic');
  const out = fromGeminiEmbeddingsResponse(body, 'emb', estimateEmbeddingTokens(req.input));
  assert.equal(out.data.length, 2);
  assert.deepEqual(out.usage, { prompt_tokens: 3, total_tokens: 3 }, 'alpha -> 2, beta -> 1 (chars / 4, rounded up)');

  const dims: any = await (await send(toGeminiEmbeddingsRequest({ model: 'emb', input: 'x', dimensions: 3 }, 'gemini-embedding-001', provider))).json();
  assert.equal(dims.embeddings[0].values.length, 3);

  const single = await fetch(`${fake.url}/v1beta/models/gemini-embedding-001:embedContent`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k' },
    body: JSON.stringify({ content: { parts: [{ text: 'alpha' }] } }),
  });
  assert.deepEqual(((await single.json()) as any).embedding.values, body.embeddings[0].values);

  const list: any = await (await fetch(`${fake.url}/v1beta/models`, { headers: { 'x-goog-api-key': 'k' } })).json();
  assert.ok(list.models.some((m: any) => m.name === 'models/gemini-2.5-flash'));
});

test('fake gemini: auth failures use the Google error format; the translator strips a leaked key', async (t) => {
  const fake = await withFake(t);
  const noKey = geminiTranslator.toUpstreamRequest(chatRequest(), 'gemini-2.5-flash', { ...providerFor(fake), api_key: undefined });
  assert.equal(noKey.headers['x-goog-api-key'], undefined);
  const r1 = await send(noKey);
  assert.equal(r1.status, 401);
  const b1: any = await r1.json();
  assert.equal(b1.error.status, 'UNAUTHENTICATED');
  assert.equal(b1.error.code, 401);

  const secret = 'invalid-AIzaSySecretSecretSecretSecret12345';
  const r2 = await send(geminiTranslator.toUpstreamRequest(chatRequest(), 'gemini-2.5-flash', providerFor(fake, secret)));
  assert.equal(r2.status, 403);
  const text = await r2.text();
  assert.ok(text.includes(secret), 'the fake leaks the key like Google does');
  const err = geminiTranslator.fromUpstreamError(r2.status, text, {});
  assert.equal(err.status, 403);
  assert.equal(err.codeName, 'SF_ERR_UPSTREAM_ERROR');
  assert.ok(!err.message.includes('Secret'), err.message);
});

test('fake gemini: error steering by queue, header and default', async (t) => {
  const fake = await withFake(t);
  const up = geminiTranslator.toUpstreamRequest(chatRequest(), 'gemini-2.5-flash', providerFor(fake));

  fake.queue.push({ status: 429, retryAfter: '7' });
  const r1 = await send(up);
  assert.equal(r1.status, 429);
  assert.equal(r1.headers.get('retry-after'), '7');
  const t1 = await r1.text();
  const b1 = JSON.parse(t1);
  assert.equal(b1.error.status, 'RESOURCE_EXHAUSTED');
  assert.equal(b1.error.details[0].retryDelay, '7s');
  const e1 = geminiTranslator.fromUpstreamError(429, t1, {});
  assert.equal(e1.codeName, 'SF_ERR_UPSTREAM_RATE_LIMITED');
  assert.equal(e1.headers['retry-after'], '7', 'from RetryInfo when the header is not passed');

  const r2 = await send(up, { 'x-fake-status': '400', 'x-fake-error-code': 'context_length_exceeded' });
  const e2 = geminiTranslator.fromUpstreamError(r2.status, await r2.text(), {});
  assert.equal(e2.codeName, 'SF_ERR_CONTEXT_LENGTH_EXCEEDED');

  fake.steer = { status: 503, errorMessage: 'overloaded right now' };
  const r3 = await send(up);
  const b3: any = await r3.json();
  assert.deepEqual(b3, { error: { code: 503, message: 'overloaded right now', status: 'UNAVAILABLE' } });
  fake.reset();
  assert.equal((await send(up)).status, 200);
  assert.equal(fake.requests.length, 1);
});
