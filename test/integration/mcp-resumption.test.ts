import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const VERSION = '2025-11-25';
const MCP_ACCEPT = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };

interface SseEvent {
  id?: string;
  data: string;
}

/** Reads SSE events from a fetch response until `stop` says so (or the stream ends). */
async function readEvents(res: Response, stop: (event: SseEvent) => boolean): Promise<{ events: SseEvent[]; cancel: () => Promise<void> }> {
  const reader = res.body!.getReader();
  const events: SseEvent[] = [];
  let buffer = '';
  outer: for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += Buffer.from(value).toString('utf8');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('id:')) event.id = line.slice(3).trim();
        else if (line.startsWith('data:')) event.data += line.slice(5).trim();
      }
      if (event.id === undefined && event.data === '') continue; // a comment (keep-alive)
      events.push(event);
      if (stop(event)) break outer;
    }
  }
  return { events, cancel: () => reader.cancel().catch(() => undefined) };
}

describe('Streamable HTTP resumption: a client that lost its stream gets what it missed with Last-Event-ID', () => {
  let gw: TestGateway;
  let session: string;
  const headers = () => ({ ...authHeaders(), ...MCP_ACCEPT, 'mcp-session-id': session, 'mcp-protocol-version': VERSION });

  before(async () => {
    gw = await startTestGateway();
    const reg = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] } });
    assert.equal(reg.status, 201, reg.text);
    const init = await call(`${gw.url}/mcp`, {
      headers: { ...authHeaders(), ...MCP_ACCEPT },
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'resume-test', version: '1' } } },
    });
    assert.equal(init.status, 200, init.text);
    session = String(init.headers['mcp-session-id']);
    assert.equal((await call(`${gw.url}/mcp`, { headers: headers(), body: { jsonrpc: '2.0', method: 'notifications/initialized' } })).status, 202);
  });

  after(async () => {
    await gw?.close();
  });

  test('the result of a tools/call sent while the POST stream was gone arrives on GET with Last-Event-ID', async () => {
    const post = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name: 'everything_trigger-long-running-operation', arguments: { duration: 1, steps: 1 } } }),
    });
    assert.equal(post.status, 200);
    // The first event primes the stream: an id to resume from, no data.
    const first = await readEvents(post, () => true);
    const priming = first.events[0];
    assert.ok(priming?.id, `the POST stream must open with an event id, got ${JSON.stringify(first.events)}`);
    await first.cancel(); // the client loses the stream before the result

    // The gateway sends the result while nobody listens; give the upstream its second.
    await new Promise((r) => setTimeout(r, 1500));
    const resumed = await fetch(`${gw.url}/mcp`, { headers: { ...headers(), 'last-event-id': priming.id! } });
    assert.equal(resumed.status, 200);
    const replay = await readEvents(resumed, (e) => e.data.includes('"id":42'));
    await replay.cancel();
    const result = replay.events.map((e) => (e.data ? JSON.parse(e.data) : null)).find((m) => m?.id === 42);
    assert.ok(result, `the missed result must be replayed, got ${JSON.stringify(replay.events)}`);
    assert.match(JSON.stringify(result.result.content), /Long running operation completed/);
    assert.ok(replay.events.every((e) => e.id !== priming.id), 'nothing before Last-Event-ID is sent again');
  });

  test('an event id this session never gave out is refused', async () => {
    const res = await fetch(`${gw.url}/mcp`, { headers: { ...headers(), 'last-event-id': '999_nosuchstream' } });
    assert.equal(res.status, 400, await res.text());
  });
});
