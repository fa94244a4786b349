import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, redactCredentials } from '../../../src/log/logger.js';
import { LogCollector } from '../../helpers/build-app.js';

test('credential headers are censored under headers and req.headers, without touching the input', () => {
  const input = { headers: { authorization: 'Bearer sk-live-1', 'x-api-key': 'sk-ant-2', 'x-goog-api-key': 'AIza3', cookie: 'c=4', 'content-type': 'application/json' }, req: { method: 'POST', headers: { 'api-key': 'azure-5' } } };
  const out = redactCredentials(input) as typeof input;
  assert.equal(out.headers.authorization, '[redacted]');
  assert.equal(out.headers['x-api-key'], '[redacted]');
  assert.equal(out.headers['x-goog-api-key'], '[redacted]');
  assert.equal(out.headers.cookie, '[redacted]');
  assert.equal(out.headers['content-type'], 'application/json');
  assert.equal(out.req.headers['api-key'], '[redacted]');
  assert.equal(out.req.method, 'POST');
  assert.equal(input.headers.authorization, 'Bearer sk-live-1', 'the caller\'s object is not modified');
});

test('secret fields are censored at the top level and one level down', () => {
  const out = redactCredentials({ api_key: 'k1', provider: { name: 'openai', api_key: 'k2' }, oauth: { access_token: 't', refresh_token: 'r', client_secret: 's' }, model: 'gpt' }) as Record<string, any>;
  assert.equal(out.api_key, '[redacted]');
  assert.equal(out.provider.api_key, '[redacted]');
  assert.equal(out.provider.name, 'openai');
  assert.deepEqual(out.oauth, { access_token: '[redacted]', refresh_token: '[redacted]', client_secret: '[redacted]' });
  assert.equal(out.model, 'gpt');
});

test('objects without secrets pass through as the same object (no copy on the hot path)', () => {
  const obj = { model: 'gpt-4o-mini', status: 200, latency_ms: 3 };
  assert.equal(redactCredentials(obj), obj);
});

test('the logger applies it to every line', () => {
  const sink = new LogCollector();
  const log = createLogger({ level: 'info', destination: sink });
  log.info({ headers: { authorization: 'Bearer sk-secret-value' }, provider: { api_key: 'sk-provider-secret' } }, 'hello');
  assert.ok(!sink.text.includes('sk-secret-value'));
  assert.ok(!sink.text.includes('sk-provider-secret'));
  assert.match(sink.text, /\[redacted\]/);
});
