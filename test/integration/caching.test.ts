import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

/** Priced so that every answer has a cost a hit can save. */
const MODEL = { name: 'm', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 };
const EMBED = { name: 'e', provider: 'openai', model: 'text-embedding-3-small' };

/** A gateway clock that moves only when a test says so. */
function testClock() {
  let t = Date.parse('2026-03-01T12:00:00Z');
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

let promptSeq = 0;
/** A prompt no other test uses, so tests sharing a gateway never meet each other's entries. */
const fresh = (label: string): string => `${label} #${++promptSeq}`;

function chatCalls(fake: FakeUpstream): number {
  return fake.requests.filter((r) => r.url.startsWith('/v1/chat/completions')).length;
}

interface Ask {
  key?: string;
  headers?: Record<string, string>;
  body?: Record<string, unknown>;
}

function ask(gw: TestGateway, prompt: string, opts: Ask = {}): Promise<Res> {
  return call(`${gw.url}/v1/chat/completions`, {
    headers: { ...authHeaders(opts.key), ...opts.headers },
    body: { model: 'm', messages: [{ role: 'user', content: prompt }], ...opts.body },
  });
}

function cacheOf(res: Res): { status: string | undefined; key: string | undefined } {
  assert.equal(res.status, 200, res.text);
  return { status: res.headers['x-smartflow-cache'] as string | undefined, key: res.headers['x-smartflow-cache-key'] as string | undefined };
}

/** The same directive in the body's `cache` object and as headers. */
const FORMS = {
  body: {
    noCache: { body: { cache: { 'no-cache': true } } },
    noStore: { body: { cache: { 'no-store': true } } },
    ttl: (s: number): Ask[] => [{ body: { cache: { ttl: s } } }],
    namespace: (ns: string) => ({ body: { cache: { namespace: ns } } }),
  },
  headers: {
    noCache: { headers: { 'cache-control': 'no-cache' } },
    noStore: { headers: { 'cache-control': 'no-store' } },
    ttl: (s: number): Ask[] => [{ headers: { 'cache-control': `max-age=${s}` } }, { headers: { 'x-smartflow-cache-ttl': String(s) } }],
    namespace: (ns: string) => ({ headers: { 'x-smartflow-cache-namespace': ns } }),
  },
} satisfies Record<string, { noCache: Ask; noStore: Ask; ttl: (s: number) => Ask[]; namespace: (ns: string) => Ask }>;

describe('response cache', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  const clock = testClock();

  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startTestGateway(
      { providers: fakeProviders({ openai: fake.url }), models: [MODEL, EMBED], cache: { enabled: true, default_ttl_seconds: 300 }, logging: { level: 'warn' } },
      { now: clock.now },
    );
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

  test('a repeated request is answered from the cache: STORED, then HIT with the same key and body, an age, and no provider call', async () => {
    const prompt = fresh('repeat');
    const first = await ask(gw, prompt);
    const miss = cacheOf(first);
    assert.equal(miss.status, 'STORED');
    assert.match(String(miss.key), /^[0-9a-f]{64}$/);
    assert.equal(first.headers.age, undefined);
    const calls = chatCalls(fake);

    clock.advance(7_500);
    const second = await ask(gw, prompt);
    assert.deepEqual(cacheOf(second), { status: 'HIT', key: miss.key });
    assert.equal(second.headers.age, '7');
    assert.equal(second.text, first.text, 'the answer exactly as the provider sent it');
    assert.equal(second.headers['x-smartflow-cost-micros'], '0');
    assert.equal(chatCalls(fake), calls, 'a hit never reaches the provider');
  });

  test('embeddings are cached too', async () => {
    const body = { model: 'e', input: [fresh('embed me'), 'and me'] };
    const first = await call(`${gw.url}/v1/embeddings`, { headers: authHeaders(), body });
    assert.equal(first.headers['x-smartflow-cache'], 'STORED');
    const calls = fake.requests.length;
    const second = await call(`${gw.url}/v1/embeddings`, { headers: authHeaders(), body });
    assert.equal(second.headers['x-smartflow-cache'], 'HIT');
    assert.deepEqual(second.json, first.json);
    assert.equal(fake.requests.length, calls);
  });

  for (const [form, d] of Object.entries(FORMS)) {
    test(`${form}: no-cache skips the lookup, calls the provider, and refreshes the entry`, async () => {
      const prompt = fresh(`no-cache ${form}`);
      const stored = cacheOf(await ask(gw, prompt));
      const calls = chatCalls(fake);
      const bypass = await ask(gw, prompt, d.noCache);
      assert.deepEqual(cacheOf(bypass), { status: 'BYPASS', key: stored.key });
      assert.equal(chatCalls(fake), calls + 1);
      const hit = await ask(gw, prompt);
      assert.equal(cacheOf(hit).status, 'HIT');
      assert.equal(hit.json.id, bypass.json.id, 'the bypassing answer replaced the cached one');
    });

    test(`${form}: no-store answers from the provider and keeps nothing, but may still read`, async () => {
      const prompt = fresh(`no-store ${form}`);
      assert.equal(cacheOf(await ask(gw, prompt, d.noStore)).status, 'MISS');
      assert.equal(cacheOf(await ask(gw, prompt, d.noStore)).status, 'MISS');
      const calls = chatCalls(fake);
      assert.equal(cacheOf(await ask(gw, prompt)).status, 'STORED', 'nothing had been stored');
      assert.equal(chatCalls(fake), calls + 1);
      assert.equal(cacheOf(await ask(gw, prompt, d.noStore)).status, 'HIT');
    });

    for (const [i, ttl] of d.ttl(30).entries()) {
      test(`${form}${i ? ` (x-smartflow-cache-ttl)` : ''}: a TTL keeps the answer exactly that long on the gateway clock`, async () => {
        const prompt = fresh(`ttl ${form} ${i}`);
        assert.equal(cacheOf(await ask(gw, prompt, ttl)).status, 'STORED');
        clock.advance(29_999);
        assert.equal(cacheOf(await ask(gw, prompt)).status, 'HIT');
        clock.advance(1);
        const calls = chatCalls(fake);
        assert.equal(cacheOf(await ask(gw, prompt)).status, 'STORED', 'expired after 30 s');
        assert.equal(chatCalls(fake), calls + 1);
      });
    }

    test(`${form}: namespaces keep entries apart`, async () => {
      const prompt = fresh(`namespace ${form}`);
      const a = cacheOf(await ask(gw, prompt, d.namespace('team-a')));
      assert.equal(a.status, 'STORED');
      const plain = cacheOf(await ask(gw, prompt));
      assert.equal(plain.status, 'STORED', 'the default namespace does not see team-a');
      const b = cacheOf(await ask(gw, prompt, d.namespace('team-b')));
      assert.equal(b.status, 'STORED');
      assert.equal(new Set([a.key, plain.key, b.key]).size, 3);
      assert.deepEqual(cacheOf(await ask(gw, prompt, d.namespace('team-a'))), { status: 'HIT', key: a.key });
    });
  }

  test('the default TTL (cache.default_ttl_seconds) expires on the gateway clock', async () => {
    const prompt = fresh('default ttl');
    cacheOf(await ask(gw, prompt));
    clock.advance(299_000);
    assert.equal(cacheOf(await ask(gw, prompt)).status, 'HIT');
    clock.advance(1_000);
    assert.equal(cacheOf(await ask(gw, prompt)).status, 'STORED');
  });

  test('the cache object never reaches the provider and is not part of the key', async () => {
    const prompt = fresh('stripped');
    const withControls = cacheOf(await ask(gw, prompt, { body: { cache: { ttl: 60 } } }));
    const sent = fake.requests.at(-1)!.body;
    assert.equal('cache' in sent, false);
    assert.equal(sent.messages[0].content, prompt);
    assert.deepEqual(cacheOf(await ask(gw, prompt)), { status: 'HIT', key: withControls.key });
  });

  test('a malformed cache object or header is a 400 naming the field, before any provider call', async () => {
    const calls = chatCalls(fake);
    const cases: Array<[Ask, string]> = [
      [{ body: { cache: { ttl: -1 } } }, 'cache.ttl'],
      [{ body: { cache: { ttl: 'ten' } } }, 'cache.ttl'],
      [{ body: { cache: { 'no-store': 1 } } }, 'cache.no-store'],
      [{ body: { cache: { namespace: '../etc' } } }, 'cache.namespace'],
      [{ body: { cache: { nocache: true } } }, 'cache.nocache'],
      [{ body: { cache: [] } }, 'cache'],
      [{ headers: { 'x-smartflow-cache-ttl': 'soon' } }, 'x-smartflow-cache-ttl'],
      [{ headers: { 'cache-control': 'max-age=-1' } }, 'cache-control'],
      [{ headers: { 'x-smartflow-cache-namespace': 'a b' } }, 'x-smartflow-cache-namespace'],
    ];
    for (const [opts, param] of cases) {
      const res = await ask(gw, fresh('malformed'), opts);
      assert.equal(res.status, 400, `${JSON.stringify(opts)}: ${res.text}`);
      assert.equal(res.json.error.code, 'invalid_request');
      assert.equal(res.json.error.param, param);
    }
    assert.equal(chatCalls(fake), calls);
  });

  test('DELETE /api/cache/{key} removes exactly the entry whose key the header showed', async () => {
    const [p1, p2] = [fresh('delete me'), fresh('keep me')];
    const k1 = cacheOf(await ask(gw, p1)).key!;
    const k2 = cacheOf(await ask(gw, p2)).key!;
    const hit = cacheOf(await ask(gw, p1));
    assert.deepEqual(hit, { status: 'HIT', key: k1 });

    const del = await call(`${gw.url}/api/cache/${hit.key}`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.json, { object: 'cache.entry', key: k1, deleted: true });
    assert.equal(cacheOf(await ask(gw, p1)).status, 'STORED', 'gone');
    assert.equal(cacheOf(await ask(gw, p2)).status, 'HIT', 'the other entry stays');

    assert.equal((await call(`${gw.url}/api/cache/${k2}`, { method: 'DELETE', headers: authHeaders() })).status, 200);
    const again = await call(`${gw.url}/api/cache/${k2}`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(again.status, 404);
    assert.equal(again.json.error.code, 'not_found');
    assert.equal((await call(`${gw.url}/api/cache/not-a-key`, { method: 'DELETE', headers: authHeaders() })).status, 404);
  });

  test('DELETE /api/cache?namespace= removes one namespace (the master key owns what it named); the cache admin API needs the master key', async () => {
    const ns = { body: { cache: { namespace: 'doomed' } } };
    const [p1, p2, p3] = [fresh('ns one'), fresh('ns two'), fresh('ns other')];
    cacheOf(await ask(gw, p1, ns));
    cacheOf(await ask(gw, p2, ns));
    cacheOf(await ask(gw, p3));

    const { key } = await createKey(gw.url);
    for (const [method, path] of [['DELETE', '/api/cache?namespace=master/doomed'], ['GET', '/api/cache/stats'], ['DELETE', `/api/cache/${'0'.repeat(64)}`]] as const) {
      const res = await call(`${gw.url}${path}`, { method, headers: authHeaders(key) });
      assert.equal(res.status, 403, `${method} ${path}`);
    }
    const missing = await call(`${gw.url}/api/cache`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.param, 'namespace');

    const del = await call(`${gw.url}/api/cache?namespace=master/doomed`, { method: 'DELETE', headers: authHeaders() });
    assert.deepEqual(del.json, { object: 'cache.namespace', namespace: 'master/doomed', deleted: 2 });
    assert.equal(cacheOf(await ask(gw, p1, ns)).status, 'STORED');
    assert.equal(cacheOf(await ask(gw, p3)).status, 'HIT');
    const audit = await call(`${gw.url}/api/audit`, { headers: authHeaders() });
    assert.ok(audit.json.data.some((e: any) => e.action === 'cache.delete_namespace' && e.target_id === 'master/doomed' && e.details.deleted === 2));
  });

  test('GET /api/cache/stats: hits, misses, entries and bytes per namespace', async () => {
    const ns = { body: { cache: { namespace: 'counted' } } };
    const [p1, p2] = [fresh('stats one'), fresh('stats two')];
    const a = await ask(gw, p1, ns);
    await ask(gw, p1, ns);
    await ask(gw, p1, ns);
    const b = await ask(gw, p2, ns);
    await ask(gw, p2, { body: { cache: { namespace: 'counted', 'no-cache': true } } });

    const stats = await call(`${gw.url}/api/cache/stats`, { headers: authHeaders() });
    assert.equal(stats.status, 200);
    assert.equal(stats.json.object, 'cache.stats');
    assert.equal(stats.json.backend, 'memory');
    const row = stats.json.namespaces.find((n: any) => n.namespace === 'master/counted');
    // The bypass neither hit nor missed; its answer replaced p2's, which differs only in its random id.
    assert.deepEqual(row, { namespace: 'master/counted', hits: 2, misses: 2, entries: 2, bytes: Buffer.byteLength(a.text) + Buffer.byteLength(b.text) });
    const totals = stats.json.namespaces.reduce((s: any, n: any) => ({ hits: s.hits + n.hits, entries: s.entries + n.entries }), { hits: 0, entries: 0 });
    assert.equal(stats.json.hits, totals.hits);
    assert.equal(stats.json.entries, totals.entries);
    assert.equal(stats.json.hit_rate, stats.json.hits / (stats.json.hits + stats.json.misses));
  });

  test('errors are never cached', async () => {
    const prompt = fresh('failing');
    const failed = await ask(gw, prompt, { headers: { 'x-fake-status': '500' } });
    assert.equal(failed.status, 500);
    assert.equal(failed.headers['x-smartflow-cache'], 'MISS');
    const calls = chatCalls(fake);
    assert.equal(cacheOf(await ask(gw, prompt)).status, 'STORED');
    assert.equal(chatCalls(fake), calls + 1);
  });

  test('a stream that breaks, or that the client leaves, is never cached', async () => {
    const broken = fresh('broken stream');
    const cut = await ask(gw, broken, { body: { stream: true }, headers: { 'x-fake-break-after': '3' } });
    assert.equal(cut.headers['x-smartflow-cache'], 'MISS');
    assert.ok(!cut.text.includes('[DONE]'));
    assert.equal(cacheOf(await ask(gw, broken)).status, 'STORED');

    const left = fresh('abandoned stream');
    const controller = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...authHeaders(), 'x-fake-chunk-delay-ms': '100' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: `${left} with several more words to stream` }] }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    // Long enough for the whole answer to have streamed, had the gateway kept reading it.
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(cacheOf(await ask(gw, `${left} with several more words to stream`)).status, 'STORED');
  });
});

describe('response cache: streams and the openai SDK', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startTestGateway({ providers: fakeProviders({ openai: fake.url }), models: [MODEL], cache: { enabled: true }, logging: { level: 'warn' } });
    client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

  async function streamed(content: string, includeUsage: boolean, headers: Record<string, string> = {}) {
    const started = performance.now();
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'm', stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}), messages: [{ role: 'user', content }] }, { headers })
      .withResponse();
    let text = '';
    let firstContentMs: number | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      const piece = chunk.choices[0]?.delta.content;
      if (piece && firstContentMs === null) firstContentMs = performance.now() - started;
      text += piece ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    return { text, usage, finish, ids, cache: response.headers.get('x-smartflow-cache'), key: response.headers.get('x-smartflow-cache-key'), firstContentMs, totalMs: performance.now() - started };
  }

  test('a streamed miss is forwarded as it arrives, stored once complete, and replayed on a hit that the SDK parses', async () => {
    const prompt = `${fresh('stream')} one two three four five`;
    const miss = await streamed(prompt, true, { 'x-fake-chunk-delay-ms': '120' });
    assert.equal(miss.cache, 'MISS', 'a stream\'s headers leave before it is stored');
    assert.ok(miss.firstContentMs! < miss.totalMs - 500, `first content after ${miss.firstContentMs} ms of ${miss.totalMs} ms: not buffered`);
    const calls = chatCalls(fake);

    const hit = await streamed(prompt, true);
    assert.equal(hit.cache, 'HIT');
    assert.equal(hit.key, miss.key);
    assert.equal(hit.text, miss.text);
    assert.equal(hit.text, `Echo: ${prompt}`);
    assert.equal(hit.finish, 'stop');
    assert.deepEqual(hit.usage, miss.usage, 'the usage chunk reports what the answer used');
    assert.deepEqual(hit.ids, miss.ids);
    assert.equal(chatCalls(fake), calls);
  });

  test('the replay has a usage chunk only when the client asks for one', async () => {
    const prompt = fresh('usage chunk');
    await streamed(prompt, true);
    const raw = await ask(gw, prompt, { body: { stream: true } });
    assert.equal(raw.headers['x-smartflow-cache'], 'HIT');
    assert.match(raw.headers['content-type'] as string, /^text\/event-stream/);
    assert.ok(!/"choices":\s*\[\]/.test(raw.text), 'no usage-only chunk');
    assert.ok(raw.text.endsWith('data: [DONE]\n\n'));
    const withUsage = await streamed(prompt, true);
    assert.equal(withUsage.cache, 'HIT');
    assert.ok(withUsage.usage && withUsage.usage.total_tokens > 0);
  });

  test('a JSON answer serves a stream request, and a streamed answer serves a JSON request, tool calls included', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }];
    for (const withTools of [false, true]) {
      const jsonFirst = fresh(`json first ${withTools}`);
      const plain = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: jsonFirst }], ...(withTools ? { tools } : {}) });
      const calls = chatCalls(fake);
      const stream = await client.chat.completions.create({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: jsonFirst }], ...(withTools ? { tools } : {}) });
      let text = '';
      let args = '';
      let name = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        const tc = chunk.choices[0]?.delta.tool_calls?.[0];
        name += tc?.function?.name ?? '';
        args += tc?.function?.arguments ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(chatCalls(fake), calls, 'served from the JSON entry');
      assert.equal(text, plain.choices[0]?.message.content ?? '');
      assert.equal(name, plain.choices[0]?.message.tool_calls?.[0]?.type === 'function' ? plain.choices[0].message.tool_calls[0].function.name : '');
      assert.equal(args, plain.choices[0]?.message.tool_calls?.[0]?.type === 'function' ? plain.choices[0].message.tool_calls[0].function.arguments : '');
      assert.deepEqual(usage, plain.usage);

      const streamFirst = fresh(`stream first ${withTools}`);
      const s = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: streamFirst }], ...(withTools ? { tools } : {}) });
      for await (const chunk of s) void chunk;
      const before = chatCalls(fake);
      const assembled = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: streamFirst }], ...(withTools ? { tools } : {}) });
      assert.equal(chatCalls(fake), before, 'served from the streamed entry');
      const fromProvider = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: streamFirst }], ...(withTools ? { tools } : {}) }, { headers: { 'cache-control': 'no-cache, no-store' } });
      assert.deepEqual(assembled.choices.map((c) => ({ message: c.message, finish: c.finish_reason })), fromProvider.choices.map((c) => ({ message: c.message, finish: c.finish_reason })));
      assert.ok((assembled.usage?.total_tokens ?? 0) > 0);
    }
  });
});

describe('response cache: budgets and the spend log', () => {
  test('hits cost $0 against the key\'s budget, plain and streamed, and are logged as hits with the cost they saved', async (t) => {
    const fake = await startFakeOpenAI();
    const gw = await startTestGateway({ providers: fakeProviders({ openai: fake.url }), models: [MODEL], cache: { enabled: true }, logging: { level: 'warn' } });
    t.after(async () => {
      await gw.close();
      await fake.close();
    });
    const { id, key } = await createKey(gw.url, { max_budget: 1 });
    const spent = async (): Promise<number> => (await call(`${gw.url}/api/enterprise/vkeys/${id}/budget`, { headers: authHeaders() })).json.spent;

    const plain = fresh('budget plain');
    const first = await ask(gw, plain, { key });
    assert.equal(first.headers['x-smartflow-cache'], 'STORED');
    const afterMiss = await spent();
    assert.ok(afterMiss > 0);
    const hit = await ask(gw, plain, { key });
    assert.equal(hit.headers['x-smartflow-cache'], 'HIT');
    assert.equal(hit.headers['x-smartflow-cost-micros'], '0');
    assert.equal(await spent(), afterMiss);

    const stream = fresh('budget stream');
    const missStream = await ask(gw, stream, { key, body: { stream: true } });
    assert.ok(missStream.text.endsWith('data: [DONE]\n\n'));
    const afterStreamMiss = await spent();
    assert.ok(afterStreamMiss > afterMiss);
    const hitStream = await ask(gw, stream, { key, body: { stream: true } });
    assert.equal(hitStream.headers['x-smartflow-cache'], 'HIT');
    assert.equal(await spent(), afterStreamMiss, 'a replayed stream is not charged an estimate');

    const logs = await call(`${gw.url}/api/spend/logs?key=${id}`, { headers: authHeaders() });
    const rows = [...logs.json.data].reverse();
    assert.deepEqual(
      rows.map((r: any) => [r.stream, r.cache_status]),
      [
        [false, 'stored'],
        [false, 'hit'],
        [true, 'stored'],
        [true, 'hit'],
      ],
    );
    for (const [miss, h] of [
      [rows[0], rows[1]],
      [rows[2], rows[3]],
    ]) {
      assert.ok(miss.cost_micros > 0);
      assert.equal(miss.saved_cost_micros, 0);
      assert.equal(h.cost_micros, 0);
      assert.equal(h.input_tokens + h.output_tokens, 0);
      assert.equal(h.saved_cost_micros, miss.cost_micros);
    }
  });
});

describe('response cache: switched on per model and per key', () => {
  test('cache.enabled off; one model and one key switch it on; a key switched off wins over the model', async (t) => {
    const fake = await startFakeOpenAI();
    const gw = await startTestGateway({
      providers: fakeProviders({ openai: fake.url }),
      models: [MODEL, { ...MODEL, name: 'cached' }],
      cache: { enabled: false, models: { cached: { enabled: true } } },
      logging: { level: 'warn' },
    });
    t.after(async () => {
      await gw.close();
      await fake.close();
    });
    const twice = async (model: string, key?: string) => {
      const prompt = fresh(`switch ${model}`);
      const calls = chatCalls(fake);
      const a = await ask(gw, prompt, { body: { model }, ...(key ? { key } : {}) });
      const b = await ask(gw, prompt, { body: { model }, ...(key ? { key } : {}) });
      assert.equal(a.status, 200, a.text);
      return { headers: [a.headers['x-smartflow-cache'], b.headers['x-smartflow-cache']], keyHeader: a.headers['x-smartflow-cache-key'], calls: chatCalls(fake) - calls };
    };
    assert.deepEqual(await twice('m'), { headers: [undefined, undefined], keyHeader: undefined, calls: 2 });
    // Where caching does not apply the headers mean nothing, but the body's cache object is still checked and removed.
    assert.equal((await ask(gw, fresh('off'), { headers: { 'x-smartflow-cache-ttl': 'soon' } })).status, 200);
    assert.equal((await ask(gw, fresh('off'), { body: { cache: { ttl: -1 } } })).json.error.param, 'cache.ttl');
    assert.equal((await ask(gw, fresh('off'), { body: { cache: { ttl: 5 } } })).status, 200);
    assert.equal('cache' in fake.requests.at(-1)!.body, false);
    assert.deepEqual((await twice('cached')).headers, ['STORED', 'HIT']);

    const on = await createKey(gw.url, { cache: true });
    const off = await createKey(gw.url, { cache: false });
    const neutral = await createKey(gw.url, {});
    assert.equal(on.json.cache, true);
    assert.equal(neutral.json.cache, null);
    assert.deepEqual((await twice('m', on.key)).headers, ['STORED', 'HIT']);
    assert.deepEqual((await twice('cached', off.key)).headers, [undefined, undefined]);
    assert.deepEqual((await twice('m', neutral.key)).headers, [undefined, undefined]);

    const patched = await call(`${gw.url}/api/enterprise/vkeys/${on.id}`, { method: 'PATCH', headers: authHeaders(), body: { cache: null } });
    assert.equal(patched.json.cache, null);
    assert.deepEqual((await twice('m', on.key)).headers, [undefined, undefined]);
  });
});
