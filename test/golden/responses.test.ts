import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { OpenAIChatChunk, OpenAIChatCompletion } from '../../src/providers/types.js';
import type { ResponsesEvent } from '../../src/providers/responses/events.js';
import type { ResponseMeta } from '../../src/providers/responses/response-object.js';
import { parseResponsesRequest } from '../../src/providers/responses/schema.js';
import { translateResponsesToChat } from '../../src/providers/responses/translate-request.js';
import { translateChatToResponses } from '../../src/providers/responses/translate-response.js';
import { createResponsesStreamTranslator } from '../../src/providers/responses/translate-stream.js';

/**
 * Golden cases for the Responses API translation layer, one JSON file per case under
 * test/golden/responses. A case holds one of:
 * - request -> expected_chat, expected_dropped (what chat has no equivalent for), expected_untranslatable
 *   (content a translated provider cannot reach) and expected_tool_names (namespaced functions)
 * - request -> expected_error (the 400 the request gets)
 * - meta + completion -> expected_response (or expected_error)
 * - meta + chunks -> expected_events (or expected_error, thrown while pushing the chunks)
 */

interface ExpectedError {
  codeName: string;
  status: number;
  [field: string]: unknown;
}

interface GoldenCase {
  name: string;
  request?: Record<string, unknown>;
  expected_chat?: unknown;
  expected_untranslatable?: unknown;
  expected_dropped?: string[];
  expected_tool_names?: Record<string, unknown>;
  meta?: { id: string; created_at: number; model: string; body: Record<string, unknown>; tool_names?: Record<string, { namespace: string; name: string }> };
  completion?: OpenAIChatCompletion;
  expected_response?: unknown;
  chunks?: OpenAIChatChunk[];
  expected_events?: unknown[];
  expected_error?: ExpectedError;
}

const DIR = join(import.meta.dirname, 'responses');

/** The fields of `err` that `expected` names, so a case pins only what it cares about. */
function pick(err: unknown, expected: ExpectedError): Record<string, unknown> {
  assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
  const e = err as unknown as Record<string, unknown>;
  return Object.fromEntries(Object.keys(expected).map((k) => [k, e[k]]));
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return assert.fail('expected an error to be thrown');
}

function metaOf(c: GoldenCase): ResponseMeta {
  const m = c.meta!;
  return { id: m.id, createdAt: m.created_at, model: m.model, body: m.body, ...(m.tool_names ? { toolNames: new Map(Object.entries(m.tool_names)) } : {}) };
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

test('golden cases cover requests, refusals, answers and streams', () => {
  const cases = files.map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as GoldenCase);
  assert.ok(cases.filter((c) => c.expected_chat).length >= 5, 'request translations');
  assert.ok(cases.filter((c) => c.request && c.expected_error).length >= 8, 'refused requests');
  assert.ok(cases.filter((c) => c.expected_response).length >= 3, 'answers');
  assert.ok(cases.filter((c) => c.expected_events).length >= 3, 'streams');
});

for (const file of files) {
  const c = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as GoldenCase;

  test(`responses golden: ${file} (${c.name})`, () => {
    let checked = 0;
    if (c.request && c.expected_chat) {
      const { chat, untranslatable, dropped, toolNames } = translateResponsesToChat(parseResponsesRequest(c.request));
      assert.deepEqual(chat, c.expected_chat);
      assert.deepEqual(untranslatable, c.expected_untranslatable ?? null);
      assert.deepEqual(dropped, c.expected_dropped ?? []);
      assert.deepEqual(Object.fromEntries(toolNames), c.expected_tool_names ?? {});
      checked++;
    }
    if (c.request && c.expected_error) {
      assert.deepEqual(pick(thrownBy(() => parseResponsesRequest(c.request!)), c.expected_error), c.expected_error);
      checked++;
    }
    if (c.completion) {
      if (c.expected_error) assert.deepEqual(pick(thrownBy(() => translateChatToResponses(c.completion!, metaOf(c))), c.expected_error), c.expected_error);
      else assert.deepEqual(translateChatToResponses(c.completion, metaOf(c)), c.expected_response);
      checked++;
    }
    if (c.chunks) {
      const translator = createResponsesStreamTranslator(metaOf(c));
      const events: ResponsesEvent[] = [];
      if (c.expected_error) {
        assert.deepEqual(pick(thrownBy(() => c.chunks!.forEach((chunk) => events.push(...translator.push(chunk)))), c.expected_error), c.expected_error);
      } else {
        for (const chunk of c.chunks) events.push(...translator.push(chunk));
        events.push(...translator.finish());
        assert.deepEqual(events, c.expected_events);
        assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i), 'sequence numbers count from 0 without gaps');
      }
      checked++;
    }
    assert.ok(checked > 0, 'case checks nothing');
  });
}
