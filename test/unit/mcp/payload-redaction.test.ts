import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loggablePayload, redactPayload } from '../../../src/mcp/payload-redaction.js';

describe('tool-call payload redaction (log_payloads)', () => {
  test('values under secret-looking keys are replaced, at any depth and in any case', () => {
    const out = redactPayload({
      path: '/tmp/a.txt',
      api_key: 'k1',
      'X-Api-Key': 'k2',
      apikey: 'k3',
      db: { password: 'p', DB_PASSWD: 'p2', nested: [{ Authorization: 'anything', client_secret: 's', access_token: 't' }] },
      credentials: { user: 'u' },
      session_id: 'sid',
      count: 3,
    });
    assert.deepEqual(out, {
      path: '/tmp/a.txt',
      api_key: '[REDACTED]',
      'X-Api-Key': '[REDACTED]',
      apikey: '[REDACTED]',
      db: { password: '[REDACTED]', DB_PASSWD: '[REDACTED]', nested: [{ Authorization: '[REDACTED]', client_secret: '[REDACTED]', access_token: '[REDACTED]' }] },
      credentials: '[REDACTED]',
      session_id: '[REDACTED]',
      count: 3,
    });
  });

  test('key- and token-shaped strings are replaced wherever they appear', () => {
    const cases: Array<[string, string]> = [
      ['use sk-sf-0123456789abcdef please', 'use [REDACTED] please'],
      ['sk-proj-AbCdEf0123456789', '[REDACTED]'],
      ['sk-ant-api03-xyz0123456789', '[REDACTED]'],
      ['Authorization: Bearer abc.def-ghi', 'Authorization: [REDACTED]'],
      ['basic auth: Basic dXNlcjpwYXNzd29yZA==', 'basic auth: [REDACTED]'],
      ['token ghp_0123456789abcdefABCD here', 'token [REDACTED] here'],
      ['xoxb-1234567890-abcdef', '[REDACTED]'],
      ['AKIAIOSFODNN7EXAMPLE', '[REDACTED]'],
      ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig', 'jwt [REDACTED]'],
    ];
    for (const [input, expected] of cases) assert.equal((redactPayload({ text: input }) as { text: string }).text, expected, input);
    // Ordinary text and short look-alikes stay.
    assert.equal(redactPayload('ask-me about risk-free tasks'), 'ask-me about risk-free tasks');
    assert.deepEqual(redactPayload(['sk-short', 42, null, true]), ['sk-short', 42, null, true]);
  });

  test('the input is not changed', () => {
    const input = { token: 'secret', list: ['sk-sf-0123456789abcdef'] };
    redactPayload(input);
    assert.deepEqual(input, { token: 'secret', list: ['sk-sf-0123456789abcdef'] });
  });

  test('loggablePayload caps the redacted JSON and says how much was left out', () => {
    assert.equal(loggablePayload({ a: 1, token: 'x' }, 100), '{"a":1,"token":"[REDACTED]"}');
    const big = loggablePayload({ text: 'é'.repeat(5000) }, 1000);
    assert.match(big, /…\[\d+ more bytes\]$/);
    const head = big.slice(0, big.indexOf('…['));
    assert.ok(Buffer.byteLength(head) <= 1000);
    assert.ok(!head.includes('\uFFFD'), 'a character split at the cut is dropped, not mangled');
    const left = Number(/\[(\d+) more bytes\]$/.exec(big)![1]);
    assert.equal(Buffer.byteLength(head) + left, Buffer.byteLength(JSON.stringify({ text: 'é'.repeat(5000) })));
    // A secret is redacted before the cut, so no part of it survives at the edge.
    const edge = loggablePayload({ pad: 'x'.repeat(20), key: 'sk-sf-0123456789abcdefghij' }, 40);
    assert.ok(!edge.includes('sk-sf-01'));
  });

  test('deep structures are cut instead of recursing without bound', () => {
    let deep: Record<string, unknown> = { leaf: 'sk-sf-0123456789abcdef' };
    for (let i = 0; i < 50; i++) deep = { d: deep };
    assert.ok(!JSON.stringify(redactPayload(deep)).includes('sk-sf-'));
  });
});
