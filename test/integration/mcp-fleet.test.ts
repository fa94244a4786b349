import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startHeaderRecordingMcpServer, type HeaderRecordingMcpServer } from '../helpers/header-recording-mcp-server.js';
import { call } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';
import { sleep, textOf, until } from '../helpers/mcp.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const MCP_ACCEPT = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };

async function allTools(client: Client): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return tools;
}

/** The servers' tools: without the gateway's own search_tools (docs/tool-search.md). */
const toolNames = async (client: Client) => (await allTools(client)).map((t) => t.name).filter((n) => n !== 'search_tools');

/** A session at `url` through the real SDK client, closed when the test ends. */
async function connect(t: { after: (fn: () => Promise<void>) => void }, url: string, key: string): Promise<Client> {
  const client = new Client({ name: 'smartflow-fleet-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  t.after(() => client.close().catch(() => undefined));
  return client;
}

async function register(gw: TestGateway, body: Record<string, unknown>): Promise<{ id: string; alias: string }> {
  const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

async function virtualKey(gw: TestGateway, body: Record<string, unknown>): Promise<string> {
  const res = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body });
  assert.equal(res.status, 201, res.text);
  return res.json.key;
}

/**
 * A load balancer in front of gateway instances, streaming both ways (the SDK client's GET
 * stream stays open): `pick` chooses the instance for each request.
 */
async function startBalancer(targets: string[], pick: (req: IncomingMessage, n: number) => number): Promise<{ url: string; close(): Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    const target = new URL(targets[pick(req, n++) % targets.length]!);
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const patch = (gw: TestGateway, ref: string, body: Record<string, unknown>) => call(`${gw.url}/api/mcp/servers/${ref}`, { method: 'PATCH', headers: authHeaders(), body });

describe('two gateway instances on one Redis serve the same MCP servers through /mcp', () => {
  const prefix = `sf-it-mcp-fleet:${randomUUID()}:`;
  let a: TestGateway;
  let b: TestGateway;
  let upstream: HeaderRecordingMcpServer;

  before(async () => {
    const config = { logging: { level: 'warn' }, store: { type: 'redis', url: REDIS_URL, prefix } };
    [a, b, upstream] = await Promise.all([startTestGateway(config), startTestGateway(config), startHeaderRecordingMcpServer('fleet')]);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close(), upstream?.close()]);
    await flushRedisPrefix(prefix);
  });

  test('registered on A: listed and called on B within a second; a rename and a delete on A reach the open session on B', async (t) => {
    const onB = await connect(t, `${b.url}/mcp`, MASTER_KEY);
    assert.deepEqual(await toolNames(onB), [], 'nothing registered yet');

    const registeredAt = Date.now();
    await register(a, { alias: 'shared', transport: 'streamable-http', url: upstream.url });
    await until('B to list shared_whoami', async () => (await toolNames(onB)).includes('shared_whoami'), 1000);
    assert.ok(Date.now() - registeredAt <= 1000);
    assert.equal(textOf(await onB.callTool({ name: 'shared_whoami', arguments: {} })), 'I am fleet');

    const renamed = await patch(a, 'shared', { alias: 'common' });
    assert.equal(renamed.status, 200, renamed.text);
    const names = await until('B to list the new prefix only', async () => {
      const n = await toolNames(onB);
      return n.includes('common_whoami') && !n.includes('shared_whoami') && n;
    }, 1000);
    assert.deepEqual(names, ['common_whoami']);
    assert.equal(textOf(await onB.callTool({ name: 'common_whoami', arguments: {} })), 'I am fleet');
    await assert.rejects(onB.callTool({ name: 'shared_whoami', arguments: {} }), /no MCP server "shared"/);

    const deleted = await call(`${a.url}/api/mcp/servers/common`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(deleted.status, 200, deleted.text);
    await until('B to drop common_whoami', async () => (await toolNames(onB)).length === 0, 1000);
    await assert.rejects(onB.callTool({ name: 'common_whoami', arguments: {} }), /no MCP server "common"/);
  });

  test('a session lives on the instance that created it: its id on the other instance is 404, and a new session there works', async () => {
    const init = await call(`${a.url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT }, body: INIT });
    assert.equal(init.status, 200, init.text);
    const session = String(init.headers['mcp-session-id']);
    const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };
    const headers = { ...authHeaders(), ...MCP_ACCEPT, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    assert.equal((await call(`${a.url}/mcp`, { headers, body: ping })).status, 200);
    const elsewhere = await call(`${b.url}/mcp`, { headers, body: ping });
    assert.equal(elsewhere.status, 404, elsewhere.text);
    assert.equal(elsewhere.json.error.code, -32001);
    assert.equal((await call(`${b.url}/mcp`, { headers: { ...authHeaders(), ...MCP_ACCEPT }, body: INIT })).status, 200);
  });

  test('behind a load balancer: spreading one session over the instances breaks it; keeping a key on one instance works', async (t) => {
    await register(a, { alias: 'lb', transport: 'streamable-http', url: upstream.url });
    const roundRobin = await startBalancer([a.url, b.url], (_req, n) => n);
    const byKey = await startBalancer([a.url, b.url], (req) => [...String(req.headers.authorization)].reduce((h, c) => h + c.charCodeAt(0), 0));
    t.after(() => Promise.all([roundRobin.close(), byKey.close()]).then(() => undefined));
    await until('B to know the server', async () => (await call(`${b.url}/api/mcp/servers/lb`, { headers: authHeaders() })).status === 200, 1000);

    // initialize reaches one instance, the next request the other: it does not know the session.
    await assert.rejects(
      (async () => {
        const client = await connect(t, `${roundRobin.url}/mcp`, MASTER_KEY);
        for (let i = 0; i < 3; i++) await client.callTool({ name: 'lb_whoami', arguments: {} });
      })(),
      /Session not found|404/,
    );

    const sticky = await connect(t, `${byKey.url}/mcp`, MASTER_KEY);
    for (let i = 0; i < 5; i++) assert.equal(textOf(await sticky.callTool({ name: 'lb_whoami', arguments: {} })), 'I am fleet');
  });
});

describe('an alias rename keeps references by id working', () => {
  let gw: TestGateway;
  let upstream: HeaderRecordingMcpServer;
  before(async () => {
    [gw, upstream] = await Promise.all([startTestGateway({ logging: { level: 'warn' } }), startHeaderRecordingMcpServer('tickets')]);
  });
  after(async () => {
    await Promise.all([gw?.close(), upstream?.close()]);
  });

  test('a key naming the server by id keeps access; tools move to the new prefix on the open session; /mcp/{new} works and /mcp/{old} is 404', async (t) => {
    const server = await register(gw, { alias: 'tickets', transport: 'streamable-http', url: upstream.url });
    const key = await virtualKey(gw, { mcp_servers: [server.id] });
    const session = await connect(t, `${gw.url}/mcp`, key);
    assert.deepEqual(await toolNames(session), ['tickets_whoami']);
    assert.equal(textOf(await session.callTool({ name: 'tickets_whoami', arguments: {} })), 'I am tickets');

    const renamed = await patch(gw, 'tickets', { alias: 'helpdesk' });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.json.id, server.id);

    assert.deepEqual(await toolNames(session), ['helpdesk_whoami']);
    assert.equal(textOf(await session.callTool({ name: 'helpdesk_whoami', arguments: {} })), 'I am tickets', 'the open session calls by the new name');
    await assert.rejects(session.callTool({ name: 'tickets_whoami', arguments: {} }), /no MCP server "tickets"/);

    const single = await connect(t, `${gw.url}/mcp/helpdesk`, key);
    assert.deepEqual(await toolNames(single), ['whoami']);
    assert.equal(textOf(await single.callTool({ name: 'whoami', arguments: {} })), 'I am tickets');
    const old = await call(`${gw.url}/mcp/tickets`, { headers: { ...authHeaders(key), ...MCP_ACCEPT }, body: INIT });
    assert.equal(old.status, 404, old.text);
  });
});

describe('header and credential isolation between two servers with the same tool name', () => {
  const SECRET_A = 'Bearer upstream-token-a-5c1e9f';
  const SECRET_B = 'Bearer upstream-token-b-83d2a4';
  const TENANT_B = 'tenant-b-secret-0a7b';
  const DEAD_SECRET = 'Bearer dead-server-token-61fe';
  let gw: TestGateway;
  let srvA: HeaderRecordingMcpServer;
  let srvB: HeaderRecordingMcpServer;
  let key: string;

  before(async () => {
    [gw, srvA, srvB] = await Promise.all([startTestGateway({ logging: { level: 'debug' } }), startHeaderRecordingMcpServer('a'), startHeaderRecordingMcpServer('b')]);
    await register(gw, { alias: 'a', transport: 'streamable-http', url: srvA.url, headers: { Authorization: SECRET_A } });
    await register(gw, { alias: 'b', transport: 'streamable-http', url: srvB.url, headers: { Authorization: SECRET_B, 'X-Tenant': TENANT_B } });
    // Nothing listens there: its failure must not show its header either.
    const dead = await startHeaderRecordingMcpServer('dead');
    await dead.close();
    await register(gw, { alias: 'dead', transport: 'streamable-http', url: dead.url, headers: { Authorization: DEAD_SECRET }, timeout_ms: 2000 });
    key = await virtualKey(gw, { mcp_servers: ['a', 'b', 'dead'] });
  });
  after(async () => {
    await Promise.all([gw?.close(), srvA?.close(), srvB?.close()]);
  });

  test('each call reaches only its own server with only its own headers; the caller key reaches neither; no value comes back or reaches the log', async (t) => {
    const session = await connect(t, `${gw.url}/mcp`, key);
    const seen: string[] = [];
    const tools = await allTools(session);
    seen.push(JSON.stringify(tools));
    assert.deepEqual(tools.map((x) => x.name).sort(), ['a_whoami', 'b_whoami', 'search_tools'], 'dead never listed: left out');

    const beforeA = srvA.requests.length;
    const beforeB = srvB.requests.length;
    const ra = await session.callTool({ name: 'a_whoami', arguments: {} });
    assert.equal(textOf(ra), 'I am a');
    assert.equal(srvB.requests.length, beforeB, 'a_whoami never reached b');
    const rb = await session.callTool({ name: 'b_whoami', arguments: {} });
    assert.equal(textOf(rb), 'I am b');
    assert.ok(srvA.requests.length > beforeA);
    seen.push(JSON.stringify(ra), JSON.stringify(rb));

    for (const [server, own, others] of [
      [srvA, { authorization: SECRET_A }, [SECRET_B, TENANT_B, DEAD_SECRET]],
      [srvB, { authorization: SECRET_B, 'x-tenant': TENANT_B }, [SECRET_A, DEAD_SECRET]],
    ] as const) {
      assert.ok(server.requests.length > 0);
      for (const headers of server.requests) {
        for (const [name, value] of Object.entries(own)) assert.equal(headers[name], value, `${name} on every request`);
        const values = JSON.stringify(headers);
        for (const foreign of [...others, key, MASTER_KEY]) assert.ok(!values.includes(foreign), `no foreign value in ${values}`);
        if (!('x-tenant' in own)) assert.equal(headers['x-tenant'], undefined);
      }
    }

    // Errors of every kind: the upstream's own (unknown tool), an unknown server, an unreachable one.
    const unknownTool = await session.callTool({ name: 'b_nope', arguments: {} });
    assert.equal(unknownTool.isError, true);
    seen.push(JSON.stringify(unknownTool));
    for (const name of ['c_whoami', 'dead_whoami']) {
      const err = await session.callTool({ name, arguments: {} }).then(
        () => assert.fail(`${name} must fail`),
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      seen.push(err);
    }
    assert.match(seen.at(-1)!, /MCP server "dead"/);

    const api = await Promise.all(['/api/mcp/servers', '/api/mcp/servers/a/health', '/api/mcp/servers/b/health', '/api/mcp/servers/dead/health', '/api/spend/logs?limit=50'].map((p) => call(`${gw.url}${p}`, { headers: authHeaders() })));
    for (const res of api) {
      assert.equal(res.status, 200, res.text);
      seen.push(res.text);
    }
    assert.match(api[3]!.text, /"last_error":"[^"]/, 'the dead server has an error to show');
    seen.push(gw.logs.text);
    assert.match(gw.logs.text, /dead/, 'the failure was logged');
    for (const secret of [SECRET_A, SECRET_B, TENANT_B, DEAD_SECRET, 'upstream-token-a', 'upstream-token-b', 'dead-server-token']) {
      for (const text of seen) assert.ok(!text.includes(secret), `${secret} leaked into ${text.slice(0, 300)}`);
    }
  });
});

describe('a STDIO server killed while a client is connected to /mcp', () => {
  let gw: TestGateway;
  let web: HeaderRecordingMcpServer;
  before(async () => {
    [gw, web] = await Promise.all([startTestGateway({ logging: { level: 'warn' } }), startHeaderRecordingMcpServer('web')]);
    await register(gw, { alias: 'ev', command: process.execPath, args: [EVERYTHING, 'stdio'] });
    await register(gw, { alias: 'web', transport: 'streamable-http', url: web.url });
  });
  after(async () => {
    await Promise.all([gw?.close(), web?.close()]);
  });

  test('is restarted; the next call through /mcp works; calls to another server in between never failed', async (t) => {
    const session = await connect(t, `${gw.url}/mcp`, MASTER_KEY);
    assert.equal(textOf(await session.callTool({ name: 'ev_echo', arguments: { message: 'before' } })), 'Echo: before');
    const pool = gw.gateway.mcpUpstreams;
    const pid = pool.pid('ev');
    assert.ok(pid);

    const other = await connect(t, `${gw.url}/mcp`, MASTER_KEY);
    let running = true;
    const outcomes: Array<string | Error> = [];
    const background = (async () => {
      while (running) outcomes.push(await other.callTool({ name: 'web_whoami', arguments: {} }).then(textOf, (e: Error) => e));
    })();

    await sleep(50);
    process.kill(pid, 'SIGKILL');
    await until('the gateway to notice the exit', async () => pool.health('ev').connected === false, 10_000);
    assert.equal(textOf(await session.callTool({ name: 'ev_echo', arguments: { message: 'after' } })), 'Echo: after');
    await sleep(50);
    running = false;
    await background;

    assert.notEqual(pool.pid('ev'), pid, 'a new process');
    assert.equal(pool.health('ev').restarts, 1);
    assert.ok(outcomes.length > 5, `calls kept going: ${outcomes.length}`);
    assert.deepEqual(outcomes.filter((o) => o !== 'I am web'), [], 'no call to the other server failed');
    assert.equal(pool.health('web').restarts, 0);
  });
});
