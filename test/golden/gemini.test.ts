import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { geminiTranslator } from '../../src/providers/gemini/translator.js';
import { estimateEmbeddingTokens, fromGeminiEmbeddingsResponse, toGeminiEmbeddingsRequest } from '../../src/providers/gemini/translate-embeddings.js';
import type { OpenAIChatChunk, ProviderConfig, UpstreamRequest } from '../../src/providers/types.js';

/**
 * Golden cases for the Gemini translation layer, one JSON file each under test/golden/gemini/.
 * `kind` selects what is checked:
 * - chat (default): request -> expected_upstream (+ expected_dropped); upstream_response -> expected_response + expected_usage
 * - stream: request -> expected_upstream; upstream_events (objects are JSON-encoded, strings sent
 *   as-is) -> expected_chunks, expected_usage, expected_finished, and expected_error if one is thrown
 * - error: status + headers + body -> expected_error
 * - embeddings: request -> expected_upstream; upstream_response -> expected_response
 * - request: request -> expected_body and expected_dropped (what the translation left out)
 * - request_error / embeddings_request_error: translating request throws expected_error
 */
const CREATED = 1717171717;
const DIR = join(dirname(fileURLToPath(import.meta.url)), 'gemini');

const GOLDEN_PROVIDER: ProviderConfig = {
  name: 'gemini',
  type: 'gemini',
  base_url: 'https://generativelanguage.googleapis.com/',
  api_key: 'test-gemini-key',
  headers: {},
  forward_headers: [],
  timeout_ms: 30000, responses_api: 'native',
};

function errorSummary(err: unknown): Record<string, unknown> {
  assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
  return {
    codeName: err.codeName,
    status: err.status,
    message: err.message,
    retryable: err.retryable,
    param: err.param,
    upstreamType: err.upstreamType ?? null,
    wireCode: err.wireCode,
    wireType: err.wireType,
    headers: err.headers,
  };
}

function upstreamView(up: UpstreamRequest): Record<string, unknown> {
  return { ...up, body: up.body === undefined ? undefined : JSON.parse(up.body) };
}

function provider(c: any): ProviderConfig {
  return { ...GOLDEN_PROVIDER, ...(c.provider ?? {}) };
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

test('gemini golden directory holds the required cases', () => {
  const names = new Set(files.map((f) => f.replace(/\.json$/, '')));
  for (const required of [
    'system-multi-turn', 'images', 'tools-call', 'tool-choice-named', 'tool-round-trip', 'response-format-json-schema',
    'stop-max-tokens-length', 'safety-prompt-blocked', 'usage-cached-thinking', 'stream-text', 'stream-tool-calls',
    'stream-error', 'error-429-retry-delay', 'error-400-context', 'error-403-key-stripped', 'embeddings',
  ]) {
    assert.ok(names.has(required), `missing golden case ${required}.json`);
  }
});

for (const file of files) {
  const c = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
  const kind: string = c.kind ?? 'chat';
  test(`gemini golden ${file}: ${c.name}`, () => {
    const model: string = c.upstream_model ?? 'gemini-2.5-flash';
    switch (kind) {
      case 'chat': {
        const dropped: string[] = [];
        const up = geminiTranslator.toUpstreamRequest(c.request, model, provider(c), dropped);
        assert.deepEqual(upstreamView(up), c.expected_upstream);
        assert.deepEqual(dropped, c.expected_dropped ?? []);
        assert.ok(!up.url.includes(GOLDEN_PROVIDER.api_key ?? '-'), 'the key must never be in the URL');
        const { completion, usage } = geminiTranslator.fromUpstreamResponse(c.upstream_response, c.request.model, CREATED);
        assert.deepEqual(completion, c.expected_response);
        assert.deepEqual(usage, c.expected_usage);
        break;
      }
      case 'stream': {
        const up = geminiTranslator.toUpstreamRequest(c.request, model, provider(c));
        assert.deepEqual(upstreamView(up), c.expected_upstream);
        const st = geminiTranslator.createStreamTranslator(c.request.model, CREATED);
        const chunks: OpenAIChatChunk[] = [];
        let thrown: unknown;
        for (const e of c.upstream_events) {
          try {
            chunks.push(...st.push({ data: typeof e === 'string' ? e : JSON.stringify(e) }));
          } catch (err) {
            thrown = err;
            break;
          }
        }
        assert.deepEqual(chunks, c.expected_chunks);
        if (c.expected_error !== undefined) assert.deepEqual(errorSummary(thrown), c.expected_error);
        else assert.equal(thrown, undefined);
        assert.equal(st.finished, c.expected_finished);
        assert.deepEqual(st.usage(), c.expected_usage);
        break;
      }
      case 'error': {
        const body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
        const err = geminiTranslator.fromUpstreamError(c.status, body, c.headers ?? {});
        assert.deepEqual(errorSummary(err), c.expected_error);
        break;
      }
      case 'embeddings': {
        const up = toGeminiEmbeddingsRequest(c.request, model, provider(c));
        assert.deepEqual(upstreamView(up), c.expected_upstream);
        const res = fromGeminiEmbeddingsResponse(c.upstream_response, c.request.model, estimateEmbeddingTokens(c.request.input), c.request.encoding_format);
        assert.deepEqual(res, c.expected_response);
        break;
      }
      case 'request': {
        const dropped: string[] = [];
        const up = geminiTranslator.toUpstreamRequest(c.request, model, provider(c), dropped);
        assert.deepEqual(upstreamView(up).body, c.expected_body);
        assert.deepEqual(dropped, c.expected_dropped ?? []);
        break;
      }
      case 'request_error':
        assert.deepEqual(errorSummary(catchError(() => geminiTranslator.toUpstreamRequest(c.request, model, provider(c)))), c.expected_error);
        break;
      case 'embeddings_request_error':
        assert.deepEqual(errorSummary(catchError(() => toGeminiEmbeddingsRequest(c.request, model, provider(c)))), c.expected_error);
        break;
      default:
        assert.fail(`unknown golden kind ${kind}`);
    }
  });
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return assert.fail('expected the translation to throw');
}
