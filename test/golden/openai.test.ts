import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpTransport } from '../../src/providers/http-transport.js';
import { createOpenAIAdapter } from '../../src/providers/openai/adapter.js';
import type { ProviderAdapter } from '../../src/providers/adapter.js';
import type { OpenAIChatRequest } from '../../src/providers/types.js';
import { Cancellation } from '../../src/core/cancellation.js';
import { startFakeServer, sendSse, type FakeUpstream } from '../helpers/fake-upstream.js';

/**
 * Golden cases for the OpenAI-compatible adapter: the exact upstream request for a given client
 * request, and the exact bytes the client gets back. The upstream answers with fixed bodies.
 */
const UPSTREAM_JSON = '{"id":"chatcmpl-x","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"hi","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":4}},"vendor_extra":{"usage":{"not":"this one"}}}';
const chunk = (delta: object, finish: string | null = null) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }], usage: null });
const USAGE_CHUNK = JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } });
const STREAM_EVENTS = [{ data: chunk({ role: 'assistant', content: '' }) }, { data: chunk({ content: 'he' }) }, { data: chunk({ content: 'y' }) }, { data: chunk({}, 'stop') }, { data: USAGE_CHUNK }, { data: '[DONE]' }];

describe('openai-compatible adapter golden cases', () => {
  let fake: FakeUpstream;
  let adapter: ProviderAdapter;
  const transport = new HttpTransport();

  before(async () => {
    fake = await startFakeServer((req, steering, res) => {
      if (req.body.stream) return sendSse(res, STREAM_EVENTS, steering);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(UPSTREAM_JSON);
      return undefined;
    });
    adapter = createOpenAIAdapter({ name: 'azure', type: 'openai', base_url: `${fake.url}/openai/deployments/d1`, api_key: 'azure-key', headers: { 'x-extra': '1' }, forward_headers: [], auth_header: 'api-key', timeout_ms: 5000, responses_api: 'native', query: { 'api-version': '2024-10-21' } }, transport);
  });
  after(async () => {
    await transport.close();
    await fake.close();
  });
  const call = (requestedModel: string) => ({ requestedModel, upstreamModel: 'gpt-4o-mini', signal: new Cancellation(), forwardedHeaders: { 'x-trace-id': 't1' } });

  test('non-streamed: upstream gets the body untouched but for the model; the answer goes back byte for byte', async () => {
    const request: OpenAIChatRequest = { model: 'my-alias', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, logit_bias: { '1': -100 }, vendor_field: { a: [1, 2] } };
    const res = await adapter.chat(request, call('my-alias'));
    const up = fake.requests.at(-1)!;
    assert.equal(up.url, '/openai/deployments/d1/chat/completions?api-version=2024-10-21');
    assert.deepEqual(up.body, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, logit_bias: { '1': -100 }, vendor_field: { a: [1, 2] } });
    assert.equal(up.headers['api-key'], 'azure-key');
    assert.equal(up.headers.authorization, undefined);
    assert.equal(up.headers['x-extra'], '1');
    assert.equal(up.headers['x-trace-id'], 't1');
    assert.equal(res.kind, 'json');
    assert.ok(res.kind === 'json');
    assert.equal(res.text, UPSTREAM_JSON);
    assert.deepEqual(res.usage, { input_tokens: 9, cached_input_tokens: 4, output_tokens: 1 });
  });

  test('streamed without include_usage: usage requested upstream, the usage-only chunk withheld, frames verbatim', async () => {
    const res = await adapter.chat({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true }, call('x'));
    assert.deepEqual(fake.requests.at(-1)!.body.stream_options, { include_usage: true });
    assert.ok(res.kind === 'stream');
    let text = '';
    for await (const f of res.frames) text += f;
    assert.equal(text, [0, 1, 2, 3].map((i) => `data: ${STREAM_EVENTS[i]!.data}\n\n`).join('') + 'data: [DONE]\n\n');
    assert.deepEqual(res.usage(), { input_tokens: 5, cached_input_tokens: 0, output_tokens: 2 });
  });

  test('streamed with include_usage: the usage chunk reaches the client', async () => {
    const res = await adapter.chat({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } }, call('x'));
    assert.ok(res.kind === 'stream');
    let text = '';
    for await (const f of res.frames) text += f;
    assert.equal(text, STREAM_EVENTS.map((e) => `data: ${e.data}\n\n`).join(''));
  });

  test('an upstream 200 that is not JSON is a 502 upstream_bad_response, not forwarded', async () => {
    const html = await startFakeServer((_req, _s, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>proxy login</html>');
    });
    const t = new HttpTransport();
    const a = createOpenAIAdapter({ name: 'p', type: 'openai', base_url: html.url, headers: {}, forward_headers: [], timeout_ms: 5000, responses_api: 'native' }, t);
    await assert.rejects(a.chat({ model: 'x', messages: [{ role: 'user', content: 'q' }] }, call('x')), (e: { status: number; wireCode: string }) => e.status === 502 && e.wireCode === 'upstream_bad_response');
    await t.close();
    await html.close();
  });
});
