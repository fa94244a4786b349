import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const VERSION = '2025-11-25';
const MCP_ACCEPT = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };

describe('/mcp answers a quick request as JSON, and streams what asks for progress or takes long', () => {
  let gw: TestGateway;
  let session: string;
  const headers = () => ({ ...authHeaders(), ...MCP_ACCEPT, 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
  const post = (body: unknown) => fetch(`${gw.url}/mcp`, { method: 'POST', headers: headers(), body: JSON.stringify(body) });

  before(async () => {
    gw = await startTestGateway();
    const reg = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] } });
    assert.equal(reg.status, 201, reg.text);
    const init = await call(`${gw.url}/mcp`, {
      headers: { ...authHeaders(), ...MCP_ACCEPT },
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'json-test', version: '1' } } },
    });
    assert.equal(init.status, 200, init.text);
    assert.match(String(init.headers['content-type']), /^application\/json/);
    session = String(init.headers['mcp-session-id']);
    assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
    // The first call starts the server (a child process): slow, so streamed. Later ones are quick.
    await (await post({ jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'everything_echo', arguments: { message: 'warm' } } })).text();
  });

  after(async () => {
    await gw?.close();
  });

  test('a tools/call without a progress token that answers at once is one JSON body, with the session id', async () => {
    const res = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'everything_echo', arguments: { message: 'hi' } } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('mcp-session-id'), session);
    const body = (await res.json()) as { id: number; result: { content: Array<{ text: string }> } };
    assert.equal(body.id, 2);
    assert.match(body.result.content[0]!.text, /hi/);
  });

  test('a batch of requests gets one JSON array, in request order', async () => {
    const res = await post([
      { jsonrpc: '2.0', id: 'a', method: 'ping' },
      { jsonrpc: '2.0', id: 'b', method: 'ping' },
    ]);
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as Array<{ id: string }>).map((m) => m.id), ['a', 'b']);
  });

  test('a tools/call with a progress token is an SSE stream: primed, progress, then the result', async () => {
    const res = await post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'everything_trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 }, _meta: { progressToken: 'p1' } } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await res.text();
    const events = text.split('\n\n').filter((e) => e.trim() !== '');
    assert.match(events[0]!, /^id: \S+\ndata: $/, 'the first event primes the stream');
    const data = events.flatMap((e) => e.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)) as { method?: string; id?: number }));
    assert.ok(data.some((m) => m.method === 'notifications/progress'), text);
    assert.equal(data.at(-1)?.id, 3);
  });

  test('a call that takes longer than the JSON window streams, so a client that loses it can resume', async () => {
    const res = await post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'everything_trigger-long-running-operation', arguments: { duration: 0.3, steps: 1 } } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await res.text();
    assert.match(text, /^id: \S+\ndata: \n\n/);
    assert.match(text, /"id":4/);
  });
});
