import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { request } from 'undici';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';

/**
 * Streaming through the gateway against OpenAI-, Anthropic- and Gemini-shaped upstreams:
 * broken streams end with an error event and no [DONE], chunks are forwarded as they arrive,
 * a client that goes away cancels the upstream call, and an upstream error before the first
 * byte is a plain JSON error with its real status.
 */

const MODELS = ['gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash'] as const;
/** Long enough that every fake splits the answer into many streamed events. */
const LONG_PROMPT = 'one two three four five six seven eight nine ten';

interface StreamResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** ms since the request was sent, for each body chunk that arrived. */
  arrivals: number[];
  /** ms since the request was sent, when the body ended. */
  endedAt: number;
}

async function streamRaw(url: string, body: unknown, headers: Record<string, string> = {}): Promise<StreamResult> {
  const t0 = performance.now();
  const res = await request(url, { method: 'POST', headers: { ...authHeaders(), ...headers }, body: JSON.stringify(body) });
  const decoder = new TextDecoder();
  let text = '';
  const arrivals: number[] = [];
  for await (const chunk of res.body) {
    arrivals.push(performance.now() - t0);
    text += decoder.decode(chunk as Buffer, { stream: true });
  }
  text += decoder.decode();
  return { status: res.statusCode, headers: res.headers, text, arrivals, endedAt: performance.now() - t0 };
}

/** The `data:` payloads of an SSE text, in order. */
function dataPayloads(sse: string): string[] {
  return sse
    .split(/\r?\n\r?\n/)
    .map((block) => block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'))
    .filter((d) => d !== '');
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Fetches the spend-log row for a request id, waiting for it to be recorded (streams record when they end). */
async function spendRow(gwUrl: string, id: string, timeoutMs = 3000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(`${gwUrl}/api/spend/logs?limit=1000`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    const json = (await res.body.json()) as { data: Array<Record<string, unknown>> };
    assert.equal(res.statusCode, 200);
    const row = json.data.find((r) => r.id === id);
    if (row) return row;
    if (Date.now() > deadline) assert.fail(`no spend-log row for ${id}`);
    await sleep(50);
  }
}

/**
 * A tiny OpenAI-compatible upstream that streams slowly and records, per request, whether its
 * response was closed before it finished writing (the client side of it went away).
 */
interface SlowRecord {
  requestId: string | undefined;
  chunksSent: number;
  finished: boolean;
  /** performance.now() when the response closed before finishing; null while open or when it finished. */
  closedEarlyAt: number | null;
}

async function startSlowUpstream(chunkDelayMs: number, totalChunks: number): Promise<{ url: string; records: SlowRecord[]; server: Server; close(): Promise<void> }> {
  const records: SlowRecord[] = [];
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rid = req.headers['x-slow-id'];
      const rec: SlowRecord = { requestId: typeof rid === 'string' ? rid : undefined, chunksSent: 0, finished: false, closedEarlyAt: null };
      records.push(rec);
      res.on('close', () => {
        if (!res.writableFinished) rec.closedEarlyAt = performance.now();
        clearInterval(timer);
      });
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const frame = (delta: object, finish: string | null = null) =>
        `data: ${JSON.stringify({ id: 'chatcmpl-slow', object: 'chat.completion.chunk', created: 1, model: 'slow', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.write(frame({ role: 'assistant', content: '' }));
      rec.chunksSent++;
      const timer = setInterval(() => {
        if (res.destroyed) return;
        if (rec.chunksSent >= totalChunks) {
          clearInterval(timer);
          res.write(frame({}, 'stop'));
          res.write('data: [DONE]\n\n');
          rec.finished = true;
          res.end();
          return;
        }
        res.write(frame({ content: `tok${rec.chunksSent} ` }));
        rec.chunksSent++;
      }, chunkDelayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    records,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('streaming through the gateway', () => {
  let openaiFake: FakeUpstream;
  let anthropicFake: FakeUpstream;
  let geminiFake: FakeUpstream;
  let slow: Awaited<ReturnType<typeof startSlowUpstream>>;
  let gw: TestGateway;
  let chatUrl: string;

  before(async () => {
    [openaiFake, anthropicFake, geminiFake, slow] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini(), startSlowUpstream(200, 50)]);
    gw = await startTestGateway({
      providers: {
        ...fakeProviders({ openai: openaiFake.url, anthropic: anthropicFake.url, gemini: geminiFake.url }),
        slow: { type: 'openai', base_url: `${slow.url}/v1`, api_key: 'sk-slow', forward_headers: ['x-slow-*'] },
      },
      models: [
        { name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' },
        { name: 'claude-sonnet-4-5', provider: 'anthropic', model: 'claude-sonnet-4-5' },
        { name: 'gemini-2.5-flash', provider: 'google', model: 'gemini-2.5-flash' },
        { name: 'slow-model', provider: 'slow', model: 'slow-upstream' },
      ],
    });
    chatUrl = `${gw.url}/v1/chat/completions`;
  });

  after(async () => {
    await gw?.close();
    await Promise.all([openaiFake?.close(), anthropicFake?.close(), geminiFake?.close(), slow?.close()]);
  });

  for (const model of MODELS) {
    describe(model, () => {
      test('a complete stream ends with data: [DONE] and no error event (baseline)', async () => {
        const res = await streamRaw(chatUrl, { model, stream: true, messages: [{ role: 'user', content: LONG_PROMPT }] });
        assert.equal(res.status, 200);
        assert.match(headerOf(res.headers, 'content-type') ?? '', /^text\/event-stream/);
        const data = dataPayloads(res.text);
        assert.equal(data.at(-1), '[DONE]');
        assert.ok(!data.some((d) => d.startsWith('{"error"')));
        const text = data.slice(0, -1).map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? '').join('');
        assert.equal(text, `Echo: ${LONG_PROMPT}`);
      });

      test('upstream breaks mid-stream: an SSE error event, no [DONE], and a 502 stream_interrupted row in the spend log', async () => {
        const id = `break-${model}`;
        const res = await streamRaw(chatUrl, { model, stream: true, messages: [{ role: 'user', content: LONG_PROMPT }] }, { 'x-fake-break-after': '3', 'x-request-id': id });
        assert.equal(res.status, 200, 'the status line went out with the first chunk');
        assert.match(headerOf(res.headers, 'content-type') ?? '', /^text\/event-stream/);
        const data = dataPayloads(res.text);
        assert.ok(!res.text.includes('[DONE]'), `no [DONE] after a broken stream:\n${res.text}`);
        const last = data.at(-1);
        assert.ok(last !== undefined && last.startsWith('{"error"'), `last event is an error:\n${res.text}`);
        const err = JSON.parse(last).error;
        assert.deepEqual(Object.keys(err).sort(), ['code', 'message', 'param', 'type']);
        assert.equal(err.code, 'stream_interrupted');
        assert.ok(data.length >= 2, 'some content arrived before the error');
        const row = await spendRow(gw.url, id);
        assert.equal(row.status, 502);
        assert.equal(row.error_code, 'stream_interrupted');
        assert.equal(row.stream, true);
      });

      test('upstream breaks mid-stream: the openai SDK iterating the stream throws', async () => {
        const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-fake-break-after': '3' } });
        const stream = await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: LONG_PROMPT }] });
        let chunks = 0;
        await assert.rejects(
          (async () => {
            for await (const _chunk of stream) chunks++;
          })(),
          (err) => {
            assert.ok(err instanceof OpenAI.APIError, `APIError expected, got ${String(err)}`);
            return true;
          },
        );
        assert.ok(chunks >= 1, 'chunks before the break were delivered');
      });

      test('chunks arrive incrementally, not buffered until the end', async () => {
        const res = await streamRaw(chatUrl, { model, stream: true, messages: [{ role: 'user', content: LONG_PROMPT }] }, { 'x-fake-chunk-delay-ms': '150' });
        assert.equal(res.status, 200);
        assert.ok(res.text.includes('[DONE]'));
        const first = res.arrivals[0]!;
        const last = res.arrivals.at(-1)!;
        // The fakes send >= 10 events 150 ms apart: well over a second in total.
        assert.ok(res.endedAt > 1000, `stream took ${res.endedAt} ms; the chunk delay was not applied`);
        assert.ok(res.arrivals.length >= 5, `only ${res.arrivals.length} body chunks arrived`);
        assert.ok(first < res.endedAt / 2, `first chunk at ${first.toFixed(0)} ms of ${res.endedAt.toFixed(0)} ms`);
        assert.ok(last - first > 600, `chunks spread over ${(last - first).toFixed(0)} ms only`);
      });

      test('an upstream error before the first byte of a stream is a plain JSON 503, not an SSE stream', async () => {
        const res = await streamRaw(chatUrl, { model, stream: true, messages: [{ role: 'user', content: 'hi' }] }, { 'x-fake-status': '503' });
        assert.equal(res.status, 503, res.text);
        assert.match(headerOf(res.headers, 'content-type') ?? '', /^application\/json/);
        assert.ok(!res.text.startsWith('data:'));
        const body = JSON.parse(res.text);
        assert.deepEqual(Object.keys(body), ['error']);
        assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
        assert.ok(headerOf(res.headers, 'x-request-id'));
      });
    });
  }

  test('client disconnect aborts the upstream and is logged as 499 client_closed_request', async () => {
    const id = 'client-abort-1';
    const controller = new AbortController();
    const res = await request(chatUrl, {
      method: 'POST',
      headers: { ...authHeaders(), 'x-request-id': id, 'x-slow-id': id },
      body: JSON.stringify({ model: 'slow-model', stream: true, messages: [{ role: 'user', content: 'long answer please' }] }),
      signal: controller.signal,
    });
    assert.equal(res.statusCode, 200);
    const iterator = res.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.ok(!first.done && String(first.value).includes('data:'), 'first chunk arrived');
    // Let a couple more chunks flow so the stream is truly in progress.
    await sleep(300);
    const abortedAt = performance.now();
    controller.abort();
    await iterator.return?.().catch(() => undefined);

    const rec = slow.records.find((r) => r.requestId === id);
    assert.ok(rec, 'the slow upstream received the request');
    const deadline = Date.now() + 2000;
    while (rec.closedEarlyAt === null && Date.now() < deadline) await sleep(20);
    assert.ok(rec.closedEarlyAt !== null, 'the upstream response was closed before it finished');
    assert.equal(rec.finished, false);
    assert.ok(rec.chunksSent < 50, `upstream kept streaming: ${rec.chunksSent} chunks`);
    const lag = rec.closedEarlyAt - abortedAt;
    assert.ok(lag < 1000, `upstream closed ${lag.toFixed(0)} ms after the client left`);
    // Nothing more is written after the close.
    const sentAtClose = rec.chunksSent;
    await sleep(500);
    assert.equal(rec.chunksSent, sentAtClose);

    const row = await spendRow(gw.url, id);
    assert.equal(row.status, 499);
    assert.equal(row.error_code, 'client_closed_request');
    assert.equal(row.stream, true);
    assert.equal(row.model, 'slow-model');
    assert.notEqual(row.ttft_ms, null, 'the first chunk had been sent');
  });

  test('client disconnect on a fake provider stream: one upstream request, 499 in the spend log', async () => {
    const id = 'client-abort-2';
    const before = openaiFake.requests.length;
    const controller = new AbortController();
    const res = await request(chatUrl, {
      method: 'POST',
      headers: { ...authHeaders(), 'x-request-id': id, 'x-fake-chunk-delay-ms': '200' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: LONG_PROMPT.repeat(3) }] }),
      signal: controller.signal,
    });
    assert.equal(res.statusCode, 200);
    const iterator = res.body[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    await iterator.return?.().catch(() => undefined);
    const row = await spendRow(gw.url, id);
    assert.equal(row.status, 499);
    assert.equal(row.error_code, 'client_closed_request');
    const sent = openaiFake.requests.slice(before).filter((r) => r.headers['x-fake-chunk-delay-ms'] === '200');
    assert.equal(sent.length, 1, 'the gateway did not retry the upstream after the client left');
  });

  test('the gateway keeps serving streams after clients disconnect', async () => {
    const res = await streamRaw(chatUrl, { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'still alive' }] });
    assert.equal(res.status, 200);
    assert.ok(res.text.includes('[DONE]'));
  });
});
