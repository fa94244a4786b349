import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

/**
 * Money is never free by accident, continued: what a provider bills although the gateway did
 * not count it. A prompt the provider received before the client left, prompt parts the
 * reservation did not read, attachments in shapes it did not expect, answers without usage on
 * /anthropic, and text a cut stream delivered.
 */

const OPENAI = (url: string) => ({ type: 'openai', base_url: `${url}/v1`, api_key: 'sk-upstream-openai-secret', forward_headers: ['x-fake-*'] });
const ANTHROPIC = (url: string) => ({ type: 'anthropic', base_url: url, api_key: 'sk-ant-upstream-secret', forward_headers: ['x-fake-*'] });
/** 10 and 20 micro-USD per input and output token; a 128k window (gpt-4o-mini's). */
const METERED = { name: 'metered', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 };
const ANTHROPIC_HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };

async function settled(gw: TestGateway, id: string): Promise<{ spent: number; reserved: number }> {
  for (let i = 0; ; i++) {
    const res = await call(`${gw.url}/api/enterprise/vkeys/${id}/budget`, { headers: authHeaders() });
    assert.equal(res.status, 200, res.text);
    if (res.json.reserved === 0 || i === 200) return res.json;
    await sleep(20);
  }
}

async function spendRow(gw: TestGateway, keyId: string, requestId: string): Promise<any> {
  for (let i = 0; i < 100; i++) {
    await gw.gateway.spendLog.flush();
    const logs = await call(`${gw.url}/api/spend/logs?key=${keyId}&limit=100`, { headers: authHeaders() });
    const row = logs.json.data.find((r: { id: string }) => r.id === requestId);
    if (row) return row;
    await sleep(30);
  }
  assert.fail(`request ${requestId} is not in the spend log`);
}

function anthropicCall(gw: TestGateway, key: string, body: Record<string, unknown>): Promise<Res> {
  return call(`${gw.url}/anthropic/v1/messages`, { headers: { 'x-api-key': key, ...ANTHROPIC_HEADERS }, body });
}

/** A PDF of 60 pages in ~4 KB, base64. */
function manyPagePdf(): string {
  const pages = Array.from({ length: 60 }, (_, i) => `${i + 4} 0 obj << /Type /Page /Parent 2 0 R >> endobj`).join('\n');
  return Buffer.from(`%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Count 60 >> endobj\n${pages}\n%%EOF`).toString('base64');
}

/** 200,000 characters: 100,000 tokens by the gateway's 2-bytes-a-token rule, $1 at 10 µ$ a token. */
const BIG = 'lorem ipsum dolor sit amet '.repeat(7_500).slice(0, 200_000);

describe('money: what the provider bills must be counted', () => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
    gw = await startTestGateway({
      providers: { openai: OPENAI(openai.url), anthropic: ANTHROPIC(anthropic.url) },
      models: [METERED, { name: 'haiku', provider: 'anthropic', model: 'claude-haiku-4-5' }],
      logging: { level: 'warn' },
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([openai.close(), anthropic.close()]);
  });

  describe('a client that leaves before the answer starts', () => {
    for (const stream of [false, true]) {
      test(`${stream ? 'a stream' : 'a JSON request'} dropped while the provider works is charged at least its prompt, marked estimated`, async () => {
        const { id, key } = await createKey(gw.url, { max_budget: 5 });
        // ~40k tokens of prompt: $0.40 by the gateway's own estimate at 10 µ$ a token.
        const prompt = 'please summarise this long document. '.repeat(2_200);
        const controller = new AbortController();
        const before = openai.requests.length;
        let requestId: string | undefined;
        const sent = request(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          // The provider takes a while before it answers (a long prompt, a slow model).
          headers: { ...authHeaders(key), 'x-fake-delay-ms': '800', 'x-request-id': `abort-${stream}-${Date.now()}` },
          body: JSON.stringify({ model: 'metered', max_tokens: 100, stream, messages: [{ role: 'user', content: prompt }] }),
          signal: controller.signal,
        }).catch(() => undefined);
        for (let i = 0; i < 100 && openai.requests.length === before; i++) await sleep(10);
        assert.equal(openai.requests.length, before + 1, 'the provider received the whole prompt');
        controller.abort();
        await sent;
        const budget = await settled(gw, id);
        assert.equal(budget.reserved, 0, 'settled');
        assert.ok(budget.spent >= 0.4, `the provider was sent a ~40k-token prompt (and bills it); the key was charged $${budget.spent}`);
        await gw.gateway.spendLog.flush();
        const logs = await call(`${gw.url}/api/spend/logs?key=${id}&limit=10`, { headers: authHeaders() });
        const row = logs.json.data[0];
        requestId = row?.id;
        assert.ok(requestId, 'the request is in the spend log');
        assert.equal(row.usage_estimated, true);
        assert.equal(row.status, 499);
        assert.ok(row.input_tokens >= 40_000, `input tokens ${row.input_tokens}`);
      });
    }

    test('a request refused before any upstream call stays free', async () => {
      const { id, key } = await createKey(gw.url, { max_budget: 0.01 });
      const res = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(key), body: { model: 'metered', max_tokens: 5, messages: [{ role: 'user', content: BIG }] } });
      assert.equal(res.status, 429);
      const budget = await settled(gw, id);
      assert.equal(budget.spent, 0);
    });
  });

  describe('prompt parts the reservation must count', () => {
    test('/v1/chat/completions: legacy `functions` and `function_call` messages are reserved like tools', async () => {
      const { key } = await createKey(gw.url, { max_budget: 0.5 });
      const asTools = await call(`${gw.url}/v1/chat/completions`, {
        headers: authHeaders(key),
        body: { model: 'metered', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'f', description: BIG, parameters: { type: 'object' } } }] },
      });
      assert.equal(asTools.status, 429, 'the same schema as a tool does not fit the budget');
      openai.reset();
      const asFunctions = await call(`${gw.url}/v1/chat/completions`, {
        headers: authHeaders(key),
        body: { model: 'metered', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], functions: [{ name: 'f', description: BIG, parameters: { type: 'object' } }] },
      });
      assert.equal(asFunctions.status, 429, `functions carrying ~100k tokens must be reserved like tools; got ${asFunctions.status}`);
      const asCall = await call(`${gw.url}/v1/chat/completions`, {
        headers: authHeaders(key),
        body: { model: 'metered', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, function_call: { name: 'f', arguments: JSON.stringify({ text: BIG }) } }, { role: 'function', name: 'f', content: 'ok' }] },
      });
      assert.equal(asCall.status, 429, `a function_call carrying ~100k tokens must be reserved; got ${asCall.status}`);
      assert.equal(openai.requests.length, 0, 'none reached the provider');
    });

    test('/v1/responses: input items and tools the chat translation drops are reserved as the native body carries them', async () => {
      const { id, key } = await createKey(gw.url, { max_budget: 0.5 });
      const asMessage = await call(`${gw.url}/v1/responses`, { headers: authHeaders(key), body: { model: 'metered', max_output_tokens: 5, input: [{ role: 'user', content: BIG }] } });
      assert.equal(asMessage.status, 429, 'the same text as a message does not fit the budget');
      openai.reset();
      // An item type chat has no equivalent for: dropped by the translation, sent to OpenAI as is.
      const input = [{ role: 'user', content: 'run the shell' }, { type: 'local_shell_call_output', id: 'lsh_1', call_id: 'call_1', output: BIG + BIG }];
      const res = await call(`${gw.url}/v1/responses`, { headers: authHeaders(key), body: { model: 'metered', max_output_tokens: 5, input } });
      assert.equal(res.status, 429, `a ~200k-token input item must be reserved; got ${res.status}: ${res.text.slice(0, 200)}`);
      const tool = await call(`${gw.url}/v1/responses`, {
        headers: authHeaders(key),
        body: { model: 'metered', max_output_tokens: 5, input: 'hi', tools: [{ type: 'mcp', server_label: 'docs', server_url: 'https://mcp.example.com', server_description: BIG }] },
      });
      assert.equal(tool.status, 429, `a ~100k-token tool the translation drops must be reserved; got ${tool.status}`);
      assert.equal(openai.requests.length, 0, 'none reached the provider');
      const budget = await settled(gw, id);
      assert.equal(budget.spent, 0);
    });

    test('/anthropic: a PDF inside a tool_result is reserved by its pages; mcp_servers count as input', async () => {
      const document = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: manyPagePdf() } };
      const { key } = await createKey(gw.url, { max_budget: 0.1 });
      const topLevel = await anthropicCall(gw, key, { model: 'haiku', max_tokens: 20, messages: [{ role: 'user', content: [document, { type: 'text', text: 'Summarise.' }] }] });
      assert.equal(topLevel.status, 429, 'as a top-level block it is refused');
      const nested = await anthropicCall(gw, key, {
        model: 'haiku',
        max_tokens: 20,
        tools: [{ name: 'read_file', input_schema: { type: 'object' } }],
        messages: [
          { role: 'user', content: 'Read report.pdf' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'report.pdf' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [document] }, { type: 'text', text: 'Summarise.' }] },
        ],
      });
      assert.equal(nested.status, 429, `the same 60-page PDF inside a tool_result must be reserved by its pages; got ${nested.status}`);
      // Haiku 4.5 at $1 a million input tokens: 100k tokens of MCP server definitions are $0.10.
      const mcp = await anthropicCall(gw, key, {
        model: 'haiku',
        max_tokens: 20,
        mcp_servers: [{ type: 'url', url: 'https://mcp.example.com', name: 'docs', tool_configuration: { allowed_tools: [BIG, BIG.slice(0, 20_000)] } }],
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(mcp.status, 429, `mcp_servers carrying ~110k tokens must be reserved; got ${mcp.status}`);
    });
  });

  describe('a stream cut off by the client', () => {
    test('is charged at least by the text it received, not one token per frame', async () => {
      const { id, key } = await createKey(gw.url, { max_budget: 10 });
      // The fake echoes the prompt word by word: 40 "words" of 400 characters, one per delta event.
      const words = Array.from({ length: 40 }, (_, i) => String.fromCharCode(97 + (i % 26)).repeat(400)).join(' ');
      const controller = new AbortController();
      const res = await request(`${gw.url}/anthropic/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': key, ...ANTHROPIC_HEADERS, 'x-fake-chunk-delay-ms': '30' },
        body: JSON.stringify({ model: 'haiku', max_tokens: 20_000, stream: true, messages: [{ role: 'user', content: words }] }),
        signal: controller.signal,
      });
      assert.equal(res.statusCode, 200);
      const requestId = String(res.headers['x-request-id']);
      let text = '';
      try {
        for await (const chunk of res.body) {
          text += chunk.toString();
          if (text.split('event: content_block_delta').length - 1 >= 20) controller.abort();
        }
      } catch {
        // aborted on purpose
      }
      let received = 0;
      for (const m of text.matchAll(/"text":"([^"]*)"/g)) received += m[1]!.length;
      assert.ok(received >= 7_000, `received ${received} characters of answer before leaving`);
      const row = await spendRow(gw, id, requestId);
      // Even at 4 characters a token (English prose; repeated letters tokenize far worse), the
      // text the client took away is at least received / 4 output tokens.
      assert.ok(row.output_tokens >= received / 4, `charged ${row.output_tokens} output tokens for ${received} characters of answer delivered`);
      assert.equal(row.usage_estimated, true);
    });
  });
});

describe('money: an attempt the gateway timed out', () => {
  let openai: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    openai = await startFakeOpenAI();
    gw = await startTestGateway({
      providers: { openai: { ...OPENAI(openai.url), timeout_ms: 300 } },
      models: [METERED],
      logging: { level: 'warn' },
    });
  });
  after(async () => {
    await gw.close();
    await openai.close();
  });

  test('is charged its prompt (the provider had it), not nothing', async () => {
    const { id, key } = await createKey(gw.url, { max_budget: 5 });
    const prompt = 'please summarise this long document. '.repeat(2_200);
    const res = await call(`${gw.url}/v1/chat/completions`, {
      headers: { ...authHeaders(key), 'x-fake-delay-ms': '1500' },
      body: { model: 'metered', max_tokens: 100, messages: [{ role: 'user', content: prompt }] },
    });
    assert.equal(res.status, 504, res.text);
    const budget = await settled(gw, id);
    assert.ok(budget.spent >= 0.4, `the provider was sent a ~40k-token prompt before the timeout; the key was charged $${budget.spent}`);
  });
});

describe('money: attachments sent as image_url to a Gemini model', () => {
  let gemini: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    gemini = await startFakeGemini();
    gw = await startTestGateway({
      providers: { google: { type: 'gemini', base_url: gemini.url, api_key: 'AIza-upstream-secret' } },
      models: [{ name: 'flash', provider: 'google', model: 'gemini-2.5-flash' }],
      logging: { level: 'warn' },
    });
  });
  after(async () => {
    await gw.close();
    await gemini.close();
  });

  test('a many-page PDF as an image_url data: URL is reserved by its pages, as Gemini reads it as a PDF', async () => {
    const pdf = manyPagePdf();
    const { key } = await createKey(gw.url, { max_budget: 0.05 });
    const asFile = await call(`${gw.url}/v1/chat/completions`, {
      headers: authHeaders(key),
      body: { model: 'flash', max_tokens: 20, messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf}` } }, { type: 'text', text: 'Summarise.' }] }] },
    });
    assert.equal(asFile.status, 429, 'as a file part it is reserved by its 60 pages and refused');
    gemini.reset();
    const asImage = await call(`${gw.url}/v1/chat/completions`, {
      headers: authHeaders(key),
      body: { model: 'flash', max_tokens: 20, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:application/pdf;base64,${pdf}` } }, { type: 'text', text: 'Summarise.' }] }] },
    });
    assert.equal(asImage.status, 429, `the same PDF as image_url must be reserved by its pages too; got ${asImage.status}`);
    assert.equal(gemini.requests.length, 0);
  });

  test('a real image as an image_url data: URL is still one image', async () => {
    const { key } = await createKey(gw.url, { max_budget: 0.05 });
    const png = Buffer.alloc(200_000, 1).toString('base64');
    const res = await call(`${gw.url}/v1/chat/completions`, {
      headers: authHeaders(key),
      body: { model: 'flash', max_tokens: 20, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }, { type: 'text', text: 'Describe.' }] }] },
    });
    assert.equal(res.status, 200, res.text.slice(0, 300));
  });
});

/** An Anthropic-compatible Messages server that never reports usage. */
async function startNoUsageAnthropic(): Promise<{ url: string; server: Server }> {
  const answer = 'A long answer. '.repeat(200);
  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const body = JSON.parse(raw || '{}');
    const message = { id: 'msg_1', type: 'message', role: 'assistant', model: body.model, content: [{ type: 'text', text: answer }], stop_reason: 'end_turn', stop_sequence: null };
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(message));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const ev = (data: Record<string, unknown>) => res.write(`event: ${data['type']}\ndata: ${JSON.stringify(data)}\n\n`);
    ev({ type: 'message_start', message: { ...message, content: [], stop_reason: null } });
    ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: answer } });
    ev({ type: 'content_block_stop', index: 0 });
    ev({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null } });
    ev({ type: 'message_stop' });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('money: /anthropic answers without usage', () => {
  let upstream: { url: string; server: Server };
  let gw: TestGateway;
  before(async () => {
    upstream = await startNoUsageAnthropic();
    gw = await startTestGateway({
      providers: { anthropic: { type: 'anthropic', base_url: upstream.url, api_key: 'sk-ant-upstream-secret' } },
      models: [{ name: 'haiku', provider: 'anthropic', model: 'claude-haiku-4-5' }],
      logging: { level: 'warn' },
    });
  });
  after(async () => {
    await gw.close();
    upstream.server.closeAllConnections();
    await new Promise((r) => upstream.server.close(r));
  });

  for (const stream of [false, true]) {
    test(`a ${stream ? 'streamed' : 'JSON'} answer without usage is charged by the gateway's estimate, marked estimated`, async () => {
      const { id, key } = await createKey(gw.url, { max_budget: 1 });
      const res = await anthropicCall(gw, key, { model: 'haiku', max_tokens: 2000, stream, messages: [{ role: 'user', content: 'Write me a long answer, please. '.repeat(50) }] });
      assert.equal(res.status, 200, res.text);
      assert.match(res.text, /A long answer/);
      const budget = await settled(gw, id);
      assert.ok(budget.spent > 0, `a ~3,000-character answer to a ~1,600-character prompt was charged $${budget.spent}`);
      const row = await spendRow(gw, id, String(res.headers['x-request-id']));
      assert.equal(row.usage_estimated, true);
      // 1,600 prompt bytes and 3,000 answer bytes at 2 bytes a token.
      assert.ok(row.input_tokens >= 800, `input ${row.input_tokens}`);
      assert.ok(row.output_tokens >= 1_500, `output ${row.output_tokens}`);
    });
  }
});
