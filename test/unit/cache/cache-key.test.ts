import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheKey, canonicalJson, semanticScope, type CacheKeyInput } from '../../../src/cache/cache-key.js';

const base: CacheKeyInput = {
  namespace: 'team/acme',
  operation: 'chat',
  model: 'gpt-4o-mini',
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is the capital of Peru?' }] },
  context: {},
};

const withBody = (extra: Record<string, unknown>): CacheKeyInput => ({ ...base, body: { ...base.body, ...extra } });

describe('cacheKey', () => {
  test('is 64 hex characters and stable under key order at every depth', () => {
    const key = cacheKey(withBody({ temperature: 0.2, response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'object', properties: { x: { type: 'string' } } } } } }));
    assert.match(key, /^[0-9a-f]{64}$/);
    const reordered: CacheKeyInput = {
      ...base,
      body: { response_format: { json_schema: { schema: { properties: { x: { type: 'string' } }, type: 'object' }, name: 'a' }, type: 'json_schema' }, temperature: 0.2, messages: [{ content: 'What is the capital of Peru?', role: 'user' }], model: 'gpt-4o-mini' },
    };
    assert.equal(cacheKey(reordered), key);
  });

  test('every output-affecting field changes the key, unknown fields included', () => {
    const seen = new Map<string, string>([[cacheKey(base), 'base']]);
    const variants: Array<[string, Record<string, unknown>]> = [
      ['messages', { messages: [{ role: 'user', content: 'What is the capital of Chile?' }] }],
      ['message order', { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is the capital of Peru?' }] }],
      ['temperature', { temperature: 0.7 }],
      ['top_p', { top_p: 0.5 }],
      ['max_tokens', { max_tokens: 10 }],
      ['max_completion_tokens', { max_completion_tokens: 10 }],
      ['response_format', { response_format: { type: 'json_object' } }],
      ['seed', { seed: 7 }],
      ['stop', { stop: ['\n'] }],
      ['tools', { tools: [{ type: 'function', function: { name: 'lookup' } }] }],
      ['tool_choice', { tool_choice: 'none' }],
      ['n', { n: 2 }],
      ['logprobs', { logprobs: true }],
      ['an unknown field', { reasoning_effort: 'high' }],
    ];
    for (const [name, extra] of variants) {
      const key = cacheKey(withBody(extra));
      assert.ok(!seen.has(key), `${name} collides with ${seen.get(key)}`);
      seen.set(key, name);
    }
  });

  test('namespace, model, operation and the request context are part of the key', () => {
    const key = cacheKey(base);
    assert.notEqual(cacheKey({ ...base, namespace: 'team/acme/faq' }), key);
    assert.notEqual(cacheKey({ ...base, context: { 'header:anthropic-beta': 'a' } }), key);
    assert.notEqual(cacheKey({ ...base, model: 'gpt-4o' }), key);
    assert.notEqual(cacheKey({ ...base, operation: 'embeddings' }), key);
  });

  test('fields that cannot change the answer are left out: stream, stream_options, user, metadata, store, cache, the requested alias', () => {
    const key = cacheKey(base);
    assert.equal(cacheKey(withBody({ stream: true, stream_options: { include_usage: true }, user: 'u-1', metadata: { a: '1' }, store: true, cache: { ttl: 5 }, model: 'alias' })), key);
  });

  test('canonicalJson drops undefined members like JSON.stringify and keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: undefined, c: [3, undefined, 1] }), '{"b":1,"c":[3,null,1]}');
  });
});

describe('semanticScope', () => {
  test('ignores the messages but not the parameters, namespace, model or policy', () => {
    const scope = semanticScope(base, 'p1');
    assert.equal(semanticScope(withBody({ messages: [{ role: 'user', content: 'Something else entirely' }] }), 'p1'), scope);
    assert.notEqual(semanticScope(withBody({ temperature: 1 }), 'p1'), scope);
    assert.notEqual(semanticScope({ ...base, namespace: 'other' }, 'p1'), scope);
    assert.notEqual(semanticScope({ ...base, model: 'gpt-4o' }, 'p1'), scope);
    assert.notEqual(semanticScope({ ...base, context: { long_context: 'true' } }, 'p1'), scope);
    assert.notEqual(semanticScope(base, 'p2'), scope);
    assert.notEqual(scope, cacheKey(base));
  });
});
