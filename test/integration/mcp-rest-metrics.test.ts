import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';
import { EVERYTHING, freePort, sleep, startEverything, until } from '../helpers/mcp.js';

const stdio = (alias: string, extra: Record<string, unknown> = {}) => ({ alias, command: process.execPath, args: [EVERYTHING, 'stdio'], ...extra });

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('MCP operations: REST tool API, recorded calls, metrics, payload logging, lifecycle (real servers)', () => {
  let gw: TestGateway;
  const ids: Record<string, string> = {};
  let limited: { id: string; key: string };
  let httpServer: ChildProcess | undefined;

  const register = async (body: Record<string, unknown>) => {
    const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body });
    assert.equal(res.status, 201, res.text);
    ids[body.alias as string] = res.json.id;
    return res.json;
  };
  const tools = (query = '', key = MASTER_KEY) => call(`${gw.url}/api/mcp/tools${query}`, { headers: authHeaders(key) });
  const callTool = (body: unknown, key = MASTER_KEY, headers: Record<string, string> = {}) => call(`${gw.url}/api/mcp/tools/call`, { headers: { ...authHeaders(key), ...headers }, body });
  const health = async (ref: string) => (await call(`${gw.url}/api/mcp/servers/${ref}/health`, { headers: authHeaders() })).json;
  const metrics = async () => (await call(`${gw.url}/metrics`, { headers: authHeaders() })).text;
  const spendRows = async () => {
    await gw.gateway.spendLog.flush();
    const res = await call(`${gw.url}/api/spend/logs?limit=500`, { headers: authHeaders() });
    assert.equal(res.status, 200, res.text);
    return (res.json.data as any[]).filter((r) => r.operation === 'mcp.call');
  };

  before(async () => {
    gw = await startTestGateway({ logging: { level: 'info' } });
    await register(stdio('ev'));
    await register(stdio('ev-log', { log_payloads: true }));
    await register({ alias: 'broken', command: process.execPath, args: ['-e', 'process.exit(3)'], timeout_ms: 2000 });
    const port = await freePort();
    httpServer = await startEverything('streamableHttp', port);
    await register({ alias: 'ev-http', transport: 'streamable-http', url: `http://127.0.0.1:${port}/mcp` });
    limited = await createKey(gw.url, { alias: 'rest-limited', mcp_servers: ['ev'], mcp_tools: ['ev/echo', 'ev/get-sum'] });
  });
  after(async () => {
    await gw?.close();
    httpServer?.kill('SIGTERM');
  });

  test('GET /api/mcp/tools lists every tool with server alias, id, prefixed name and the schema passed through', async () => {
    const res = await tools();
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.object, 'list');
    const echo = res.json.data.find((t: any) => t.server === 'ev' && t.name === 'echo');
    assert.ok(echo, 'ev/echo listed');
    assert.equal(echo.object, 'mcp_tool');
    assert.equal(echo.server_id, ids.ev);
    assert.equal(echo.prefixed_name, 'ev_echo');
    assert.match(echo.description, /echo/i);
    assert.equal(echo.inputSchema.type, 'object');
    assert.ok(echo.inputSchema.properties.message, 'the upstream schema comes through');
    assert.ok(res.json.data.some((t: any) => t.server === 'ev-log'));
    // The broken server never listed: left out, not a failure of the whole list.
    assert.ok(!res.json.data.some((t: any) => t.server === 'broken'));

    const one = await tools('?server=ev');
    assert.equal(one.status, 200);
    assert.ok(one.json.data.length > 5);
    assert.ok(one.json.data.every((t: any) => t.server === 'ev'));
    const byId = await tools(`?server=${ids.ev}`);
    assert.deepEqual(byId.json.data.map((t: any) => t.name), one.json.data.map((t: any) => t.name));

    const unknown = await tools('?server=nope');
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error.message, /"nope"/);
    const down = await tools('?server=broken');
    assert.equal(down.status, 502, down.text);
    assert.equal(down.json.error.code, 'mcp_upstream_unavailable');
    assert.match(down.json.error.message, /MCP server "broken"/);
    const badQuery = await tools('?colour=red');
    assert.equal(badQuery.status, 400);
    assert.equal(badQuery.json.error.param, 'colour');
  });

  test('POST /api/mcp/tools/call returns the upstream CallToolResult unchanged, by alias or by id', async () => {
    const res = await callTool({ server: 'ev', tool: 'echo', arguments: { message: 'over rest' } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { content: [{ type: 'text', text: 'Echo: over rest' }] });
    const structured = await callTool({ server: ids.ev, tool: 'get-structured-content', arguments: { location: 'New York' } });
    assert.equal(structured.status, 200, structured.text);
    assert.ok(structured.json.structuredContent, 'structuredContent passes through');
    const overHttp = await callTool({ server: 'ev-http', tool: 'get-sum', arguments: { a: 20, b: 22 } });
    assert.equal(overHttp.status, 200, overHttp.text);
    assert.match(overHttp.json.content[0].text, /42/);
    // A tool error is a result, not an HTTP failure.
    const toolError = await callTool({ server: 'ev', tool: 'no-such-tool' });
    assert.equal(toolError.status, 200, toolError.text);
    assert.equal(toolError.json.isError, true);
  });

  test('a limited virtual key sees and calls only what its policy allows; refusals name the server or tool', async () => {
    const listed = await tools('', limited.key);
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.json.data.map((t: any) => `${t.server}/${t.name}`).sort(), ['ev/echo', 'ev/get-sum']);

    const otherServer = await tools('?server=ev-log', limited.key);
    assert.equal(otherServer.status, 403);
    assert.match(otherServer.json.error.message, /MCP server "ev-log"/);

    const ok = await callTool({ server: 'ev', tool: 'get-sum', arguments: { a: 2, b: 40 } }, limited.key);
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.json.content[0].text, /42/);

    const deniedServer = await callTool({ server: 'ev-log', tool: 'echo', arguments: { message: 'x' } }, limited.key);
    assert.equal(deniedServer.status, 403);
    assert.equal(deniedServer.json.error.code, 'forbidden');
    assert.match(deniedServer.json.error.message, /MCP server "ev-log"/);
    const deniedTool = await callTool({ server: 'ev', tool: 'get-env' }, limited.key);
    assert.equal(deniedTool.status, 403);
    assert.match(deniedTool.json.error.message, /tool "get-env" of MCP server "ev"/);

    const unknown = await callTool({ server: 'nope', tool: 'echo' }, limited.key);
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error.message, /"nope"/);

    const noKey = await call(`${gw.url}/api/mcp/tools`);
    assert.equal(noKey.status, 401);
    // The rest of /api stays admin-only.
    assert.equal((await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(limited.key) })).status, 403);
  });

  test('a malformed body is a 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ tool: 'echo' }, 'server'],
      [{ server: 'ev' }, 'tool'],
      [{ server: 'ev', tool: 'echo', arguments: 'message=hi' }, 'arguments'],
      [{ server: 'ev', tool: 'echo', colour: 'red' }, 'colour'],
      [{ server: 42, tool: 'echo' }, 'server'],
    ];
    for (const [body, param] of cases) {
      const res = await callTool(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.error.param, param, JSON.stringify(body));
    }
  });

  test('upstream failures map to typed errors: unreachable 502, timeout 504, both naming the server', async () => {
    const broken = await callTool({ server: 'broken', tool: 'echo' });
    assert.equal(broken.status, 502, broken.text);
    assert.equal(broken.json.error.code, 'mcp_upstream_unavailable');
    assert.match(broken.json.error.message, /MCP server "broken"/);

    await register(stdio('ev-slow', { timeout_ms: 300 }));
    const slow = await callTool({ server: 'ev-slow', tool: 'trigger-long-running-operation', arguments: { duration: 3, steps: 3 } });
    assert.equal(slow.status, 504, slow.text);
    assert.equal(slow.json.error.code, 'mcp_upstream_timeout');
    assert.match(slow.json.error.message, /MCP server "ev-slow" timed out after 300 ms/);
  });

  test('a server renamed keeps answering calls by id; the old alias is gone', async () => {
    await register(stdio('ev-rename'));
    const before = await callTool({ server: 'ev-rename', tool: 'echo', arguments: { message: 'before' } });
    assert.equal(before.status, 200, before.text);
    const renamed = await call(`${gw.url}/api/mcp/servers/ev-rename`, { method: 'PATCH', headers: authHeaders(), body: { alias: 'ev-renamed' } });
    assert.equal(renamed.status, 200, renamed.text);
    const byId = await callTool({ server: ids['ev-rename'], tool: 'echo', arguments: { message: 'by id' } });
    assert.equal(byId.status, 200, byId.text);
    assert.equal(byId.json.content[0].text, 'Echo: by id');
    assert.equal((await callTool({ server: 'ev-rename', tool: 'echo', arguments: { message: 'x' } })).status, 404);
    const listed = await tools(`?server=${ids['ev-rename']}`);
    assert.ok(listed.json.data.every((t: any) => t.server === 'ev-renamed' && t.prefixed_name.startsWith('ev-renamed_')));
  });

  test('every call, REST and /mcp, is an mcp.call spend row with server id, bytes in and out, and the trace id', async () => {
    const args = { message: 'count my bytes ✓' };
    const rest = await callTool({ server: 'ev', tool: 'echo', arguments: args }, limited.key, { 'x-request-id': 'trace-rest-0001' });
    assert.equal(rest.status, 200);
    assert.equal(rest.headers['x-request-id'], 'trace-rest-0001');
    const denied = await callTool({ server: 'ev-log', tool: 'echo', arguments: args }, limited.key, { 'x-request-id': 'trace-denied-0001' });
    assert.equal(denied.status, 403);

    const client = new Client({ name: 'ops-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${limited.key}`, 'x-request-id': 'trace-mcp-0001' } } }));
    const viaMcp = await client.callTool({ name: 'ev_echo', arguments: { message: 'via mcp' } });
    await client.close();

    const rows = await spendRows();
    const restRow = rows.find((r) => r.trace_id === 'trace-rest-0001');
    assert.ok(restRow, 'the REST call has a row');
    assert.equal(restRow.key_id, limited.id);
    assert.equal(restRow.provider, 'ev');
    assert.equal(restRow.model, 'echo');
    assert.equal(restRow.status, 200);
    assert.equal(restRow.mcp.server_id, ids.ev);
    assert.equal(restRow.mcp.bytes_in, jsonBytes(args));
    assert.equal(restRow.mcp.bytes_out, jsonBytes(rest.json));

    const deniedRow = rows.find((r) => r.trace_id === 'trace-denied-0001');
    assert.ok(deniedRow, 'the refused call has a row');
    assert.equal(deniedRow.status, 403);
    assert.equal(deniedRow.error_code, 'mcp_tool_denied');
    assert.equal(deniedRow.mcp.bytes_out, 0);

    const mcpRow = rows.find((r) => r.trace_id === 'trace-mcp-0001' && r.model === 'ev_echo');
    assert.ok(mcpRow, 'the /mcp call has a row with the request id of its POST');
    assert.equal(mcpRow.upstream_model, 'echo');
    assert.equal(mcpRow.mcp.server_id, ids.ev);
    assert.equal(mcpRow.mcp.bytes_in, jsonBytes({ message: 'via mcp' }));
    assert.equal(mcpRow.mcp.bytes_out, jsonBytes(viaMcp));

    const timeoutRow = rows.find((r) => r.provider === 'ev-slow');
    assert.ok(timeoutRow);
    assert.equal(timeoutRow.status, 504);
    assert.equal(timeoutRow.error_code, 'mcp_upstream_timeout');
  });

  test('metrics: calls by server and status, latency, bytes, connection, restarts and tool count, labelled by alias only', async () => {
    const before = await metrics();
    const value = (text: string, series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    };
    const args = { message: 'metrics' };
    const res = await callTool({ server: 'ev', tool: 'echo', arguments: args });
    assert.equal(res.status, 200);
    await callTool({ server: 'made-up-by-a-client', tool: 'echo' });
    const text = await metrics();

    assert.equal(value(text, 'smartflow_mcp_tool_calls_total{server="ev",status="ok"}') - value(before, 'smartflow_mcp_tool_calls_total{server="ev",status="ok"}'), 1);
    assert.equal(value(text, 'smartflow_mcp_tool_call_bytes_total{server="ev",direction="in"}') - value(before, 'smartflow_mcp_tool_call_bytes_total{server="ev",direction="in"}'), jsonBytes(args));
    assert.equal(value(text, 'smartflow_mcp_tool_call_bytes_total{server="ev",direction="out"}') - value(before, 'smartflow_mcp_tool_call_bytes_total{server="ev",direction="out"}'), jsonBytes(res.json));
    assert.equal(value(text, 'smartflow_mcp_tool_call_duration_seconds_count{server="ev"}') - value(before, 'smartflow_mcp_tool_call_duration_seconds_count{server="ev"}'), 1);
    assert.ok(value(text, 'smartflow_mcp_tool_calls_total{server="ev-log",status="denied"}') >= 1);
    assert.ok(value(text, 'smartflow_mcp_tool_calls_total{server="ev-slow",status="timeout"}') >= 1);
    assert.ok(value(text, 'smartflow_mcp_tool_calls_total{server="unknown",status="not_found"}') >= 1);
    assert.ok(!text.includes('made-up-by-a-client'), 'a client-chosen server name never becomes a label');
    assert.ok(!text.includes(limited.id), 'no key in any label');

    assert.equal(value(text, 'smartflow_mcp_upstream_connected{server="ev"}'), 1);
    assert.equal(value(text, 'smartflow_mcp_upstream_connected{server="broken"}'), 0);
    assert.equal(value(text, 'smartflow_mcp_upstream_connected{server="ev-http"}'), 1);
    assert.ok(value(text, 'smartflow_mcp_tool_calls_total{server="ev-http",status="ok"}') >= 1);
    assert.equal(value(text, 'smartflow_mcp_upstream_restarts_total{server="ev"}'), 0);
    const evTools = (await tools('?server=ev')).json.data.length;
    assert.equal(value(text, 'smartflow_mcp_upstream_tools{server="ev"}'), evTools);

    // A restart of the child shows in the counter.
    const pid = gw.gateway.mcpUpstreams.pid('ev')!;
    process.kill(pid, 'SIGKILL');
    await until('ev restarted', async () => (await health('ev')).restarts === 1 && (await health('ev')).connected);
    assert.equal(value(await metrics(), 'smartflow_mcp_upstream_restarts_total{server="ev"}'), 1);
  });

  test('payload logging is off by default: no argument or result reaches the log', async () => {
    const marker = 'argument-marker-7d1c';
    const res = await callTool({ server: 'ev', tool: 'echo', arguments: { message: marker } });
    assert.equal(res.status, 200);
    await sleep(50);
    assert.deepEqual(gw.logs.lines.filter((l) => l.includes(marker)), [], 'the argument is absent from the log');
    assert.deepEqual(gw.logs.lines.filter((l) => l.includes('MCP tool call payload') && l.includes('"mcp_server":"ev"')), []);
  });

  test('log_payloads: arguments and results are logged with secrets redacted', async () => {
    const marker = 'payload-marker-42aa';
    const secretKey = 'sk-sf-0123456789abcdefSECRET';
    const args = { message: `${marker} uses ${secretKey}`, api_key: 'plain-value-under-a-secret-key', nested: { Authorization: 'Basic dXNlcjpwYXNz', note: 'Bearer abc.def.ghi' } };
    const res = await callTool({ server: 'ev-log', tool: 'echo', arguments: args }, MASTER_KEY, { 'x-request-id': 'trace-payload-01' });
    assert.equal(res.status, 200, res.text);
    const line = await until('the payload log line', () => gw.logs.lines.find((l) => l.includes('MCP tool call payload') && l.includes('trace-payload-01')));
    const entry = JSON.parse(line);
    assert.equal(entry.mcp_server, 'ev-log');
    assert.equal(entry.tool, 'echo');
    const logged = JSON.parse(entry.arguments);
    assert.equal(logged.message, `${marker} uses [REDACTED]`);
    assert.equal(logged.api_key, '[REDACTED]');
    assert.equal(logged.nested.Authorization, '[REDACTED]');
    assert.equal(logged.nested.note, '[REDACTED]');
    // The result echoes the key: redacted there too.
    assert.match(entry.result, new RegExp(`Echo: ${marker} uses \\[REDACTED\\]`));
    for (const secret of [secretKey, 'plain-value-under-a-secret-key', 'dXNlcjpwYXNz', 'abc.def.ghi']) assert.ok(!gw.logs.text.includes(secret), `${secret} is not in the log`);

    // Big payloads are capped.
    const big = await callTool({ server: 'ev-log', tool: 'echo', arguments: { message: 'x'.repeat(50_000) } }, MASTER_KEY, { 'x-request-id': 'trace-payload-02' });
    assert.equal(big.status, 200);
    const bigLine = await until('the capped payload line', () => gw.logs.lines.find((l) => l.includes('MCP tool call payload') && l.includes('trace-payload-02')));
    const bigEntry = JSON.parse(bigLine);
    assert.ok(Buffer.byteLength(bigEntry.arguments) < 9000, 'arguments capped');
    assert.match(bigEntry.arguments, /more bytes\]$/);
  });

  test('start: eager connects when the server is registered, before any call', async () => {
    const created = await register(stdio('ev-eager', { start: 'eager' }));
    assert.equal(created.start, 'eager');
    const h = await until('ev-eager connected', async () => {
      const current = await health('ev-eager');
      return current.connected && current.tool_count !== null ? current : undefined;
    });
    assert.equal(h.calls, 0);
    assert.ok(h.tool_count > 0, 'the tool list is warmed up too');
    assert.ok(alive(gw.gateway.mcpUpstreams.pid('ev-eager')!));
    // A lazy server stays idle until used.
    await register(stdio('ev-lazy'));
    await sleep(300);
    assert.equal((await health('ev-lazy')).state, 'idle');
  });

  test('idle_timeout_ms stops an unused STDIO child; the next call starts it again', async () => {
    const created = await register(stdio('ev-idle', { idle_timeout_ms: 1000 }));
    assert.equal(created.idle_timeout_ms, 1000);
    assert.ok((await tools('?server=ev-idle')).json.data.length > 0);
    const first = await callTool({ server: 'ev-idle', tool: 'echo', arguments: { message: 'one' } });
    assert.equal(first.status, 200);
    const pid = gw.gateway.mcpUpstreams.pid('ev-idle');
    assert.ok(pid !== null && alive(pid));
    await until('ev-idle stopped', async () => (await health('ev-idle')).state === 'idle' && !alive(pid));
    const stopped = await health('ev-idle');
    assert.equal(stopped.connected, false);
    // Listing does not wake it: the list it gave still holds.
    const listed = await tools('?server=ev-idle');
    assert.ok(listed.json.data.length > 0);
    assert.equal((await health('ev-idle')).state, 'idle');

    const second = await callTool({ server: 'ev-idle', tool: 'echo', arguments: { message: 'two' } });
    assert.equal(second.status, 200, second.text);
    assert.equal(second.json.content[0].text, 'Echo: two');
    const newPid = gw.gateway.mcpUpstreams.pid('ev-idle');
    assert.ok(newPid !== null && newPid !== pid && alive(newPid));
    const woken = await health('ev-idle');
    assert.equal(woken.state, 'connected');
    assert.equal(woken.restarts, 0, 'an idle stop is not a failure');
  });

  test('the new server fields are validated and can be changed or cleared with PATCH', async () => {
    const bad = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: stdio('ev-bad', { start: 'sometimes' }) });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'start');
    const badIdle = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: stdio('ev-bad', { idle_timeout_ms: 5 }) });
    assert.equal(badIdle.status, 400);
    assert.equal(badIdle.json.error.param, 'idle_timeout_ms');
    const patched = await call(`${gw.url}/api/mcp/servers/ev`, { method: 'PATCH', headers: authHeaders(), body: { log_payloads: true, idle_timeout_ms: 60_000 } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.log_payloads, true);
    assert.equal(patched.json.idle_timeout_ms, 60_000);
    const cleared = await call(`${gw.url}/api/mcp/servers/ev`, { method: 'PATCH', headers: authHeaders(), body: { log_payloads: null, idle_timeout_ms: null } });
    assert.equal(cleared.json.log_payloads, false);
    assert.equal(cleared.json.idle_timeout_ms, null);
    assert.equal(cleared.json.start, 'lazy');
  });
});

test('start: eager servers in smartflow.yaml connect when the gateway starts, and stop with it', async (t) => {
  const gw = await startTestGateway({ mcp_servers: [stdio('cfg-eager', { start: 'eager' }), stdio('cfg-lazy')] });
  t.after(() => gw.close());
  const pool = gw.gateway.mcpUpstreams;
  await until('cfg-eager connected', () => pool.health('cfg-eager').connected && pool.health('cfg-eager').tool_count !== null);
  assert.equal(pool.health('cfg-lazy').state, 'idle');
  const pid = pool.pid('cfg-eager')!;
  assert.ok(alive(pid));
  await gw.close();
  await until('the eager child gone', () => !alive(pid));
});
