import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { EVERYTHING, FILESYSTEM, freePort, startEverything, stopChild as stop, textOf, until } from '../helpers/mcp.js';

const PROVIDER_KEY = 'sk-provider-key-must-not-leak-4e1f';

describe('MCP upstream connections (real servers over stdio, sse and streamable http)', () => {
  let gw: TestGateway;
  let sse: ChildProcess;
  let http: ChildProcess;
  let ssePort: number;
  let dir: string;
  const savedKey = process.env.OPENAI_API_KEY;

  before(async () => {
    // The gateway's own environment holds provider keys: the stdio children must not inherit them.
    process.env.OPENAI_API_KEY = PROVIDER_KEY;
    dir = await mkdtemp(join(tmpdir(), 'sf-mcp-fs-'));
    await writeFile(join(dir, 'hello.txt'), 'hello from the filesystem server\n');
    ssePort = await freePort();
    const httpPort = await freePort();
    [sse, http] = await Promise.all([startEverything('sse', ssePort), startEverything('streamableHttp', httpPort)]);
    gw = await startTestGateway({ logging: { level: 'info' } });
    const register = async (body: Record<string, unknown>) => {
      const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body });
      assert.equal(res.status, 201, res.text);
    };
    await register({ alias: 'ev-stdio', command: process.execPath, args: [EVERYTHING, 'stdio'], env: { SF_CHILD_MARKER: 'marker-91' } });
    await register({ alias: 'ev-sse', transport: 'sse', url: `http://127.0.0.1:${ssePort}/sse` });
    await register({ alias: 'ev-http', transport: 'streamable-http', url: `http://127.0.0.1:${httpPort}/mcp` });
    await register({ alias: 'ev-auto', transport: 'auto', url: `http://127.0.0.1:${ssePort}/sse` });
    await register({ alias: 'ev-limited', transport: 'streamable-http', url: `http://127.0.0.1:${httpPort}/mcp`, allowed_tools: ['echo', 'get-*'], denied_tools: ['get-env'] });
    await register({ alias: 'ev-slow', transport: 'streamable-http', url: `http://127.0.0.1:${httpPort}/mcp`, timeout_ms: 300 });
    await register({ alias: 'files', command: process.execPath, args: [FILESYSTEM, dir] });
  });

  after(async () => {
    await gw?.close();
    await Promise.all([sse, http].filter(Boolean).map(stop));
    if (dir) await rm(dir, { recursive: true, force: true });
    if (savedKey === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = savedKey;
  });

  const pool = () => gw.gateway.mcpUpstreams;
  const health = async (ref: string) => {
    const res = await call(`${gw.url}/api/mcp/servers/${ref}/health`, { headers: authHeaders() });
    assert.equal(res.status, 200, res.text);
    return res.json;
  };

  test('lists tools and calls echo on every transport; auto falls back to sse; filesystem reads a file; unknown result fields pass through', async () => {
    for (const alias of ['ev-stdio', 'ev-sse', 'ev-http', 'ev-auto']) {
      const { tools, stale } = await pool().listTools(alias);
      const names = tools.map((t) => t.name);
      assert.equal(stale, false);
      for (const name of ['echo', 'get-sum', 'get-env']) assert.ok(names.includes(name), `${alias} lists ${name}: ${names.join(',')}`);
      const result = await pool().callTool(alias, 'echo', { message: `hi ${alias}` });
      assert.equal(textOf(result), `Echo: hi ${alias}`);
    }
    assert.equal((await health('ev-auto')).connected_transport, 'sse');
    assert.equal((await health('ev-http')).connected_transport, 'streamable-http');

    const structured = await pool().callTool('ev-http', 'get-structured-content', { location: 'New York' });
    assert.ok(structured.structuredContent, JSON.stringify(structured));

    const fsTools = (await pool().listTools('files')).tools.map((t) => t.name);
    assert.ok(fsTools.includes('read_text_file'), fsTools.join(','));
    const read = await pool().callTool('files', 'read_text_file', { path: join(dir, 'hello.txt') });
    assert.match(textOf(read), /hello from the filesystem server/);

    const h = await health('ev-stdio');
    assert.equal(h.state, 'connected');
    assert.equal(h.connected, true);
    assert.equal(h.restarts, 0);
    assert.ok(h.tool_count >= 12, JSON.stringify(h));
    assert.equal(typeof h.latency_p50_ms, 'number');
    assert.equal(h.calls, 1);
  });

  test('a stdio child sees its own env and the minimal safe one, never the gateway provider keys', async () => {
    const env = JSON.parse(textOf(await pool().callTool('ev-stdio', 'get-env', {}))) as Record<string, string>;
    assert.equal(env.SF_CHILD_MARKER, 'marker-91');
    assert.ok(env.PATH);
    assert.equal(env.OPENAI_API_KEY, undefined);
    const pid = pool().pid('ev-stdio');
    assert.ok(pid);
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    assert.ok(!environ.includes(PROVIDER_KEY));
    assert.ok(!environ.includes('OPENAI_API_KEY'));
  });

  test('allowed_tools and denied_tools apply to lists and calls', async () => {
    const names = (await pool().listTools('ev-limited')).tools.map((t) => t.name).sort();
    assert.ok(names.includes('echo') && names.includes('get-sum'), names.join(','));
    assert.ok(!names.includes('get-env'), 'denied wins over allowed');
    assert.ok(!names.includes('trigger-long-running-operation'), 'not in allowed_tools');
    await assert.rejects(pool().callTool('ev-limited', 'get-env', {}), (err: unknown) => err instanceof McpError && /get-env/.test(err.message) && /ev-limited/.test(err.message));
    assert.equal(textOf(await pool().callTool('ev-limited', 'get-sum', { a: 2, b: 3 })), 'The sum of 2 and 3 is 5.');
  });

  test('a slow call fails after the server timeout with an MCP error naming the server; others are not slowed', async () => {
    const started = Date.now();
    const slow = pool().callTool('ev-slow', 'trigger-long-running-operation', { duration: 5, steps: 5 });
    const fast = await pool().callTool('ev-http', 'echo', { message: 'fast' });
    assert.equal(textOf(fast), 'Echo: fast');
    await assert.rejects(slow, (err: unknown) => err instanceof McpError && /"ev-slow" timed out after 300 ms/.test(err.message));
    assert.ok(Date.now() - started < 3000);
    assert.match((await health('ev-slow')).last_error, /timed out/i);
  });

  test('a killed stdio process is restarted; the next call works; the other servers never noticed', async () => {
    const pid = pool().pid('ev-stdio')!;
    const before = await Promise.all(['ev-sse', 'ev-http', 'files'].map(health));
    process.kill(pid, 'SIGKILL');
    await until('the loss to be noticed', async () => (await health('ev-stdio')).connected === false || undefined);
    assert.equal(textOf(await pool().callTool('ev-stdio', 'echo', { message: 'again' })), 'Echo: again');
    const h = await health('ev-stdio');
    assert.equal(h.restarts, 1);
    assert.equal(h.connected, true);
    assert.notEqual(pool().pid('ev-stdio'), pid);
    const afterKill = await Promise.all(['ev-sse', 'ev-http', 'files'].map(health));
    for (const [i, h2] of afterKill.entries()) {
      assert.equal(h2.restarts, before[i].restarts);
      assert.equal(h2.connected, true);
    }
  });

  test('a stopped sse server: others keep working, its list comes from the last good one, calls fail naming it, and it reconnects when it returns', async () => {
    const toolCount = (await pool().listTools('ev-sse')).tools.length;
    await stop(sse);
    await until('the sse loss to be noticed', async () => (await health('ev-sse')).connected === false || undefined);
    const listed = await pool().listTools('ev-sse');
    assert.equal(listed.stale, true);
    assert.equal(listed.tools.length, toolCount);
    await assert.rejects(pool().callTool('ev-sse', 'echo', { message: 'x' }), (err: unknown) => err instanceof McpError && /MCP server "ev-sse"/.test(err.message));
    for (const alias of ['ev-stdio', 'ev-http', 'files']) assert.ok((await pool().listTools(alias)).tools.length > 0);
    assert.equal(textOf(await pool().callTool('ev-http', 'echo', { message: 'still' })), 'Echo: still');
    const h = await health('ev-sse');
    assert.equal(h.state, 'reconnecting');
    assert.ok(h.last_error);

    sse = await startEverything('sse', ssePort);
    const back = await until('ev-sse to come back', async () => textOf(await pool().callTool('ev-sse', 'echo', { message: 'back' })));
    assert.equal(back, 'Echo: back');
    assert.equal((await health('ev-sse')).restarts, 1);
  });

  test('a restarted streamable http server: the next call re-initializes a session and succeeds', async () => {
    assert.equal(textOf(await pool().callTool('ev-http', 'echo', { message: 'before' })), 'Echo: before');
    const port = Number(new URL((await call(`${gw.url}/api/mcp/servers/ev-http`, { headers: authHeaders() })).json.url).port);
    await stop(http);
    http = await startEverything('streamableHttp', port);
    assert.equal(textOf(await pool().callTool('ev-http', 'echo', { message: 'after' })), 'Echo: after');
  });

  test('a changed definition reconnects with it; errors in health carry no secrets', async () => {
    const patched = await call(`${gw.url}/api/mcp/servers/ev-limited`, { method: 'PATCH', headers: authHeaders(), body: { denied_tools: ['get-sum'] } });
    assert.equal(patched.status, 200, patched.text);
    const names = (await pool().listTools('ev-limited')).tools.map((t) => t.name);
    assert.ok(names.includes('get-env') && !names.includes('get-sum'), names.join(','));

    const deadPort = await freePort();
    const created = await call(`${gw.url}/api/mcp/servers`, {
      headers: authHeaders(),
      body: { alias: 'dead', transport: 'auto', url: `http://127.0.0.1:${deadPort}/mcp?token=query-secret-77`, headers: { authorization: 'Bearer header-secret-88' }, timeout_ms: 1000 },
    });
    assert.equal(created.status, 201, created.text);
    await assert.rejects(pool().listTools('dead'), (err: unknown) => err instanceof McpError && /MCP server "dead"/.test(err.message) && !/secret/.test(err.message));
    const h = await health('dead');
    assert.equal(h.connected, false);
    assert.ok(h.last_error);
    assert.doesNotMatch(JSON.stringify(h), /query-secret|header-secret/);
    assert.doesNotMatch(gw.logs.text, /query-secret|header-secret/);
  });

  test('stdio stderr reaches the log tagged with the alias', () => {
    const lines = gw.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'mcp server stderr');
    assert.ok(lines.some((l) => l.mcp_server === 'ev-stdio'), 'a stderr line tagged ev-stdio');
  });

  test('removing a server closes its connection (the stdio child exits); health of an unknown server is 404', async () => {
    const pid = pool().pid('files')!;
    assert.ok(pid);
    const res = await call(`${gw.url}/api/mcp/servers/files`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(res.status, 200, res.text);
    await until('the filesystem child to exit', () => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true;
      }
    });
    assert.equal((await call(`${gw.url}/api/mcp/servers/files/health`, { headers: authHeaders() })).status, 404);
  });

  test('gateway shutdown ends the stdio children', async () => {
    const pid = pool().pid('ev-stdio')!;
    assert.ok(pid);
    await gw.close();
    assert.throws(() => process.kill(pid, 0));
  });
});
