import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { translateOpenAIToAnthropic } from '../../src/providers/anthropic/translate-request.js';
import { anthropicTranslator } from '../../src/providers/anthropic/translator.js';
import type { OpenAIChatChunk, OpenAIChatRequest, ProviderConfig } from '../../src/providers/types.js';

/**
 * Golden cases for the Anthropic translation layer, one JSON file per case under
 * test/golden/anthropic. A case holds whichever of these it pins:
 * - request -> expected_upstream (or expected_request_error)
 * - upstream_response -> expected_response (+ expected_usage)
 * - upstream_events -> expected_chunks (+ expected_usage, expected_finished, expected_stream_error)
 * - upstream_error -> expected_error
 * Response options (json_schema emulation) are derived from `request` when present.
 */

interface ExpectedError {
  codeName: string;
  status: number;
  [field: string]: unknown;
}

interface GoldenCase {
  name: string;
  created?: number;
  upstream_model?: string;
  request?: OpenAIChatRequest;
  expected_upstream?: Record<string, unknown>;
  /** What the translation left out (`x-smartflow-dropped` entries); none when absent. */
  expected_dropped?: string[];
  expected_request_error?: ExpectedError;
  upstream_response?: unknown;
  expected_response?: unknown;
  expected_usage?: unknown;
  upstream_events?: Array<{ event: string; data: unknown }>;
  expected_chunks?: unknown[];
  expected_finished?: boolean;
  expected_stream_error?: ExpectedError;
  upstream_error?: { status: number; body: unknown; headers?: Record<string, string> };
  expected_error?: ExpectedError;
}

const DIR = join(import.meta.dirname, 'anthropic');
const DEFAULT_CREATED = 1_700_000_000;
const DEFAULT_UPSTREAM_MODEL = 'claude-sonnet-4-5';

/** The fields of `err` that `expected` names, so a case pins only what it cares about. */
function pick(err: unknown, expected: ExpectedError): Record<string, unknown> {
  assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
  const e = err as unknown as Record<string, unknown>;
  return Object.fromEntries(Object.keys(expected).map((k) => [k, e[k]]));
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error to be thrown');
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

test('golden cases exist', () => {
  assert.ok(files.length >= 10, `only ${files.length} golden cases`);
});

for (const file of files) {
  const c = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as GoldenCase;
  const created = c.created ?? DEFAULT_CREATED;
  const model = c.request?.model ?? 'claude';

  test(`anthropic golden: ${file} (${c.name})`, () => {
    let checked = 0;
    if (c.request && c.expected_upstream) {
      const dropped: string[] = [];
      assert.deepEqual(translateOpenAIToAnthropic(c.request, c.upstream_model ?? DEFAULT_UPSTREAM_MODEL, dropped), c.expected_upstream);
      assert.deepEqual(dropped, c.expected_dropped ?? []);
      checked++;
    }
    if (c.request && c.expected_request_error) {
      const err = catchError(() => translateOpenAIToAnthropic(c.request!, c.upstream_model ?? DEFAULT_UPSTREAM_MODEL));
      assert.deepEqual(pick(err, c.expected_request_error), c.expected_request_error);
      checked++;
    }
    if (c.upstream_response !== undefined) {
      const { completion, usage } = anthropicTranslator.fromUpstreamResponse(c.upstream_response, model, created, c.request);
      assert.deepEqual(completion, c.expected_response);
      if (c.expected_usage) assert.deepEqual(usage, c.expected_usage);
      checked++;
    }
    if (c.upstream_events) {
      const translator = anthropicTranslator.createStreamTranslator(model, created, c.request);
      const chunks: OpenAIChatChunk[] = [];
      let thrown: unknown;
      try {
        for (const e of c.upstream_events) chunks.push(...translator.push({ event: e.event, data: typeof e.data === 'string' ? e.data : JSON.stringify(e.data) }));
      } catch (err) {
        thrown = err;
      }
      if (c.expected_stream_error) assert.deepEqual(pick(thrown, c.expected_stream_error), c.expected_stream_error);
      else assert.equal(thrown, undefined, `unexpected stream error: ${String(thrown)}`);
      if (c.expected_chunks) assert.deepEqual(chunks, c.expected_chunks);
      if (c.expected_usage) assert.deepEqual(translator.usage(), c.expected_usage);
      if (c.expected_finished !== undefined) assert.equal(translator.finished, c.expected_finished);
      checked++;
    }
    if (c.upstream_error && c.expected_error) {
      const { status, body, headers } = c.upstream_error;
      const err = anthropicTranslator.fromUpstreamError(status, typeof body === 'string' ? body : JSON.stringify(body), headers ?? {});
      assert.deepEqual(pick(err, c.expected_error), c.expected_error);
      checked++;
    }
    assert.ok(checked > 0, 'case checks nothing');
  });
}

test('toUpstreamRequest: URL without trailing slash, auth and version headers, provider headers win', () => {
  const provider: ProviderConfig = {
    name: 'anthropic',
    type: 'anthropic',
    base_url: 'https://api.anthropic.com/',
    api_key: 'sk-ant-test',
    headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' },
    forward_headers: [],
    timeout_ms: 60_000, responses_api: 'native',
  };
  const req: OpenAIChatRequest = { model: 'claude', messages: [{ role: 'user', content: 'Hi' }] };
  const up = anthropicTranslator.toUpstreamRequest(req, 'claude-sonnet-4-5', provider);
  assert.equal(up.method, 'POST');
  assert.equal(up.url, 'https://api.anthropic.com/v1/messages');
  assert.deepEqual(up.headers, {
    'content-type': 'application/json',
    'x-api-key': 'sk-ant-test',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'prompt-caching-2024-07-31',
  });
  assert.deepEqual(JSON.parse(up.body ?? ''), { model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [{ role: 'user', content: 'Hi' }] });
});

test('a stream that ends before message_stop is not finished', () => {
  const t = anthropicTranslator.createStreamTranslator('claude', DEFAULT_CREATED);
  t.push({ event: 'message_start', data: JSON.stringify({ type: 'message_start', message: { id: 'msg_1', usage: { input_tokens: 3, output_tokens: 1 } } }) });
  assert.equal(t.finished, false);
  assert.deepEqual(t.usage(), { input_tokens: 3, cached_input_tokens: 0, output_tokens: 1, cache_creation_input_tokens: 0 });
});

test('a non-JSON stream event is an upstream bad response', () => {
  const t = anthropicTranslator.createStreamTranslator('claude', DEFAULT_CREATED);
  const err = catchError(() => t.push({ event: 'message_start', data: '{not json' }));
  assert.ok(err instanceof GatewayError);
  assert.equal(err.codeName, 'SF_ERR_UPSTREAM_BAD_RESPONSE');
});
