import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startHeaderRecordingMcpServer, type HeaderRecordingMcpServer } from '../helpers/header-recording-mcp-server.js';
import { call } from '../helpers/http.js';

let gw: TestGateway;
let upstream: HeaderRecordingMcpServer;
before(async () => {
  [gw, upstream] = await Promise.all([startTestGateway({ logging: { level: 'warn' } }), startHeaderRecordingMcpServer('busy')]);
  const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'busy', transport: 'streamable-http', url: upstream.url } });
  assert.equal(res.status, 201, res.text);
});
after(async () => {
  await Promise.all([gw?.close(), upstream?.close()]);
});

/**
 * undici adds an abort listener to a request's signal that goes only when the request is garbage
 * collected: requests sharing one long-lived signal pile listeners onto it (each request then
 * copies the whole list, and past 1,500 Node warns on stderr on every one). So no two upstream
 * requests may share a signal, while closing the connection must still abort them.
 */
test('every upstream Streamable HTTP request gets its own abort signal', async (t) => {
  const signals: AbortSignal[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = ((url: string | URL | Request, init?: RequestInit) => {
    if (String(url).startsWith(upstream.url) && init?.method === 'POST' && init.signal) signals.push(init.signal);
    return realFetch(url, init);
  }) as typeof fetch;
  t.after(() => {
    globalThis.fetch = realFetch;
  });
  for (let i = 0; i < 20; i++) await gw.gateway.mcpUpstreams.callTool('busy', 'whoami', {});
  assert.ok(signals.length >= 20, `saw ${signals.length} POSTs`);
  assert.equal(new Set(signals).size, signals.length, 'no signal shared by two requests');
  assert.ok(signals.every((s) => !s.aborted));

  // A changed definition closes the connection: the requests' signals follow the connection's.
  const patched = await call(`${gw.url}/api/mcp/servers/busy`, { method: 'PATCH', headers: authHeaders(), body: { description: 'changed' } });
  assert.equal(patched.status, 200, patched.text);
  for (let i = 0; i < 200 && !signals.every((s) => s.aborted); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(signals.every((s) => s.aborted), 'closing the connection aborts its requests');
});
