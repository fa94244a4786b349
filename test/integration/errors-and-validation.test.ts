import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';

/**
 * Every error on the OpenAI-compatible surface is OpenAI error JSON
 * `{"error":{"message","type","code","param"}}` with the right HTTP status, whatever
 * produced it: the body parser, authentication, validation, model resolution, the
 * provider, or the network.
 */

const OPENAI_UPSTREAM_KEY = 'sk-upstream-openai-secret';
/** The fake Gemini leaks keys starting with "invalid" in its 403 message, as Google does. */
const LEAKY_GEMINI_KEY = 'invalid-gemini-key-SECRET-0123456789abcdef';

function header(res: Res, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Asserts the exact OpenAI error shape, status and code (and param when given). */
function assertOpenAIError(res: Res, status: number, code: string, param?: string | null): void {
  assert.equal(res.status, status, `status (body: ${res.text})`);
  assert.match(header(res, 'content-type') ?? '', /^application\/json/);
  assert.ok(res.json && typeof res.json === 'object', `JSON body expected, got: ${res.text}`);
  assert.deepEqual(Object.keys(res.json), ['error']);
  const e = res.json.error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  assert.equal(typeof e.type, 'string');
  assert.ok(e.param === null || typeof e.param === 'string');
  assert.equal(e.code, code, `code (body: ${res.text})`);
  if (param !== undefined) assert.equal(e.param, param, `param (body: ${res.text})`);
}

const GOOD_BODY = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };

/** A TCP port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('errors and validation on the OpenAI surface', () => {
  let openaiFake: FakeUpstream;
  let geminiFake: FakeUpstream;
  let gw: TestGateway;
  let small: TestGateway;
  let chatUrl: string;

  const chat = (body: unknown, headers: Record<string, string> = authHeaders()) => call(chatUrl, { headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  before(async () => {
    [openaiFake, geminiFake] = await Promise.all([startFakeOpenAI(), startFakeGemini()]);
    const dead = await closedPort();
    gw = await startTestGateway({
      providers: {
        ...fakeProviders({ openai: openaiFake.url }),
        dead: { type: 'openai', base_url: `http://127.0.0.1:${dead}/v1`, api_key: 'sk-dead-provider-secret' },
        leaky: { type: 'gemini', base_url: geminiFake.url, api_key: LEAKY_GEMINI_KEY },
      },
      models: [
        { name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' },
        { name: 'embed-model', provider: 'openai', model: 'text-embedding-3-small' },
        { name: 'dead-model', provider: 'dead', model: 'gpt-4o-mini' },
        { name: 'leaky-gemini', provider: 'leaky', model: 'gemini-2.5-flash' },
      ],
    });
    small = await startTestGateway({
      server: { body_limit_bytes: 1024 },
      providers: fakeProviders({ openai: openaiFake.url }),
      models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
    });
    chatUrl = `${gw.url}/v1/chat/completions`;
  });

  after(async () => {
    await Promise.all([gw?.close(), small?.close()]);
    await Promise.all([openaiFake?.close(), geminiFake?.close()]);
  });

  test('a good request succeeds (baseline for everything below)', async () => {
    const res = await chat(GOOD_BODY);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, 'Echo: hello');
  });

  describe('authentication', () => {
    test('no credentials: 401 missing_api_key', async () => {
      const res = await chat(GOOD_BODY, { 'content-type': 'application/json' });
      assertOpenAIError(res, 401, 'missing_api_key', null);
      assert.equal(res.json.error.type, 'authentication_error');
    });

    test('wrong key: 401 invalid_api_key', async () => {
      const res = await chat(GOOD_BODY, authHeaders('sk-not-the-master-key'));
      assertOpenAIError(res, 401, 'invalid_api_key', null);
      assert.equal(res.json.error.type, 'authentication_error');
    });

    test('a malformed Authorization header: 401 invalid_api_key', async () => {
      const res = await chat(GOOD_BODY, { authorization: `Basic ${MASTER_KEY}`, 'content-type': 'application/json' });
      assertOpenAIError(res, 401, 'invalid_api_key');
    });

    test('x-api-key with a wrong key: 401 invalid_api_key', async () => {
      const res = await chat(GOOD_BODY, { 'x-api-key': 'wrong-key-123456', 'content-type': 'application/json' });
      assertOpenAIError(res, 401, 'invalid_api_key');
    });

    test('GET /v1/models without credentials: 401 missing_api_key', async () => {
      assertOpenAIError(await call(`${gw.url}/v1/models`), 401, 'missing_api_key');
    });

    test('the openai SDK sees an AuthenticationError for a wrong key', async () => {
      const client = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${gw.url}/v1`, maxRetries: 0 });
      await assert.rejects(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }), (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
        assert.equal(err.status, 401);
        assert.equal(err.code, 'invalid_api_key');
        return true;
      });
    });
  });

  describe('body parsing', () => {
    test('malformed JSON: 400 invalid_json', async () => {
      assertOpenAIError(await chat('{"model": "gpt-4o-mini", "messages": ['), 400, 'invalid_json');
    });

    test('empty body with content-type application/json: 400 invalid_json', async () => {
      assertOpenAIError(await chat(''), 400, 'invalid_json');
    });

    for (const [label, body] of [['a JSON array', '[{"model":"gpt-4o-mini"}]'], ['a JSON string', '"hello"'], ['JSON null', 'null'], ['a JSON number', '42']] as const) {
      test(`body is ${label}: 400 invalid_request`, async () => {
        const res = await chat(body);
        assertOpenAIError(res, 400, 'invalid_request');
        assert.match(res.json.error.message, /JSON object/);
      });
    }

    test('content-type text/plain: 415 unsupported_media_type', async () => {
      const res = await chat(JSON.stringify(GOOD_BODY), { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'text/plain' });
      assertOpenAIError(res, 415, 'unsupported_media_type');
    });

    test('content-type application/x-www-form-urlencoded: 415 unsupported_media_type', async () => {
      const res = await chat('model=gpt-4o-mini', { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/x-www-form-urlencoded' });
      assertOpenAIError(res, 415, 'unsupported_media_type');
    });

    test('body over body_limit_bytes (with content-length): 413 body_too_large', async () => {
      const big = JSON.stringify({ ...GOOD_BODY, messages: [{ role: 'user', content: 'x'.repeat(2000) }] });
      const res = await call(`${small.url}/v1/chat/completions`, { headers: authHeaders(), body: big });
      assertOpenAIError(res, 413, 'body_too_large');
      // The client learns the limit and the operator learns which setting raises it.
      assert.match(res.json.error.message, /1 KiB \(1024 bytes\).*server\.body_limit_bytes/);
    });

    test('body over body_limit_bytes (chunked, no content-length): 413 body_too_large', async () => {
      const chunks = [JSON.stringify({ ...GOOD_BODY, messages: [{ role: 'user', content: 'y'.repeat(3000) }] })];
      const res = await call(`${small.url}/v1/chat/completions`, { headers: authHeaders(), body: Readable.from(chunks) });
      assertOpenAIError(res, 413, 'body_too_large');
    });

    test('a body under the limit still works on the small gateway', async () => {
      const res = await call(`${small.url}/v1/chat/completions`, { headers: authHeaders(), body: JSON.stringify(GOOD_BODY) });
      assert.equal(res.status, 200, res.text);
    });
  });

  describe('schema validation names the field', () => {
    const cases: Array<[string, unknown, string]> = [
      ['messages not an array', { model: 'gpt-4o-mini', messages: 'hi' }, 'messages'],
      ['messages missing', { model: 'gpt-4o-mini' }, 'messages'],
      ['empty messages', { model: 'gpt-4o-mini', messages: [] }, 'messages'],
      ['temperature "hot" for a translated model', { ...GOOD_BODY, model: 'leaky-gemini', temperature: 'hot' }, 'temperature'],
      ['temperature out of range for a translated model', { ...GOOD_BODY, model: 'leaky-gemini', temperature: 7 }, 'temperature'],
      ['only a role a translated model has no place for', { model: 'leaky-gemini', messages: [{ role: 'robot', content: 'beep' }] }, 'messages'],
      ['content of the second message a number', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 42 }] }, 'messages[1].content'],
      ['model missing', { messages: [{ role: 'user', content: 'x' }] }, 'model'],
      ['model not a string', { model: 123, messages: [{ role: 'user', content: 'x' }] }, 'model'],
      ['stream not a boolean', { ...GOOD_BODY, stream: 'yes' }, 'stream'],
      ['max_tokens negative', { ...GOOD_BODY, max_tokens: -5 }, 'max_tokens'],
      ['tool with a bad name for a translated model', { ...GOOD_BODY, model: 'leaky-gemini', tools: [{ type: 'function', function: { name: 'bad name!' } }] }, 'tools[0].function.name'],
    ];
    for (const [label, body, param] of cases) {
      test(`${label}: 400 invalid_request, param ${param}`, async () => {
        const res = await chat(body);
        assertOpenAIError(res, 400, 'invalid_request', param);
        assert.equal(res.json.error.type, 'invalid_request_error');
        assert.ok(res.json.error.message.includes(param), `message names the field: ${res.json.error.message}`);
      });
    }

    test('for a native model, what only the upstream reads is its business: an unknown role, temperature 7 and a tool named "bad name!" reach it as sent', async () => {
      const body = { model: 'gpt-4o-mini', temperature: 7, messages: [{ role: 'robot', content: 'beep' }], tools: [{ type: 'function', function: { name: 'bad name!' } }] };
      const res = await chat(body);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(openaiFake.requests.at(-1)!.body, body);
    });

    test('nulls for optional fields are accepted', async () => {
      const res = await chat({ ...GOOD_BODY, temperature: null, stop: null, max_tokens: null, top_p: null, tools: null, tool_choice: null, response_format: null, seed: null, user: null, n: null, stream: null });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.choices[0].message.content, 'Echo: hello');
    });

    test('the openai SDK sees a BadRequestError with the param', async () => {
      const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
      await assert.rejects(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }), (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.equal(err.param, 'messages');
        return true;
      });
    });
  });

  describe('models and routes', () => {
    test('unknown model: 404 model_not_found, param model', async () => {
      const res = await chat({ ...GOOD_BODY, model: 'no-such-model-xyz' });
      assertOpenAIError(res, 404, 'model_not_found', 'model');
      assert.equal(res.json.error.type, 'invalid_request_error');
    });

    test('GET /v1/models/<unknown>: 404 model_not_found', async () => {
      assertOpenAIError(await call(`${gw.url}/v1/models/nope-model`, { headers: authHeaders() }), 404, 'model_not_found', 'model');
    });

    test('chat on an embedding model: 400 operation_not_supported, param model', async () => {
      assertOpenAIError(await chat({ ...GOOD_BODY, model: 'embed-model' }), 400, 'operation_not_supported', 'model');
    });

    test('embeddings on a chat model: 400 operation_not_supported', async () => {
      const res = await call(`${gw.url}/v1/embeddings`, { headers: authHeaders(), body: JSON.stringify({ model: 'gpt-4o-mini', input: 'x' }) });
      assertOpenAIError(res, 400, 'operation_not_supported', 'model');
    });

    test('unknown route: 404 route_not_found', async () => {
      assertOpenAIError(await call(`${gw.url}/v1/does-not-exist`, { headers: authHeaders() }), 404, 'route_not_found');
      assertOpenAIError(await call(`${gw.url}/v2/chat/completions`, { headers: authHeaders(), body: JSON.stringify(GOOD_BODY) }), 404, 'route_not_found');
      // No credentials needed to learn that a route does not exist, and still the same shape.
      assertOpenAIError(await call(`${gw.url}/nothing/here?x=1`), 404, 'route_not_found');
    });

    test('a wrong method on a known path: 405 method_not_allowed with an Allow header', async () => {
      const get = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders() });
      assertOpenAIError(get, 405, 'method_not_allowed');
      assert.equal(header(get, 'allow'), 'POST');
      assert.match(get.json.error.message, /GET is not allowed on \/v1\/chat\/completions; use POST/);
      // A path with a parameter, and several methods allowed on it.
      const put = await call(`${gw.url}/api/enterprise/vkeys/vk_123`, { method: 'PUT', headers: authHeaders(), body: {} });
      assertOpenAIError(put, 405, 'method_not_allowed');
      assert.deepEqual(header(put, 'allow')?.split(', ').sort(), ['GET', 'HEAD', 'PATCH']);
      // Without credentials too: which methods a path takes is no secret.
      assertOpenAIError(await call(`${gw.url}/health/liveness`, { method: 'DELETE' }), 405, 'method_not_allowed');
    });
  });

  describe('upstream failures', () => {
    test('upstream 429 with Retry-After: client gets 429, retry-after: 7 and the upstream code', async () => {
      const res = await chat(GOOD_BODY, { ...authHeaders(), 'x-fake-status': '429', 'x-fake-retry-after': '7' });
      assertOpenAIError(res, 429, 'rate_limit_exceeded');
      assert.equal(header(res, 'retry-after'), '7');
    });

    test('upstream 429 through the openai SDK: RateLimitError', async () => {
      const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-fake-status': '429', 'x-fake-retry-after': '7' } });
      await assert.rejects(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }), (err) => {
        assert.ok(err instanceof OpenAI.RateLimitError, String(err));
        assert.equal(err.headers.get('retry-after'), '7');
        return true;
      });
    });

    test('upstream 500: client gets 500 in OpenAI error JSON', async () => {
      const res = await chat(GOOD_BODY, { ...authHeaders(), 'x-fake-status': '500' });
      assertOpenAIError(res, 500, 'upstream_error');
    });

    test('upstream 401: the message blames the gateway\'s provider credentials and never contains the upstream key', async () => {
      const res = await chat(GOOD_BODY, { ...authHeaders(), 'x-fake-status': '401', 'x-fake-error-message': `Incorrect API key provided: ${OPENAI_UPSTREAM_KEY}` });
      // Not 401: the client's own key was fine, and its SDK would raise AuthenticationError for a 401.
      assertOpenAIError(res, 502, 'upstream_auth_failed');
      assert.match(res.json.error.message, /provider rejected the gateway's credentials/);
      assert.ok(!res.text.includes(OPENAI_UPSTREAM_KEY), `upstream key leaked: ${res.text}`);
      assert.ok(!res.text.includes('sk-upstream'), `part of the upstream key leaked: ${res.text}`);
    });

    test('a Gemini error that quotes the gateway\'s key does not reach the client with the key', async () => {
      const res = await chat({ ...GOOD_BODY, model: 'leaky-gemini' });
      assert.ok(res.status >= 400, res.text);
      assert.ok(res.json?.error, res.text);
      assert.ok(!res.text.includes(LEAKY_GEMINI_KEY), `gemini key leaked: ${res.text}`);
      assert.ok(!res.text.includes('SECRET-0123456789'), `part of the gemini key leaked: ${res.text}`);
    });

    test('upstream unreachable (closed port): 502 upstream_unreachable', async () => {
      const res = await chat({ ...GOOD_BODY, model: 'dead-model' });
      assertOpenAIError(res, 502, 'upstream_unreachable');
      assert.equal(res.json.error.type, 'api_error');
      assert.ok(!res.text.includes('sk-dead-provider-secret'));
    });

    test('upstream unreachable for a stream: 502 upstream_unreachable as plain JSON', async () => {
      const res = await chat({ ...GOOD_BODY, model: 'dead-model', stream: true });
      assertOpenAIError(res, 502, 'upstream_unreachable');
    });
  });

  describe('x-request-id', () => {
    const SAFE = /^[A-Za-z0-9._:-]{1,128}$/;

    test('every response, success or error, carries an x-request-id, unique per request', async () => {
      const responses: Array<[string, Res]> = [
        ['200', await chat(GOOD_BODY)],
        ['200 stream', await chat({ ...GOOD_BODY, stream: true })],
        ['401', await chat(GOOD_BODY, { 'content-type': 'application/json' })],
        ['400 json', await chat('{')],
        ['400 schema', await chat({ model: 'gpt-4o-mini', messages: [] })],
        ['404 model', await chat({ ...GOOD_BODY, model: 'nope' })],
        ['404 route', await call(`${gw.url}/v1/nope`)],
        ['413', await call(`${small.url}/v1/chat/completions`, { headers: authHeaders(), body: JSON.stringify({ ...GOOD_BODY, pad: 'z'.repeat(2000) }) })],
        ['415', await chat('x', { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/xml' })],
        ['429 upstream', await chat(GOOD_BODY, { ...authHeaders(), 'x-fake-status': '429' })],
        ['502 unreachable', await chat({ ...GOOD_BODY, model: 'dead-model' })],
        ['models', await call(`${gw.url}/v1/models`, { headers: authHeaders() })],
        ['liveness', await call(`${gw.url}/health/liveness`)],
      ];
      const ids: string[] = [];
      for (const [label, res] of responses) {
        const id = header(res, 'x-request-id');
        assert.ok(id, `${label}: no x-request-id`);
        assert.match(id, SAFE, label);
        ids.push(id);
      }
      assert.equal(new Set(ids).size, ids.length, 'request ids are unique');
    });

    test('a safe client-supplied x-request-id is echoed, on success and on error', async () => {
      const ok = await chat(GOOD_BODY, { ...authHeaders(), 'x-request-id': 'client-req.42:abc_DEF' });
      assert.equal(ok.status, 200);
      assert.equal(header(ok, 'x-request-id'), 'client-req.42:abc_DEF');
      const stream = await chat({ ...GOOD_BODY, stream: true }, { ...authHeaders(), 'x-request-id': 'client-stream-1' });
      assert.equal(stream.status, 200);
      assert.equal(header(stream, 'x-request-id'), 'client-stream-1');
      const err = await chat(GOOD_BODY, { 'content-type': 'application/json', 'x-request-id': 'client-err-7' });
      assert.equal(err.status, 401);
      assert.equal(header(err, 'x-request-id'), 'client-err-7');
    });

    test('an unsafe client-supplied x-request-id is replaced by a generated one', async () => {
      for (const bad of ['has spaces in it', 'x'.repeat(129), '<script>alert(1)</script>', 'a/b']) {
        const res = await chat(GOOD_BODY, { ...authHeaders(), 'x-request-id': bad });
        assert.equal(res.status, 200);
        const id = header(res, 'x-request-id');
        assert.ok(id);
        assert.notEqual(id, bad);
        assert.match(id, SAFE);
      }
    });
  });

  test('after 200 mixed bad requests fired concurrently, the gateway still answers a good request', async () => {
    const kinds: Array<() => Promise<Res>> = [
      () => chat(GOOD_BODY, { 'content-type': 'application/json' }),
      () => chat(GOOD_BODY, authHeaders('sk-wrong-wrong')),
      () => chat('{"model":'),
      () => chat('[1,2,3]'),
      () => chat('"just a string"'),
      () => chat({ model: 'gpt-4o-mini', messages: 'nope' }),
      () => chat({ ...GOOD_BODY, model: 'leaky-gemini', temperature: 'hot' }),
      () => chat({ model: 'leaky-gemini', messages: [{ role: 'robot', content: 'x' }] }),
      () => chat({ ...GOOD_BODY, model: 'missing-model' }),
      () => chat({ ...GOOD_BODY, model: 'embed-model' }),
      () => call(`${gw.url}/v1/not-a-route`, { headers: authHeaders(), body: '{}' }),
      () => chat(JSON.stringify(GOOD_BODY), { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/xml' }),
      () => chat(GOOD_BODY, { ...authHeaders(), 'x-fake-status': '500' }),
      () => chat({ ...GOOD_BODY, stream: true }, { ...authHeaders(), 'x-fake-status': '503' }),
      () => chat(GOOD_BODY, { ...authHeaders(), 'x-fake-status': '429', 'x-fake-retry-after': '1' }),
      () => chat({ ...GOOD_BODY, model: 'dead-model' }),
      () => chat({ ...GOOD_BODY, stream: true }, { ...authHeaders(), 'x-fake-break-after': '2' }),
      () => chat(`{"model":"gpt-4o-mini","messages":[${'['.repeat(50)}`),
    ];
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => kinds[i % kinds.length]!()));
    for (const res of results) {
      if (res.status === 200) {
        // Only the stream broken mid-way has a 200 status line; it must end in an error event.
        assert.match(res.text, /data: \{"error"/);
        continue;
      }
      assert.ok(res.status >= 400 && res.status < 600, `status ${res.status}`);
      assert.ok(res.json?.error && typeof res.json.error.code === 'string', `not OpenAI error JSON: ${res.text.slice(0, 200)}`);
      assert.notEqual(res.json.error.code, 'internal_error', `internal error: ${res.text}`);
    }
    const good = await chat(GOOD_BODY);
    assert.equal(good.status, 200, good.text);
    assert.equal(good.json.choices[0].message.content, 'Echo: hello');
    const health = await call(`${gw.url}/health/liveness`);
    assert.equal(health.status, 200);
  });
});
