import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ProviderAdapter } from '../../src/providers/adapter.js';
import { HttpTransport } from '../../src/providers/http-transport.js';
import { createOpenAIAdapter } from '../../src/providers/openai/adapter.js';
import { Cancellation } from '../../src/core/cancellation.js';
import { sendJson, sendSse, startFakeServer, type FakeUpstream } from '../helpers/fake-upstream.js';

/**
 * Golden cases for the native Responses API call of the OpenAI-compatible adapter: the exact
 * upstream request, the exact bytes passed back, where a stream ends, and how upstream failures
 * inside a stream become errors. The upstream answers with fixed bodies chosen per test.
 */
const RESPONSE_JSON = '{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"gpt-5-codex-2025-09-15","output":[{"id":"rs_1","type":"reasoning","summary":[],"encrypted_content":"gAAA"},{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"hi","annotations":[]}]}],"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":8},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":28},"total_tokens":42},"vendor_extra":{"usage":{"input_tokens":999}}}';

const event = (type: string, fields: Record<string, unknown>, seq: number) => ({ event: type, data: JSON.stringify({ type, sequence_number: seq, ...fields }) });
const CREATED = event('response.created', { response: { id: 'resp_2', status: 'in_progress', output: [] } }, 0);
const DELTA = event('response.output_text.delta', { item_id: 'msg_2', output_index: 0, content_index: 0, delta: 'he' }, 1);
const COMPLETED = event('response.completed', { response: { id: 'resp_2', status: 'completed', usage: { input_tokens: 5, input_tokens_details: { cached_tokens: 0 }, output_tokens: 2, total_tokens: 7 } } }, 2);
const INCOMPLETE = event('response.incomplete', { response: { id: 'resp_2', status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { input_tokens: 5, output_tokens: 9 } } }, 2);
const FAILED = event('response.failed', { response: { id: 'resp_2', status: 'failed', error: { code: 'server_error', message: 'The model failed.' } } }, 2);
const ERROR = event('error', { code: 'rate_limit_exceeded', message: 'Slow down.', param: null }, 2);

/** What each test makes the upstream answer. */
let answer: (res: Parameters<typeof sendJson>[0]) => void | Promise<void>;

describe('native Responses API call golden cases', () => {
  let fake: FakeUpstream;
  let adapter: ProviderAdapter;
  const transport = new HttpTransport();

  before(async () => {
    fake = await startFakeServer((_req, _steering, res) => answer(res));
    adapter = createOpenAIAdapter({ name: 'openai', type: 'openai', base_url: `${fake.url}/v1/`, api_key: 'sk-up', headers: { 'openai-organization': 'org-1' }, forward_headers: [], timeout_ms: 5000, responses_api: 'native' }, transport);
  });
  after(async () => {
    await transport.close();
    await fake.close();
  });
  const call = () => ({ requestedModel: 'codex', upstreamModel: 'gpt-5-codex', signal: new Cancellation(), forwardedHeaders: { 'x-trace-id': 't1' } });
  const sse = (events: Array<{ event: string; data: string }>) => (res: Parameters<typeof sendJson>[0]) => sendSse(res, events, {});
  const frame = (e: { event: string; data: string }) => `event: ${e.event}\ndata: ${e.data}\n\n`;

  async function read(frames: AsyncIterable<string>): Promise<{ text: string; error: unknown }> {
    let text = '';
    try {
      for await (const f of frames) text += f;
    } catch (error) {
      return { text, error };
    }
    return { text, error: undefined };
  }

  test('non-streamed: the body goes up untouched but for the model; the answer comes back byte for byte; usage from its top-level usage', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(RESPONSE_JSON);
    };
    const body = { model: 'codex', input: [{ type: 'reasoning', id: 'rs_0', summary: [], encrypted_content: 'x' }, { role: 'user', content: 'hi' }], reasoning: { effort: 'high' }, include: ['reasoning.encrypted_content'], store: false, tools: [{ type: 'custom', name: 'apply_patch' }] };
    const res = await adapter.responses!(body, call());
    const up = fake.requests.at(-1)!;
    assert.equal(up.url, '/v1/responses');
    assert.deepEqual(up.body, { ...body, model: 'gpt-5-codex' });
    assert.equal(up.headers.authorization, 'Bearer sk-up');
    assert.equal(up.headers['openai-organization'], 'org-1');
    assert.equal(up.headers['x-trace-id'], 't1');
    assert.ok(res.kind === 'json');
    assert.equal(res.text, RESPONSE_JSON);
    assert.deepEqual(res.usage, { input_tokens: 12, cached_input_tokens: 8, output_tokens: 30 });
  });

  test('streamed: events pass through as received, then the clean-end marker after response.completed; usage from it', async () => {
    answer = sse([CREATED, DELTA, COMPLETED, event('response.output_text.delta', { delta: 'after the end' }, 3)]);
    const res = await adapter.responses!({ model: 'codex', input: 'hi', stream: true }, call());
    assert.ok(res.kind === 'stream');
    const { text, error } = await read(res.frames);
    assert.equal(error, undefined);
    assert.equal(text, [CREATED, DELTA, COMPLETED].map(frame).join('') + 'data: [DONE]\n\n');
    assert.deepEqual(res.usage(), { input_tokens: 5, cached_input_tokens: 0, output_tokens: 2 });
  });

  test('response.incomplete ends a stream cleanly too', async () => {
    answer = sse([CREATED, INCOMPLETE]);
    const res = await adapter.responses!({ model: 'codex', input: 'hi', stream: true }, call());
    assert.ok(res.kind === 'stream');
    const { text, error } = await read(res.frames);
    assert.equal(error, undefined);
    assert.ok(text.endsWith(`${frame(INCOMPLETE)}data: [DONE]\n\n`));
    assert.deepEqual(res.usage(), { input_tokens: 5, cached_input_tokens: 0, output_tokens: 9 });
  });

  test('response.failed: what came before is passed on, then the stream fails with the upstream code and message', async () => {
    answer = sse([CREATED, DELTA, FAILED]);
    const res = await adapter.responses!({ model: 'codex', input: 'hi', stream: true }, call());
    assert.ok(res.kind === 'stream');
    const { text, error } = await read(res.frames);
    assert.equal(text, [CREATED, DELTA].map(frame).join(''));
    assert.deepEqual({ name: (error as { codeName: string }).codeName, code: (error as { wireCode: string }).wireCode, message: (error as Error).message }, { name: 'SF_ERR_UPSTREAM_ERROR', code: 'server_error', message: 'The model failed.' });
  });

  test('an error event fails the stream with its code', async () => {
    answer = sse([CREATED, ERROR]);
    const res = await adapter.responses!({ model: 'codex', input: 'hi', stream: true }, call());
    assert.ok(res.kind === 'stream');
    const { error } = await read(res.frames);
    assert.equal((error as { wireCode: string }).wireCode, 'rate_limit_exceeded');
    assert.equal((error as Error).message, 'Slow down.');
  });

  test('a stream that ends without a terminal event was interrupted', async () => {
    answer = sse([CREATED, DELTA]);
    const res = await adapter.responses!({ model: 'codex', input: 'hi', stream: true }, call());
    assert.ok(res.kind === 'stream');
    const { error } = await read(res.frames);
    assert.equal((error as { codeName: string }).codeName, 'SF_ERR_STREAM_INTERRUPTED');
  });

  test('an event without a type is a bad upstream response', async () => {
    answer = sse([{ event: 'response.created', data: '{"sequence_number":0}' }]);
    const res = await adapter.responses!({ model: 'codex', input: 'hi', stream: true }, call());
    assert.ok(res.kind === 'stream');
    const { error } = await read(res.frames);
    assert.equal((error as { codeName: string }).codeName, 'SF_ERR_UPSTREAM_BAD_RESPONSE');
  });

  test('hosted tool calls the provider ran are counted by kind from the output, JSON and streamed, for per-call prices', async () => {
    const output = [
      { id: 'ws_1', type: 'web_search_call', status: 'completed', action: { type: 'search', query: 'a' } },
      { id: 'ws_2', type: 'web_search_call', status: 'completed', action: { type: 'search', query: 'b' } },
      { id: 'fs_1', type: 'file_search_call', status: 'completed', queries: ['c'] },
      { id: 'ci_1', type: 'code_interpreter_call', status: 'completed' },
      { id: 'fc_1', type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
    ];
    const usage = { input_tokens: 5, input_tokens_details: { cached_tokens: 0 }, output_tokens: 2, total_tokens: 7 };
    const calls = { web_search: 2, file_search: 1, code_interpreter: 1 };
    answer = (res) => sendJson(res, 200, { id: 'resp_3', object: 'response', status: 'completed', output, usage });
    const json = await adapter.responses!({ model: 'codex', input: 'hi' }, call());
    assert.equal(json.kind, 'json');
    assert.deepEqual(json.usage, { input_tokens: 5, cached_input_tokens: 0, output_tokens: 2, server_tool_calls: calls });

    const done = output.map((item, i) => event('response.output_item.done', { output_index: i, item }, i + 1));
    // A server whose closing event leaves out the output: the items it streamed are counted.
    answer = sse([CREATED, ...done, event('response.completed', { response: { id: 'resp_3', status: 'completed', usage } }, 9)]);
    const streamed = await adapter.responses!({ model: 'codex', input: 'hi', stream: true }, call());
    assert.equal(streamed.kind, 'stream');
    await read(streamed.frames);
    assert.deepEqual(streamed.usage(), { input_tokens: 5, cached_input_tokens: 0, output_tokens: 2, server_tool_calls: calls });
  });

  test('an upstream error status keeps its status and OpenAI code; a 200 that is not JSON is a bad response', async () => {
    answer = (res) => sendJson(res, 400, { error: { message: 'Unsupported parameter: temperature', type: 'invalid_request_error', param: 'temperature', code: 'unsupported_parameter' } });
    await assert.rejects(adapter.responses!({ model: 'codex', input: 'hi' }, call()), (e: { status: number; wireCode: string; param: string }) => e.status === 400 && e.wireCode === 'unsupported_parameter' && e.param === 'temperature');
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>proxy</html>');
    };
    await assert.rejects(adapter.responses!({ model: 'codex', input: 'hi' }, call()), (e: { wireCode: string }) => e.wireCode === 'upstream_bad_response');
  });
});
