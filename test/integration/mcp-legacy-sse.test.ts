import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { allTools, textOf } from '../helpers/mcp.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const FILESYSTEM = resolve('node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
const PING = { jsonrpc: '2.0', id: 7, method: 'ping' };

async function connectSse(url: string, key: string): Promise<Client> {
  const client = new Client({ name: 'smartflow-legacy-test', version: '1.0.0' });
  await client.connect(new SSEClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  return client;
}

/** Opens a legacy SSE stream by hand and reads its first event: the message URL with the session id. */
async function openStream(url: string, headers: Record<string, string>): Promise<{ messagePath: string; sessionId: string; close: () => Promise<void>; ended: Promise<void> }> {
  const stream = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
  assert.equal(stream.status, 200, await (stream.status === 200 ? Promise.resolve('') : stream.text()));
  assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = stream.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  const match = /^event: endpoint\ndata: (\S+)\n\n/.exec(text);
  assert.ok(match, `first event must be the endpoint, got ${JSON.stringify(text)}`);
  const messagePath = match[1]!;
  const ended = (async () => {
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
    }
  })();
  return { messagePath, sessionId: new URL(messagePath, url).searchParams.get('sessionId')!, close: () => reader.cancel().catch(() => undefined), ended };
}

describe('the legacy HTTP+SSE transport (/sse, /mcp/{alias}/sse) with real servers and the SDK SSE client', () => {
  let gw: TestGateway;
  let dir: string;
  let limitedKey: string;
  const clients: Client[] = [];
  const open = async (path: string, key = MASTER_KEY) => {
    const client = await connectSse(`${gw.url}${path}`, key);
    clients.push(client);
    return client;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sf-mcp-sse-'));
    await writeFile(join(dir, 'hello.txt'), 'hello over legacy SSE\n');
    gw = await startTestGateway({ mcp: { tools_page_size: 4 } });
    const register = async (body: Record<string, unknown>) => {
      const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body });
      assert.equal(res.status, 201, res.text);
    };
    await register({ alias: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] });
    await register({ alias: 'files', command: process.execPath, args: [FILESYSTEM, dir] });
    const key = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { alias: 'sse-limited', mcp_servers: ['everything'] } });
    assert.equal(key.status, 201, key.text);
    limitedKey = key.json.key;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('/sse: merged tools over several pages, a call on each server, ping', async () => {
    const client = await open('/sse');
    assert.equal(client.getServerVersion()?.name, 'smartflow');
    const { tools, pages } = await allTools(client);
    const names = tools.map((t) => t.name);
    assert.ok(pages > 1, `page size 4 must give several pages, got ${pages}`);
    assert.equal(new Set(names).size, names.length, 'no tool twice across pages');
    assert.ok(names.includes('everything_echo') && names.includes('files_read_text_file'), names.join(','));
    assert.equal(textOf(await client.callTool({ name: 'everything_echo', arguments: { message: 'old client' } })), 'Echo: old client');
    assert.match(textOf(await client.callTool({ name: 'files_read_text_file', arguments: { path: join(dir, 'hello.txt') } })), /hello over legacy SSE/);
    await client.ping();
  });

  test('/mcp/{alias}/sse serves one server unprefixed; unknown alias 404, a server the key may not use 403', async () => {
    const client = await open('/mcp/files/sse');
    const names = (await allTools(client)).tools.map((t) => t.name);
    assert.ok(names.includes('read_text_file'), names.join(','));
    assert.ok(!names.some((n) => n.startsWith('files_') || n === 'echo'), names.join(','));
    assert.match(textOf(await client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'hello.txt') } })), /hello over legacy SSE/);

    const unknown = await call(`${gw.url}/mcp/nosuch/sse`, { headers: authHeaders() });
    assert.equal(unknown.status, 404, unknown.text);
    const forbidden = await call(`${gw.url}/mcp/files/sse`, { headers: authHeaders(limitedKey) });
    assert.equal(forbidden.status, 403, forbidden.text);
    assert.match(forbidden.text, /files/);
    const limited = await open('/sse', limitedKey);
    const limitedNames = (await allTools(limited)).tools.map((t) => t.name);
    assert.ok(limitedNames.length > 0 && limitedNames.every((n) => n.startsWith('everything_') || n === 'search_tools'), limitedNames.join(','));
  });

  test('the stream and the message URL: auth, Origin, Host, unknown or foreign sessions', async () => {
    assert.equal((await call(`${gw.url}/sse`)).status, 401);
    const noKeyPost = await call(`${gw.url}/message?sessionId=x`, { headers: { 'content-type': 'application/json' }, body: PING });
    assert.equal(noKeyPost.status, 401);
    assert.equal(noKeyPost.headers['www-authenticate'], 'Bearer');
    assert.equal((await call(`${gw.url}/sse`, { headers: { ...authHeaders(), origin: 'https://evil.example.com' } })).status, 403);
    assert.equal((await call(`${gw.url}/sse`, { headers: { ...authHeaders(), host: 'evil.example.com' } })).status, 403, 'DNS rebinding: a foreign Host on a loopback connection');

    const { messagePath, sessionId, close } = await openStream(`${gw.url}/sse`, { 'x-api-key': MASTER_KEY });
    assert.match(messagePath, /^\/message\?sessionId=[0-9a-f-]{36}$/);
    try {
      const post = (path: string, key = MASTER_KEY, extra: Record<string, string> = {}) => call(`${gw.url}${path}`, { headers: { ...authHeaders(key), ...extra }, body: PING });
      assert.equal((await post(messagePath)).status, 202);
      assert.equal((await post('/message?sessionId=no-such-session')).status, 404);
      assert.equal((await post('/message')).status, 400);
      const stolen = await post(messagePath, limitedKey);
      assert.equal(stolen.status, 404, 'another key learns nothing about the session');
      assert.deepEqual(stolen.json, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      assert.equal((await post(`/mcp/everything/message?sessionId=${sessionId}`)).status, 404, 'another endpoint');
      assert.equal((await post(messagePath, MASTER_KEY, { origin: 'https://evil.example.com' })).status, 403);
      const asStreamable = await call(`${gw.url}/mcp`, { headers: { ...authHeaders(), accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId }, body: PING });
      assert.equal(asStreamable.status, 404, 'a legacy session id is not a Streamable HTTP session');
    } finally {
      await close();
    }
  });
});

describe('legacy SSE sessions share the session table', () => {
  test('a closed stream ends its session; max_sessions counts SSE sessions and closes the least recently used; shutdown ends open streams', async () => {
    const gw = await startTestGateway({ mcp: { max_sessions: 1 }, server: { shutdown_grace_ms: 20_000 } });
    try {
      const post = (path: string) => call(`${gw.url}${path}`, { headers: authHeaders(), body: PING });
      const first = await openStream(`${gw.url}/sse`, authHeaders());
      await first.close();
      await first.ended;
      let status = 202;
      for (let i = 0; i < 50 && status !== 404; i++) {
        status = (await post(first.messagePath)).status;
        if (status !== 404) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status, 404, 'the session ended with its stream');

      const a = await openStream(`${gw.url}/sse`, authHeaders());
      assert.equal((await post(a.messagePath)).status, 202);
      const b = await openStream(`${gw.url}/sse`, authHeaders());
      await a.ended; // the table was full: the gateway closed a's stream
      assert.equal((await post(a.messagePath)).status, 404);
      assert.equal((await post(b.messagePath)).status, 202);

      const started = Date.now();
      await gw.close();
      await b.ended;
      assert.ok(Date.now() - started < 5000, `close took ${Date.now() - started} ms`);
    } finally {
      await gw.close().catch(() => undefined);
    }
  });

  test('an idle legacy session is closed with its stream', async () => {
    const gw = await startTestGateway({ mcp: { session_idle_ms: 300 } });
    try {
      const idle = await openStream(`${gw.url}/sse`, authHeaders());
      await idle.ended; // nothing was posted: the sweep closes the stream
      assert.equal((await call(`${gw.url}${idle.messagePath}`, { headers: authHeaders(), body: PING })).status, 404);
    } finally {
      await gw.close();
    }
  });
});
