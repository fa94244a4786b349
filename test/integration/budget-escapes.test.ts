import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { chatWith, createKey } from '../helpers/vkeys.js';

/**
 * Money is never free by accident (issue 10, items 1-6): unpriced models, answers without
 * usage, attachments, absurd token limits, server tools and long prompts must not let a
 * budgeted key escape its budget, nor one request fail the others of its turn.
 */

const OPENAI = (url: string) => ({ type: 'openai', base_url: `${url}/v1`, api_key: 'sk-upstream-openai-secret', forward_headers: ['x-fake-*'] });
const ANTHROPIC = (url: string) => ({ type: 'anthropic', base_url: url, api_key: 'sk-ant-upstream-secret', forward_headers: ['x-fake-*'] });
/** 10 and 20 micro-USD per input and output token: readable arithmetic. */
const METERED = { name: 'metered', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 };

async function settled(gw: TestGateway, id: string): Promise<{ spent: number; reserved: number; max_budget: number | null }> {
  for (let i = 0; ; i++) {
    const res = await call(`${gw.url}/api/enterprise/vkeys/${id}/budget`, { headers: authHeaders() });
    assert.equal(res.status, 200, res.text);
    if (res.json.reserved === 0 || i === 100) return res.json;
    await sleep(20);
  }
}

async function spendRows(gw: TestGateway, keyId: string): Promise<any[]> {
  await gw.gateway.spendLog.flush();
  const res = await call(`${gw.url}/api/spend/logs?key=${keyId}&limit=1000`, { headers: authHeaders() });
  assert.equal(res.status, 200, res.text);
  return res.json.data;
}

function anthropicCall(gw: TestGateway, key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Res> {
  return call(`${gw.url}/anthropic/v1/messages`, { headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers }, body });
}

/** Reads a whole SSE answer through the gateway. */
async function streamText(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; text: string; cost: string | undefined }> {
  const res = await request(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, text, cost: res.headers['x-smartflow-cost-micros'] as string | undefined };
}

describe('money: a budget must never be escaped', () => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  before(async () => {
    [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
  });
  after(async () => {
    await Promise.all([openai.close(), anthropic.close()]);
  });

  describe('unpriced models', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({
        providers: { openai: OPENAI(openai.url), anthropic: ANTHROPIC(anthropic.url) },
        models: [METERED],
        logging: { level: 'warn' },
      });
    });
    after(() => gw.close());

    test('a budgeted key is refused a model with no price and no default, with a 400 naming the model and the setting; no provider call', async () => {
      const { key } = await createKey(gw.url, { max_budget: 0.0001 });
      openai.reset();
      anthropic.reset();
      for (const model of ['openai/o1-pro', 'claude-unlisted-9']) {
        const res = await chatWith(gw.url, key, model);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.json.error.code, 'model_unpriced');
        assert.equal(res.json.error.param, 'model');
        assert.match(res.json.error.message, new RegExp(model));
        assert.match(res.json.error.message, /budgets\.default_price/);
      }
      const viaCursor = await call(`${gw.url}/cursor/v1/chat/completions`, { headers: authHeaders(key), body: { model: 'my-finetune-x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] } });
      assert.equal(viaCursor.status, 400, viaCursor.text);
      assert.equal(viaCursor.json.error.code, 'model_unpriced');
      const native = await anthropicCall(gw, key, { model: 'claude-unlisted-9', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(native.status, 400, native.text);
      assert.equal(native.json.error.type, 'invalid_request_error');
      assert.match(native.json.error.message, /claude-unlisted-9.*budgets\.default_price/s);
      assert.equal(openai.requests.length + anthropic.requests.length, 0, 'no provider was called');
    });

    test('the master key and keys without a budget limit keep using unpriced models', async () => {
      const master = await chatWith(gw.url, MASTER_KEY, 'openai/o1-pro');
      assert.equal(master.status, 200, master.text);
      const { key } = await createKey(gw.url, {});
      const unbudgeted = await chatWith(gw.url, key, 'openai/o1-pro');
      assert.equal(unbudgeted.status, 200, unbudgeted.text);
    });

    test('with budgets.default_price, unpriced models are charged at it and the budget holds', async (t) => {
      const priced = await startTestGateway({
        providers: { openai: OPENAI(openai.url) },
        budgets: { default_price: { input_cost_per_mtok: 10, output_cost_per_mtok: 20 } },
        logging: { level: 'warn' },
      });
      t.after(() => priced.close());
      // "hi" with max_tokens 5 reserves 220 µUSD at these prices and settles at 120.
      const { id, key } = await createKey(priced.url, { max_budget: 0.0005 });
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await chatWith(priced.url, key, 'openai/o1-pro');
        statuses.push(res.status);
        if (res.status === 200) assert.ok(Number(res.headers['x-smartflow-cost-micros']) > 0, 'charged');
      }
      assert.ok(statuses.includes(429), `the budget ran out: ${statuses.join(',')}`);
      const budget = await settled(priced, id);
      assert.ok(budget.spent > 0 && budget.spent <= 0.0005, `spent ${budget.spent} within the budget`);
    });
  });

  describe('answers without usage', () => {
    let gw: TestGateway;
    let gemini: FakeUpstream;
    before(async () => {
      gemini = await startFakeGemini();
      gw = await startTestGateway({
        providers: { openai: OPENAI(openai.url), google: { type: 'gemini', base_url: gemini.url, api_key: 'AIza-upstream-secret', forward_headers: ['x-fake-*'] } },
        models: [METERED, { name: 'flash', provider: 'google', model: 'gemini-2.5-flash' }],
        logging: { level: 'warn' },
      });
    });
    after(async () => {
      await gw.close();
      await gemini.close();
    });

    test('a translated answer without usage (Gemini without usageMetadata) is estimated too, JSON and streamed', async () => {
      const { id, key } = await createKey(gw.url, { max_budget: 1 });
      const json = await chatWith(gw.url, key, 'flash', { max_tokens: 50 }, { 'x-fake-no-usage': '1' });
      assert.equal(json.status, 200, json.text);
      assert.ok(Number(json.headers['x-smartflow-cost-micros']) > 0, 'charged');
      const streamed = await streamText(`${gw.url}/v1/chat/completions`, { ...authHeaders(key), 'x-fake-no-usage': '1' }, { model: 'flash', stream: true, max_tokens: 50, messages: [{ role: 'user', content: 'hi there' }] });
      assert.equal(streamed.status, 200);
      const rows = await spendRows(gw, id);
      assert.equal(rows.length, 2);
      for (const r of rows) assert.ok(r.usage_estimated === true && r.input_tokens > 0 && r.output_tokens > 0 && r.cost_micros > 0, JSON.stringify(r));
    });

    test('a JSON answer without usage is charged by the gateway estimate and the spend row says so', async () => {
      const { id, key } = await createKey(gw.url, { max_budget: 1 });
      const res = await chatWith(gw.url, key, 'metered', { messages: [{ role: 'user', content: 'tell me something long enough to count' }], max_tokens: 50 }, { 'x-fake-no-usage': '1' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.usage, undefined, 'the fake really omitted usage');
      assert.ok(Number(res.headers['x-smartflow-cost-micros']) > 0, `charged: ${String(res.headers['x-smartflow-cost-micros'])}`);
      const [row] = await spendRows(gw, id);
      assert.equal(row.usage_estimated, true);
      assert.ok(row.input_tokens > 0 && row.output_tokens > 0, JSON.stringify(row));
      const budget = await settled(gw, id);
      assert.ok(budget.spent > 0, 'the budget was charged');
    });

    test('a stream that ignores include_usage, and a native Responses answer without usage, are charged by the estimate of what was streamed', async () => {
      const { id, key } = await createKey(gw.url, { max_budget: 1 });
      const res = await streamText(`${gw.url}/v1/chat/completions`, { ...authHeaders(key), 'x-fake-no-usage': '1' }, {
        model: 'metered', stream: true, max_tokens: 50, messages: [{ role: 'user', content: 'stream me an answer to count' }],
      });
      assert.equal(res.status, 200);
      assert.match(res.text, /data: \[DONE\]/);
      const [row] = await spendRows(gw, id);
      assert.equal(row.usage_estimated, true);
      // "Echo: stream me an answer to count" is 34 bytes: at least 17 output tokens by the 2-bytes rule.
      assert.ok(row.output_tokens >= 17, JSON.stringify(row));
      assert.ok(row.cost_micros > 0);
      for (const stream of [false, true]) {
        const answer = await streamText(`${gw.url}/v1/responses`, { ...authHeaders(key), 'x-fake-no-usage': '1' }, { model: 'metered', stream, input: 'a Responses answer to count' });
        assert.equal(answer.status, 200, answer.text);
      }
      const responsesRows = (await spendRows(gw, id)).filter((r) => r.operation === 'responses');
      assert.equal(responsesRows.length, 2);
      for (const r of responsesRows) assert.ok(r.usage_estimated === true && r.output_tokens > 0 && r.cost_micros > 0, `a Responses answer without usage is estimated: ${JSON.stringify(r)}`);
      const reported = await chatWith(gw.url, key, 'metered');
      assert.equal(reported.status, 200);
      const rows = await spendRows(gw, id);
      assert.equal(rows.find((r) => r.usage_estimated === false)?.cost_micros, 120, 'reported usage is charged as reported');
    });
  });

  describe('attachments', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({
        providers: { openai: OPENAI(openai.url), anthropic: ANTHROPIC(anthropic.url) },
        models: [{ name: 'haiku', provider: 'anthropic', model: 'claude-haiku-4-5' }, { name: 'no-window', provider: 'openai', model: 'x-unknown', input_cost_per_mtok: 1, output_cost_per_mtok: 1 }, { name: 'mini', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 1, output_cost_per_mtok: 5, context_window: 400_000 }],
        logging: { level: 'warn' },
      });
    });
    after(() => gw.close());

    /** A ~600 KB PDF, base64 as clients send it. */
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(600_000)]).toString('base64');

    test('five concurrent ~600 KB PDFs through /anthropic do not settle over a $0.10 budget', async () => {
      const { id, key } = await createKey(gw.url, { max_budget: 0.1 });
      const body = {
        model: 'haiku', max_tokens: 200,
        messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } }, { type: 'text', text: 'Summarise.' }] }],
      };
      const results = await Promise.all(Array.from({ length: 5 }, () => anthropicCall(gw, key, body)));
      const budget = await settled(gw, id);
      assert.ok(budget.spent <= 0.1, `spent $${budget.spent} of $0.10 (statuses ${results.map((r) => r.status).join(',')})`);
      for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.json.error.type, 'rate_limit_error', r.text);
    });

    test('a small PDF with many pages is reserved by its pages, not its bytes', async () => {
      // 60 pages in ~4 KB: by size about 4k tokens, by Anthropic's per-page rule ~276k (capped at the 200k window).
      const pages = Array.from({ length: 60 }, (_, i) => `${i + 4} 0 obj << /Type /Page /Parent 2 0 R >> endobj`).join('\n');
      const manyPages = Buffer.from(`%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Count 60 >> endobj\n${pages}\n%%EOF`).toString('base64');
      const { key } = await createKey(gw.url, { max_budget: 0.1 });
      const document = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: manyPages } };
      const refused = await anthropicCall(gw, key, { model: 'haiku', max_tokens: 20, messages: [{ role: 'user', content: [document, { type: 'text', text: 'Summarise.' }] }] });
      assert.equal(refused.status, 429, refused.text);
      const few = Buffer.from('%PDF-1.7\n4 0 obj << /Type /Page >> endobj\n%%EOF').toString('base64');
      const allowed = await anthropicCall(gw, key, { model: 'haiku', max_tokens: 20, messages: [{ role: 'user', content: [{ ...document, source: { ...document.source, data: few } }, { type: 'text', text: 'Summarise.' }] }] });
      assert.equal(allowed.status, 200, allowed.text);
    });

    test('a file part on /v1/chat/completions and an input_file on /v1/responses are reserved by their size', async () => {
      for (const [path, body] of [
        ['/v1/chat/completions', { model: 'mini', max_tokens: 20, messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf}` } }, { type: 'text', text: 'Summarise.' }] }] }],
        ['/v1/responses', { model: 'mini', max_output_tokens: 20, input: [{ role: 'user', content: [{ type: 'input_file', filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf}` }, { type: 'input_text', text: 'Summarise.' }] }] }],
      ] as const) {
        const { id, key } = await createKey(gw.url, { max_budget: 0.1 });
        const results = await Promise.all(Array.from({ length: 5 }, () => call(`${gw.url}${path}`, { headers: authHeaders(key), body })));
        const budget = await settled(gw, id);
        assert.ok(budget.spent <= 0.1, `${path}: spent $${budget.spent} of $0.10 (statuses ${results.map((r) => r.status).join(',')})`);
      }
      // A file the gateway cannot see (an uploaded file id) may fill the context window; unknown here, so a large bound.
      const { key } = await createKey(gw.url, { max_budget: 0.1 });
      const byId = await chatWith(gw.url, key, 'no-window', { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }, { type: 'text', text: 'Summarise.' }] }] });
      assert.equal(byId.status, 429, byId.text);
      assert.equal(byId.json.error.code, 'budget_exceeded');
    });
  });

  describe('absurd token limits', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({
        providers: { openai: OPENAI(openai.url), anthropic: ANTHROPIC(anthropic.url) },
        // A price no budget can hold: its worst case is not an exact integer of micro-USD.
        models: [METERED, { name: 'haiku', provider: 'anthropic', model: 'claude-haiku-4-5' }, { name: 'absurd', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 1e15, output_cost_per_mtok: 1e15 }],
        logging: { level: 'warn' },
      });
    });
    after(() => gw.close());

    test('max_tokens, max_completion_tokens, max_output_tokens and n above the model limit are 400s naming the field', async () => {
      const { key } = await createKey(gw.url, { max_budget: 1 });
      const huge = 9007199254740991;
      const cases: Array<[string, Promise<Res>]> = [
        ['max_tokens', chatWith(gw.url, key, 'metered', { max_tokens: huge })],
        ['max_completion_tokens', chatWith(gw.url, key, 'metered', { max_tokens: undefined, max_completion_tokens: huge })],
        ['n', chatWith(gw.url, key, 'metered', { n: 100_000 })],
        ['max_output_tokens', call(`${gw.url}/v1/responses`, { headers: authHeaders(key), body: { model: 'metered', input: 'hi', max_output_tokens: huge } })],
        ['max_tokens', anthropicCall(gw, key, { model: 'haiku', max_tokens: huge, messages: [{ role: 'user', content: 'hi' }] })],
        ['max_tokens', chatWith(gw.url, MASTER_KEY, 'metered', { max_tokens: 16_385 })],
      ];
      for (const [field, pending] of cases) {
        const res = await pending;
        assert.equal(res.status, 400, `${field}: ${res.text}`);
        // Anthropic's error shape has no param: the message names the field there.
        if (res.json.type !== 'error') assert.equal(res.json.error.param, field);
        assert.match(res.json.error.message, new RegExp(`^${field}\\b`));
      }
      const atLimit = await chatWith(gw.url, key, 'metered', { max_tokens: 16_384 });
      assert.equal(atLimit.status, 200, atLimit.text);
    });

    test('one request whose reservation cannot be counted fails alone: 20 other keys in the same turn get their answers', async () => {
      const keys = await Promise.all(Array.from({ length: 21 }, () => createKey(gw.url, { max_budget: 1 })));
      const [bad, ...good] = keys;
      const results = await Promise.all([chatWith(gw.url, bad!.key, 'absurd'), ...good.map((k) => chatWith(gw.url, k.key, 'metered'))]);
      const [badRes, ...goodRes] = results;
      assert.notEqual(badRes!.status, 200, 'the uncountable request is not served');
      assert.deepEqual(goodRes.map((r) => r.status), good.map(() => 200), goodRes.find((r) => r.status !== 200)?.text);
    });
  });

  describe('server tools and long prompts', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({
        providers: { openai: OPENAI(openai.url), anthropic: ANTHROPIC(anthropic.url) },
        models: [
          { name: 'sonnet', provider: 'anthropic', model: 'claude-sonnet-4-5' },
          { name: 'tiered', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 1, output_cost_per_mtok: 2, long_context: { threshold_tokens: 1000, input_cost_per_mtok: 3, output_cost_per_mtok: 4 } },
        ],
        budgets: { max_server_tool_calls: 5 },
        logging: { level: 'warn' },
      });
    });
    after(() => gw.close());

    const searchBody = (extra: Record<string, unknown> = {}) => ({
      model: 'sonnet', max_tokens: 50, messages: [{ role: 'user', content: 'search the web' }],
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }], ...extra,
    });

    test('Anthropic web searches are billed per call on /anthropic, JSON and streamed, and on the translated /v1 path', async () => {
      const { id, key } = await createKey(gw.url, { max_budget: 1 });
      const plain = await anthropicCall(gw, MASTER_KEY, searchBody());
      const base = Number(plain.headers['x-smartflow-cost-micros']);
      const searched = await anthropicCall(gw, key, searchBody(), { 'x-fake-server-tool-use': 'web_search_requests=3,web_fetch_requests=1' });
      assert.equal(searched.status, 200, searched.text);
      assert.equal(Number(searched.headers['x-smartflow-cost-micros']), base + 30_000, 'three searches at $0.01 each; fetches cost only tokens');

      const streamed = await streamText(`${gw.url}/anthropic/v1/messages`, { 'x-api-key': key, 'content-type': 'application/json', 'x-fake-server-tool-use': 'web_search_requests=2' }, searchBody({ stream: true }));
      assert.equal(streamed.status, 200);
      const translated = await chatWith(gw.url, key, 'sonnet', {}, { 'x-fake-server-tool-use': 'web_search_requests=1' });
      assert.equal(translated.status, 200, translated.text);
      const plainTranslated = await chatWith(gw.url, MASTER_KEY, 'sonnet');
      assert.equal(Number(translated.headers['x-smartflow-cost-micros']), Number(plainTranslated.headers['x-smartflow-cost-micros']) + 10_000);

      const translatedStream = await streamText(`${gw.url}/v1/chat/completions`, { ...authHeaders(key), 'x-fake-server-tool-use': 'web_search_requests=4' }, { model: 'sonnet', stream: true, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(translatedStream.status, 200);

      const rows = await spendRows(gw, id);
      const streamRows = rows.filter((r) => r.stream === true);
      assert.equal(streamRows.length, 2);
      assert.ok(streamRows.find((r) => r.operation === 'messages').cost_micros >= 20_000, `the native streamed searches were billed: ${JSON.stringify(streamRows)}`);
      assert.ok(streamRows.find((r) => r.operation === 'chat').cost_micros >= 40_000, `the translated streamed searches were billed: ${JSON.stringify(streamRows)}`);
    });

    test('declared server tools are reserved in the worst case: max_uses, else budgets.max_server_tool_calls', async () => {
      // Tokens of this request cost well under a cent; three searches cost $0.03.
      const { key: small } = await createKey(gw.url, { max_budget: 0.025 });
      const refused = await anthropicCall(gw, small, searchBody());
      assert.equal(refused.status, 429, refused.text);
      const noTools = await anthropicCall(gw, small, { ...searchBody(), tools: undefined });
      assert.equal(noTools.status, 200, noTools.text);
      // Without max_uses, five calls (the configured bound) are reserved: $0.05.
      const { key: medium } = await createKey(gw.url, { max_budget: 0.045 });
      const unbounded = await anthropicCall(gw, medium, searchBody({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }));
      assert.equal(unbounded.status, 429, unbounded.text);
      const bounded = await anthropicCall(gw, medium, searchBody());
      assert.equal(bounded.status, 200, bounded.text);
    });

    test('prompts above 200k tokens on Claude Sonnet are priced at the long-context tier', async () => {
      const res = await anthropicCall(gw, MASTER_KEY, { model: 'sonnet', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }, { 'x-fake-input-tokens': '250000' });
      assert.equal(res.status, 200, res.text);
      const out = res.json.usage.output_tokens as number;
      assert.equal(Number(res.headers['x-smartflow-cost-micros']), Math.ceil(250_000 * 6 + out * 22.5));
      const under = await anthropicCall(gw, MASTER_KEY, { model: 'sonnet', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }, { 'x-fake-input-tokens': '200000' });
      assert.equal(Number(under.headers['x-smartflow-cost-micros']), Math.ceil(200_000 * 3 + (under.json.usage.output_tokens as number) * 15));
    });

    test('a configured long-context tier prices the answer and the reservation', async () => {
      const res = await chatWith(gw.url, MASTER_KEY, 'tiered', {}, { 'x-fake-input-tokens': '2000' });
      assert.equal(res.status, 200, res.text);
      assert.equal(Number(res.headers['x-smartflow-cost-micros']), 2000 * 3 + res.json.usage.completion_tokens * 4);
      // ~4,000 input tokens by the estimate, above the 1,000-token threshold: reserved at $3/Mtok
      // (12,000 µUSD + output), which a $0.01 budget does not cover at the base $1 (4,000 µUSD) it would.
      const { key } = await createKey(gw.url, { max_budget: 0.01 });
      const big = await chatWith(gw.url, key, 'tiered', { messages: [{ role: 'user', content: 'x'.repeat(8_000) }], max_tokens: 10 });
      assert.equal(big.status, 429, big.text);
    });
  });
});
