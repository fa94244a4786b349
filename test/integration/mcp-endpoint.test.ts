import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { allTools, connectStreamable as connect, textOf } from '../helpers/mcp.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const FILESYSTEM = resolve('node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const MCP_ACCEPT = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };

describe('the gateway MCP endpoint /mcp (real SDK client, real servers over stdio)', () => {
  let gw: TestGateway;
  let dir: string;
  let limitedKey: string;
  let limitedKeyId: string;
  const clients: Client[] = [];
  const open = async (path: string, key = MASTER_KEY) => {
    const client = await connect(`${gw.url}${path}`, key);
    clients.push(client);
    return client;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sf-mcp-ep-'));
    await writeFile(join(dir, 'hello.txt'), 'hello through the gateway\n');
    gw = await startTestGateway({ mcp: { tools_page_size: 5, allowed_origins: ['https://inspector.example.com'] } });
    const register = async (body: Record<string, unknown>) => {
      const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body });
      assert.equal(res.status, 201, res.text);
    };
    await register({ alias: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] });
    await register({ alias: 'files', command: process.execPath, args: [FILESYSTEM, dir] });
    const key = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { alias: 'mcp-limited', mcp_servers: ['everything'] } });
    assert.equal(key.status, 201, key.text);
    limitedKey = key.json.key;
    limitedKeyId = key.json.id;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('/mcp with the master key: merged tools over several pages, prefixed; calls on both servers pass results through; ping', async () => {
    const client = await open('/mcp');
    const { tools, pages } = await allTools(client);
    const names = tools.map((t) => t.name);
    assert.ok(pages > 1, `page size 5 must give several pages, got ${pages}`);
    assert.equal(new Set(names).size, names.length, 'no tool twice across pages');
    assert.ok(names.includes('everything_echo'), names.join(','));
    assert.ok(names.includes('files_read_text_file'), names.join(','));
    // search_tools is the gateway's own (docs/tool-search.md).
    assert.ok(names.every((n) => n.startsWith('everything_') || n.startsWith('files_') || n === 'search_tools'), names.join(','));
    const echo = tools.find((t) => t.name === 'everything_echo')!;
    assert.ok(echo.inputSchema.properties?.message, 'schemas pass through');

    assert.equal(textOf(await client.callTool({ name: 'everything_echo', arguments: { message: 'hi gateway' } })), 'Echo: hi gateway');
    const read = await client.callTool({ name: 'files_read_text_file', arguments: { path: join(dir, 'hello.txt') } });
    assert.match(textOf(read), /hello through the gateway/);
    const structured = await client.callTool({ name: 'everything_get-structured-content', arguments: { location: 'New York' } });
    assert.ok(structured.structuredContent, JSON.stringify(structured));
    await client.ping();

    // An upstream failure is an MCP error naming the server, never an empty success.
    const denied = await client.callTool({ name: 'files_read_text_file', arguments: { path: '/etc/passwd' } }).catch((err: unknown) => err);
    if (denied instanceof McpError) assert.match(denied.message, /files/);
    else assert.equal((denied as { isError?: boolean }).isError, true, JSON.stringify(denied));
    await assert.rejects(client.callTool({ name: 'nosuch_echo', arguments: {} }), /no MCP server "nosuch"/);
    // The upstream answers an unknown tool with an isError result: it comes back as it was sent.
    const missing = await client.callTool({ name: 'everything_no-such-tool', arguments: {} });
    assert.equal(missing.isError, true);
    assert.match(textOf(missing), /no-such-tool not found/);
  });

  test('/mcp/{alias} serves one server with unprefixed names', async () => {
    const client = await open('/mcp/files');
    const names = (await allTools(client)).tools.map((t) => t.name);
    assert.ok(names.includes('read_text_file'), names.join(','));
    assert.ok(!names.some((n) => n.startsWith('files_') || n === 'echo'), names.join(','));
    const read = await client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'hello.txt') } });
    assert.match(textOf(read), /hello through the gateway/);
    const unknown = await call(`${gw.url}/mcp/nosuch`, { headers: { ...authHeaders(), ...MCP_ACCEPT }, body: INIT });
    assert.equal(unknown.status, 404, unknown.text);
  });

  test('a key limited to one server sees only its tools and is refused the other', async () => {
    const client = await open('/mcp', limitedKey);
    const names = (await allTools(client)).tools.map((t) => t.name);
    assert.ok(names.includes('everything_echo'), names.join(','));
    assert.ok(!names.some((n) => n.startsWith('files_')), names.join(','));
    assert.equal(textOf(await client.callTool({ name: 'everything_echo', arguments: { message: 'ok' } })), 'Echo: ok');
    await assert.rejects(client.callTool({ name: 'files_read_text_file', arguments: { path: join(dir, 'hello.txt') } }), /may not use MCP server "files"/);
    await assert.rejects(client.callTool({ name: 'nosuch_echo', arguments: {} }), /no MCP server "nosuch"/);
    const single = await call(`${gw.url}/mcp/files`, { headers: { ...authHeaders(limitedKey), ...MCP_ACCEPT }, body: INIT });
    assert.equal(single.status, 403, single.text);
    assert.match(single.text, /files/);

    // Tool calls are in the spend log like LLM calls (operation mcp.call), the refused one as 403.
    const logs = await call(`${gw.url}/api/spend/logs?key=${limitedKeyId}&limit=50`, { headers: authHeaders() });
    assert.equal(logs.status, 200, logs.text);
    const rows = (logs.json.data as Array<Record<string, unknown>>).filter((r) => r.operation === 'mcp.call');
    const ok = rows.find((r) => r.model === 'everything_echo');
    assert.ok(ok, JSON.stringify(logs.json.data));
    assert.equal(ok.provider, 'everything');
    assert.equal(ok.upstream_model, 'echo');
    assert.equal(ok.status, 200);
    assert.equal(typeof ok.latency_ms, 'number');
    const refused = rows.find((r) => r.model === 'files_read_text_file');
    assert.equal(refused?.status, 403, JSON.stringify(rows));
    assert.equal(refused?.error_code, 'mcp_tool_denied');
    assert.equal(rows.find((r) => r.model === 'nosuch_echo')?.status, 404, JSON.stringify(rows));
  });

  test('no key: 401 with WWW-Authenticate; foreign Origin: 403; allow-listed Origin passes; unknown session: 404; another key cannot use a session', async () => {
    const noKey = await call(`${gw.url}/mcp`, { headers: MCP_ACCEPT, body: INIT });
    assert.equal(noKey.status, 401);
    assert.equal(noKey.headers['www-authenticate'], 'Bearer');
    assert.ok(noKey.json.error, noKey.text);
    const badKey = await call(`${gw.url}/mcp`, { headers: { ...MCP_ACCEPT, 'x-api-key': 'sk-wrong' }, body: INIT });
    assert.equal(badKey.status, 401);

    const foreign = await call(`${gw.url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT, origin: 'https://evil.example.com' }, body: INIT });
    assert.equal(foreign.status, 403, foreign.text);
    const listed = await call(`${gw.url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT, origin: 'https://inspector.example.com' }, body: INIT });
    assert.equal(listed.status, 200, listed.text);
    const own = await call(`${gw.url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT, origin: gw.url }, body: INIT });
    assert.equal(own.status, 200, own.text);
    const sessionId = own.headers['mcp-session-id'];
    assert.equal(typeof sessionId, 'string');

    const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };
    const unknown = await call(`${gw.url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT, 'mcp-session-id': 'no-such-session' }, body: ping });
    assert.equal(unknown.status, 404, unknown.text);
    const stolen = await call(`${gw.url}/mcp`, { headers: { ...authHeaders(limitedKey), ...MCP_ACCEPT, 'mcp-session-id': String(sessionId) }, body: ping });
    assert.equal(stolen.status, 404, stolen.text);
    const badVersion = await call(`${gw.url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT, 'mcp-session-id': String(sessionId), 'mcp-protocol-version': '1999-01-01' }, body: ping });
    assert.equal(badVersion.status, 400, badVersion.text);

    const closed = await call(`${gw.url}/mcp`, { method: 'DELETE', headers: { ...authHeaders(), 'mcp-session-id': String(sessionId) } });
    assert.equal(closed.status, 200, closed.text);
    const afterDelete = await call(`${gw.url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT, 'mcp-session-id': String(sessionId) }, body: ping });
    assert.equal(afterDelete.status, 404, afterDelete.text);
  });
});

describe('/mcp sessions: bounded, idle ones expire, shutdown closes open streams', () => {
  const initialize = async (url: string) => {
    const res = await call(`${url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT }, body: INIT });
    assert.equal(res.status, 200, res.text);
    return String(res.headers['mcp-session-id']);
  };
  const ping = (url: string, session: string) => call(`${url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }, body: { jsonrpc: '2.0', id: 9, method: 'ping' } });

  test('the least recently used session is closed when the table is full; idle sessions are closed', async () => {
    const gw = await startTestGateway({ mcp: { max_sessions: 2, session_idle_ms: 400 } });
    try {
      const [a, b] = [await initialize(gw.url), await initialize(gw.url)];
      assert.equal((await ping(gw.url, a)).status, 200, 'a is now the most recently used');
      const c = await initialize(gw.url);
      assert.equal((await ping(gw.url, b)).status, 404, 'b was the least recently used');
      assert.equal((await ping(gw.url, a)).status, 200);
      assert.equal((await ping(gw.url, c)).status, 200);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await ping(gw.url, a)).status, 404, 'idle sessions expire');
      assert.equal((await ping(gw.url, c)).status, 404);
    } finally {
      await gw.close();
    }
  });

  test('closing the gateway ends open GET streams at once', async () => {
    const gw = await startTestGateway({ server: { shutdown_grace_ms: 20_000 } });
    const session = await initialize(gw.url);
    const stream = await fetch(`${gw.url}/mcp`, { headers: { ...authHeaders(), accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } });
    assert.equal(stream.status, 200);
    const started = Date.now();
    await gw.close();
    assert.ok(Date.now() - started < 5000, `close took ${Date.now() - started} ms`);
    await stream.body?.cancel().catch(() => undefined);
  });
});
