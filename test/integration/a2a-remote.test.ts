import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { A2AClient } from 'a2a-sdk-v03/client';
import { DefaultRequestHandler, InMemoryTaskStore, JsonRpcTransportHandler, type AgentExecutor } from 'a2a-sdk-v03/server';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

/** An agent built with @a2a-js/sdk's (0.3) server, on its own port: it answers with what it was sent and who called. */
async function startSdkAgent(): Promise<{ url: string; seen: IncomingHttpHeaders[]; close(): Promise<void> }> {
  const seen: IncomingHttpHeaders[] = [];
  const executor: AgentExecutor = {
    async execute(ctx, bus) {
      const text = ctx.userMessage.parts.map((p: any) => p.text ?? '').join(' ');
      bus.publish({ kind: 'message', role: 'agent', messageId: crypto.randomUUID(), contextId: ctx.contextId, parts: [{ kind: 'text', text: `remote says: ${text}` }] });
      bus.finished();
    },
    async cancelTask() {},
  };
  const card: any = { protocolVersion: '0.3.0', name: 'SDK agent', description: 'built with @a2a-js/sdk', url: '', preferredTransport: 'JSONRPC', version: '1.0.0', capabilities: { streaming: true }, defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'], skills: [{ id: 'say', name: 'Say', description: 'says', tags: [] }], securitySchemes: { remoteKey: { type: 'apiKey', in: 'header', name: 'x-remote-key' } } };
  const handler = new JsonRpcTransportHandler(new DefaultRequestHandler(card, new InMemoryTaskStore(), executor));
  const server: Server = createServer(async (req, res) => {
    seen.push(req.headers);
    if (req.method === 'GET' && req.url === '/.well-known/agent-card.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(card));
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.headers['x-remote-key'] !== 'remote-secret') {
      res.writeHead(401).end();
      return;
    }
    const out = await handler.handle(JSON.parse(body));
    if (Symbol.asyncIterator in (out as object)) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for await (const ev of out as AsyncGenerator<unknown>) res.write(`data: ${JSON.stringify(ev)}\n\n`);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  card.url = `${url}/rpc`;
  return { url, seen, close: () => new Promise((r) => server.close(() => r())) };
}

let remote: Awaited<ReturnType<typeof startSdkAgent>>;
let gw: TestGateway;

before(async () => {
  remote = await startSdkAgent();
  gw = await startTestGateway();
});

after(async () => {
  await gw?.close();
  await remote?.close();
});

test('a remote agent is proxied: card URL rewritten, auth header injected, trace id passed on, caller key required', async () => {
  const created = await call(`${gw.url}/api/a2a/agents`, { headers: authHeaders(), body: { id: 'far', name: 'Far away', remote: { card_url: `${remote.url}/.well-known/agent-card.json`, headers: { 'x-remote-key': 'remote-secret' } } } });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json.remote.headers, { 'x-remote-key': '[REDACTED]' }, 'the credential is never shown');
  assert.ok(!created.text.includes('remote-secret'));

  const card = await call(`${gw.url}/a2a/far/.well-known/agent-card.json`);
  assert.equal(card.status, 200, card.text);
  assert.equal(card.json.url, `${gw.url}/a2a/far`);
  assert.equal(card.json.name, 'SDK agent');
  assert.deepEqual(Object.keys(card.json.securitySchemes), ['bearer'], 'callers authenticate to the gateway');

  const { key } = await createKey(gw.url, {});
  const client = await A2AClient.fromCardUrl(`${gw.url}/a2a/far/.well-known/agent-card.json`, {
    fetchImpl: (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), authorization: `Bearer ${key}`, 'x-a2a-trace-id': 'trace-remote-1' } }),
  });
  const res: any = await client.sendMessage({ message: { kind: 'message', messageId: 'm1', role: 'user', parts: [{ kind: 'text', text: 'hello far' }] } });
  assert.equal(res.result?.parts?.[0]?.text, 'remote says: hello far', JSON.stringify(res));
  const events: any[] = [];
  for await (const ev of client.sendMessageStream({ message: { kind: 'message', messageId: 'm2', role: 'user', parts: [{ kind: 'text', text: 'stream far' }] } })) events.push(ev);
  assert.equal(events.at(-1).parts[0].text, 'remote says: stream far');

  const posts = remote.seen.filter((h) => h['content-type'] === 'application/json' && h['x-remote-key']);
  assert.ok(posts.length >= 2);
  assert.ok(posts.every((h) => h['x-remote-key'] === 'remote-secret' && h['x-a2a-trace-id'] === 'trace-remote-1'));
  assert.ok(posts.every((h) => h['authorization'] === undefined), 'the caller\'s gateway key does not leave the gateway');

  const anonymous = await call(`${gw.url}/a2a/far`, { headers: { 'content-type': 'application/json' }, body: { jsonrpc: '2.0', id: 1, method: 'message/send', params: {} } });
  assert.equal(anonymous.status, 401);
});
