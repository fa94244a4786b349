import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

let fake: FakeUpstream;
let gw: TestGateway;
let hook: Server;
let hookUrl: string;
const received: Array<{ headers: IncomingHttpHeaders; body: any }> = [];
let failuresLeft = 0;

before(async () => {
  fake = await startFakeOpenAI();
  gw = await startTestGateway({
    providers: fakeProviders({ openai: fake.url }),
    models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
    a2a: { push_allow_private: true },
    agents: [{ id: 'plain', name: 'Plain', model: 'gpt-4o-mini' }],
  });
  hook = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (failuresLeft > 0) {
      failuresLeft--;
      res.writeHead(503).end();
      return;
    }
    received.push({ headers: req.headers, body: JSON.parse(body) });
    res.writeHead(200).end();
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
});

after(async () => {
  await gw?.close();
  await fake?.close();
  await new Promise((r) => hook.close(r));
});

test('push notifications: the webhook gets each status with the token, failures are retried, the task never waits', async () => {
  const { key } = await createKey(gw.url, {});
  // The agent from smartflow.yaml is listed and read-only.
  const listed = await call(`${gw.url}/api/a2a/agents/plain`, { headers: authHeaders() });
  assert.equal(listed.json.source, 'config');
  const put = await call(`${gw.url}/api/a2a/agents/plain`, { method: 'PUT', headers: authHeaders(), body: { name: 'x', model: 'gpt-4o-mini' } });
  assert.equal(put.status, 400);

  failuresLeft = 1;
  const started = Date.now();
  const res = await call(`${gw.url}/a2a/plain`, {
    headers: { ...authHeaders(key), 'x-a2a-trace-id': 'push-trace' },
    body: { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: { kind: 'message', role: 'user', messageId: 'm', parts: [{ kind: 'text', text: 'hi' }] }, configuration: { pushNotificationConfig: { url: hookUrl, token: 'tok-123' } } } },
  });
  assert.equal(res.json.result.status.state, 'completed', res.text);
  assert.ok(Date.now() - started < 2000, 'the answer does not wait for the webhook retries');
  for (let i = 0; i < 100 && !received.some((r) => r.body.status.state === 'completed'); i++) await new Promise((r) => setTimeout(r, 50));
  const states = received.map((r) => r.body.status.state);
  assert.ok(states.includes('completed'), JSON.stringify(states));
  assert.ok(received.every((r) => r.headers['x-a2a-notification-token'] === 'tok-123' && r.headers['x-a2a-trace-id'] === 'push-trace'));
  assert.equal(received.at(-1)!.body.id, res.json.result.id);

  // Set/get/list/delete on a task, 0.3 and 1.0 shapes.
  const id = res.json.result.id;
  const set = await call(`${gw.url}/a2a/plain`, { headers: authHeaders(key), body: { jsonrpc: '2.0', id: 2, method: 'tasks/pushNotificationConfig/set', params: { taskId: id, pushNotificationConfig: { id: 'c2', url: hookUrl } } } });
  assert.equal(set.json.result.pushNotificationConfig.id, 'c2', set.text);
  const list = await call(`${gw.url}/a2a/plain`, { headers: { ...authHeaders(key), 'a2a-version': '1.0' }, body: { jsonrpc: '2.0', id: 3, method: 'ListTaskPushNotificationConfigs', params: { taskId: id } } });
  assert.equal(list.json.result.configs.length, 2, list.text);
  const del = await call(`${gw.url}/a2a/plain`, { headers: { ...authHeaders(key), 'a2a-version': '1.0' }, body: { jsonrpc: '2.0', id: 4, method: 'DeleteTaskPushNotificationConfig', params: { taskId: id, id: 'c2' } } });
  assert.deepEqual(del.json.result, {}, del.text);
});
