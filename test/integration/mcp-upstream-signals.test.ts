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
 * collected: requests sharing one long-lived signal (as the SDK's transport gave them) piled
 * listeners onto it, and past 1,500 Node warned on stderr on every request. Many calls over one
 * connection must leave no such warning, and closing the connection must still end its sockets.
 */
test('many upstream Streamable HTTP calls pile up no listeners; closing the connection ends its sockets', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const before = upstream.requests.length;
  for (let i = 0; i < 1600; i++) await gw.gateway.mcpUpstreams.callTool('busy', 'whoami', {});
  assert.ok(upstream.requests.length - before >= 1600, `saw ${upstream.requests.length - before} requests`);
  assert.deepEqual(warnings.map((w) => w.name), []);
  assert.ok((await upstream.connections()) > 0);

  // A changed definition closes the connection: its keep-alive sockets close with it.
  const patched = await call(`${gw.url}/api/mcp/servers/busy`, { method: 'PATCH', headers: authHeaders(), body: { description: 'changed' } });
  assert.equal(patched.status, 200, patched.text);
  let open = await upstream.connections();
  for (let i = 0; i < 200 && open > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
    open = await upstream.connections();
  }
  assert.equal(open, 0, 'closing the connection closes its sockets');
});
