import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';

/** Servers mounted at `/mcp/` that redirect `/mcp` there (Starlette-based ones do, with 307), or elsewhere. */
let upstream: Server;
let origin: string;
let gw: TestGateway;
before(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/mcp') return void res.writeHead(307, { location: '/mcp/' }).end();
    if (req.url === '/away') return void res.writeHead(307, { location: 'http://192.0.2.1/mcp/' }).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const mcp = new McpServer({ name: 'slash', version: '1.0.0' });
        mcp.registerTool('where', { description: 'Says where it answered.' }, async () => ({ content: [{ type: 'text', text: `at ${req.url}` }] }));
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        res.on('close', () => void mcp.close());
        await mcp.connect(transport);
        await transport.handleRequest(req, res, chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined);
      })();
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startTestGateway({ logging: { level: 'warn' } });
});
after(async () => {
  await gw?.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

test('a same-origin redirect of the MCP endpoint is followed; one to another origin is not', async () => {
  const reg = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'slash', transport: 'streamable-http', url: `${origin}/mcp` } });
  assert.equal(reg.status, 201, reg.text);
  const result = await gw.gateway.mcpUpstreams.callTool('slash', 'where', {});
  assert.deepEqual(result.content, [{ type: 'text', text: 'at /mcp/' }]);

  const away = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'away', transport: 'streamable-http', url: `${origin}/away`, timeout_ms: 2000 } });
  assert.equal(away.status, 201, away.text);
  await assert.rejects(gw.gateway.mcpUpstreams.callTool('away', 'where', {}), /307/);
});
