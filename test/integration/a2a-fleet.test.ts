import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';
import { createKey } from '../helpers/vkeys.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const SLOW = { 'x-fake-tool': 'ev_trigger-long-running-operation', 'x-fake-tool-args': JSON.stringify({ duration: 20, steps: 20 }) };

let fake: FakeUpstream;
let a: TestGateway;
let b: TestGateway;
const prefix = `sf-it:${randomUUID()}:`;

before(async () => {
  fake = await startFakeOpenAI();
  const config = {
    store: { type: 'redis', url: REDIS_URL, prefix },
    providers: fakeProviders({ openai: fake.url }),
    models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
  };
  a = await startTestGateway(config);
  b = await startTestGateway(config);
});

after(async () => {
  await a?.close();
  await b?.close();
  await fake?.close();
  await flushRedisPrefix(prefix);
});

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('two instances on one Redis: a task started on A is read, resubscribed and canceled on B; A stops running it', async () => {
  let res = await call(`${a.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'ev', command: process.execPath, args: [EVERYTHING, 'stdio'] } });
  assert.equal(res.status, 201, res.text);
  res = await call(`${a.url}/api/a2a/agents`, { headers: authHeaders(), body: { id: 'fleet', name: 'Fleet', model: 'gpt-4o-mini', mcp: [{ server: 'ev' }] } });
  assert.equal(res.status, 201, res.text);
  const { key } = await createKey(a.url, { mcp_servers: ['ev'] });
  // The agent made on A is served by B once B's snapshot has it.
  await until(() => call(`${b.url}/a2a/fleet/.well-known/agent-card.json`), (r) => r.status === 200, 'the agent on B');

  const headers = { ...authHeaders(key), ...SLOW };
  const send = await call(`${a.url}/a2a/fleet`, { headers, body: { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: { kind: 'message', role: 'user', messageId: 'm1', parts: [{ kind: 'text', text: 'slow' }] }, configuration: { blocking: false } } } });
  const id = send.json.result.id;
  assert.ok(id, send.text);
  await until(() => call(`${b.url}/a2a/fleet`, { headers: authHeaders(key), body: { jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { id } } }), (r) => r.json.result?.status.state === 'working' && fake.requests.length === 1, 'working, seen from B');

  const events: any[] = [];
  const stream = fetch(`${b.url}/a2a/fleet`, { method: 'POST', headers: authHeaders(key), body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tasks/resubscribe', params: { id } }) }).then(async (r) => {
    for (const line of (await r.text()).split('\n')) if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)));
  });
  await new Promise((r) => setTimeout(r, 300));
  const cancel = await call(`${b.url}/a2a/fleet`, { headers: authHeaders(key), body: { jsonrpc: '2.0', id: 4, method: 'tasks/cancel', params: { id } } });
  assert.equal(cancel.json.result.status.state, 'canceled', cancel.text);
  await stream;
  assert.equal(events[0].result.kind, 'task');
  assert.equal(events.at(-1).result.kind, 'status-update');
  assert.equal(events.at(-1).result.status.state, 'canceled');
  assert.equal(events.at(-1).result.final, true);

  // A got the cancel: its tool call is aborted and no further LLM step runs.
  const audit = await until(() => call(`${a.url}/api/a2a/tasks/${id}`, { headers: authHeaders() }), (r) => r.json.steps.some((s: any) => s.type === 'tool'), 'the aborted tool step on A');
  assert.equal(audit.json.status.state, 'canceled');
  assert.equal(audit.json.steps.find((s: any) => s.type === 'tool').status, 'error');
  assert.ok(audit.json.steps.find((s: any) => s.type === 'tool').duration_ms < 10_000, 'the 20 s tool was cut short');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(fake.requests.length, 1);
});
