import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { authHeaders, MASTER_KEY, startTestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import { call } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';

const CHILD = fileURLToPath(new URL('./fixtures/start-gateway.ts', import.meta.url));

/** Runs the start-gateway fixture; resolves with its exit code and output, or null if it had not ended after `timeoutMs`. */
function runChild(config: unknown, timeoutMs: number): Promise<{ code: number | null; stdout: string } | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, SF_TEST_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

test('a start that fails after the store opened (access control cannot subscribe) closes Redis: the process ends by itself', async (t) => {
  const user = `sf-test-nosub-${randomUUID()}`;
  const password = randomUUID();
  const prefix = `sf-test-startup-${randomUUID()}:`;
  const admin = new Redis(REDIS_URL);
  // A Redis user that may do everything but subscribe: the store connects, then createAccess fails.
  await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all', '-subscribe', '-psubscribe', '-ssubscribe');
  t.after(async () => {
    await admin.call('ACL', 'DELUSER', user);
    await admin.quit();
    await flushRedisPrefix(prefix);
  });
  const url = new URL(REDIS_URL);
  url.username = user;
  url.password = password;
  const result = await runChild({ master_key: MASTER_KEY, store: { type: 'redis', url: url.toString(), prefix } }, 20_000);
  assert.ok(result, 'the process was still running 20 s after createGateway rejected: something start-up opened was left open');
  assert.match(result.stdout, /^rejected: /m, 'createGateway rejected');
  assert.equal(result.code, 3);
});

test('the spend log time of a request comes from the injected clock', async (t) => {
  const upstream = await startFakeOpenAI();
  const clock = Date.parse('2026-06-01T12:00:00Z');
  const gw = await startTestGateway({ providers: { openai: { type: 'openai', base_url: `${upstream.url}/v1`, api_key: 'sk-upstream' } }, logging: { level: 'warn' } }, { now: () => clock });
  t.after(async () => {
    await gw.close();
    await upstream.close();
  });
  const res = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(), body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });
  assert.equal(res.status, 200, res.text);
  await gw.gateway.spendLog.flush();
  const logs = await call(`${gw.url}/api/spend/logs?limit=5`, { headers: authHeaders() });
  const row = logs.json.data.find((r: any) => r.id === res.headers['x-request-id']);
  assert.equal(row.time, clock);
});
