import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyContext, type KeyContextInput } from '../../../src/cache/key-context.js';

const base: KeyContextInput = { nativeAnthropic: true, headers: {}, query: '', longContext: false, ownProviderKey: undefined };

test('native Anthropic requests: every anthropic-* header (beta flags as a set) and the query in canonical order', () => {
  const context = keyContext({ ...base, headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'b-2, a-1,b-2', authorization: 'Bearer x', 'x-other': 'y' }, query: '?z=1&beta=true' });
  assert.deepEqual(context, { 'header:anthropic-version': '2023-06-01', 'header:anthropic-beta': 'a-1,b-2', query: 'beta=true&z=1' });
  assert.deepEqual(keyContext({ ...base, nativeAnthropic: false, headers: { 'anthropic-beta': 'a' }, query: '?beta=true' }), {}, 'other surfaces forward neither');
});

test('the 1M-context flag, and an own provider key only as its hash', () => {
  const context = keyContext({ ...base, longContext: true, ownProviderKey: 'sk-ant-secret' });
  assert.equal(context.long_context, 'true');
  assert.match(context.own_key!, /^[0-9a-f]{64}$/);
  assert.ok(!JSON.stringify(context).includes('sk-ant-secret'));
  assert.notEqual(keyContext({ ...base, ownProviderKey: 'sk-ant-other' }).own_key, context.own_key);
});
