import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { startFeatureRecordingMcpServer, type FeatureRecordingMcpServer, type RecordedCall } from '../helpers/feature-recording-mcp-server.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const HS = 'fwd-hs-secret-7a1c';
const SS = 'fwd-ss-secret-3b2d';
const HS_REST = 'fwd-hs-rest-5e6f';
const HS_SSE_ENDPOINT = 'fwd-hs-legacy-9d0a';
const HS_LOOP = 'fwd-hs-loop-1c2b';
const HS_A2A = 'fwd-hs-a2a-4d8e';
const METHODS = ['tools/list', 'tools/call', 'resources/read', 'prompts/get'];
const ALL_VALUES = [HS, SS, HS_REST, HS_SSE_ENDPOINT, HS_LOOP, HS_A2A, 'caller-static-value', 'caller-team'];

const authOf = (c: RecordedCall) => c.headers['authorization'];

async function mcpClient(url: string, headers: Record<string, string>, legacy = false): Promise<Client> {
  const client = new Client({ name: 'forwarding-test', version: '1.0.0' });
  const requestInit = { headers: { authorization: `Bearer ${MASTER_KEY}`, ...headers } };
  await client.connect(legacy ? new SSEClientTransport(new URL(`${url}/sse`), { requestInit }) : new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit }));
  return client;
}

describe('MCP auth header forwarding: x-mcp-{alias}-{header}', () => {
  let hs: FeatureRecordingMcpServer;
  let ss: FeatureRecordingMcpServer;
  let over: FeatureRecordingMcpServer;
  let fake: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    hs = await startFeatureRecordingMcpServer('hs', 'streamable-http');
    ss = await startFeatureRecordingMcpServer('ss', 'sse');
    over = await startFeatureRecordingMcpServer('over', 'streamable-http');
    fake = await startFakeOpenAI();
    gw = await startTestGateway({
      // A permissive pattern on purpose: x-mcp-* must still never reach a provider.
      providers: { openai: { type: 'openai', base_url: `${fake.url}/v1`, api_key: 'sk-upstream-openai-secret', forward_headers: ['x-*'] } },
      models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
      mcp_servers: [
        { alias: 'hs', transport: 'streamable-http', url: hs.url, headers: { 'x-static': 'static-value' } },
        { alias: 'ss', transport: 'sse', url: ss.url },
        { alias: 'local', command: process.execPath, args: [EVERYTHING, 'stdio'] },
        { alias: 'over', transport: 'streamable-http', url: over.url, headers: { 'x-team': 'static-team' }, allow_header_override: true },
      ],
    });
  });
  after(async () => {
    await gw?.close();
    await Promise.all([hs?.close(), ss?.close(), over?.close(), fake?.close()]);
  });

  test('/mcp: each server gets only its own header on tools/list, tools/call, resources/read and prompts/get (Streamable HTTP and SSE upstreams)', async () => {
    const client = await mcpClient(gw.url, { 'x-mcp-hs-authorization': `Bearer ${HS}`, 'x-mcp-ss-authorization': `Bearer ${SS}`, 'x-mcp-hs-x-static': 'caller-static-value' });
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('hs_whoami') && names.includes('ss_whoami'), names.join());
      for (const alias of ['hs', 'ss']) {
        const called = await client.callTool({ name: `${alias}_whoami`, arguments: {} });
        assert.deepEqual(called.content, [{ type: 'text', text: `I am ${alias}` }]);
        const read = await client.readResource({ uri: `smartflow://${alias}/test://note` });
        assert.equal((read.contents[0] as { text: string }).text, `note of ${alias}`);
        const prompt = await client.getPrompt({ name: `${alias}_greet` });
        assert.equal((prompt.messages[0]!.content as { text: string }).text, `greetings from ${alias}`);
      }
    } finally {
      await client.close();
    }
    for (const [server, token, other] of [
      [hs, HS, SS],
      [ss, SS, HS],
    ] as const) {
      for (const method of METHODS) {
        const seen = server.calls.filter((c) => c.method === method && authOf(c) === `Bearer ${token}`);
        assert.ok(seen.length > 0, `${server.url} got its forwarded header on ${method}`);
      }
      for (const c of server.calls) {
        assert.notEqual(authOf(c), `Bearer ${other}`, 'a header went to the wrong server');
        assert.ok(!Object.keys(c.headers).some((h) => h.startsWith('x-mcp-')), 'x-mcp-* headers are never passed on as such');
      }
    }
    // The SSE stream's GET carries it too.
    assert.ok(ss.calls.some((c) => c.method === 'GET' && authOf(c) === `Bearer ${SS}`));
    // A static header wins over a forwarded one of the same name (the server does not allow overriding).
    for (const c of hs.calls) assert.equal(c.headers['x-static'], 'static-value');
  });

  test('the legacy /sse endpoint forwards too', async () => {
    const client = await mcpClient(gw.url, { 'x-mcp-hs-authorization': `Bearer ${HS_SSE_ENDPOINT}` }, true);
    try {
      await client.callTool({ name: 'hs_whoami', arguments: {} });
    } finally {
      await client.close();
    }
    assert.ok(hs.calls.some((c) => c.method === 'tools/call' && authOf(c) === `Bearer ${HS_SSE_ENDPOINT}`));
  });

  test('REST tool API: GET /api/mcp/tools and POST /api/mcp/tools/call forward', async () => {
    const headers = { ...authHeaders(), 'x-mcp-hs-authorization': `Bearer ${HS_REST}` };
    const listed = await call(`${gw.url}/api/mcp/tools?server=hs`, { headers });
    assert.equal(listed.status, 200, listed.text);
    const called = await call(`${gw.url}/api/mcp/tools/call`, { headers, body: { server: 'hs', tool: 'whoami', arguments: {} } });
    assert.equal(called.status, 200, called.text);
    for (const method of ['tools/list', 'tools/call']) assert.ok(hs.calls.some((c) => c.method === method && authOf(c) === `Bearer ${HS_REST}`), method);
  });

  test('allow_header_override lets a forwarded header replace a static one', async () => {
    const res = await call(`${gw.url}/api/mcp/tools/call`, { headers: { ...authHeaders(), 'x-mcp-over-x-team': 'caller-team' }, body: { server: 'over', tool: 'whoami', arguments: {} } });
    assert.equal(res.status, 200, res.text);
    assert.ok(over.calls.some((c) => c.method === 'tools/call' && c.headers['x-team'] === 'caller-team'));
  });

  test('a stdio server: a clear 400 saying headers cannot apply', async () => {
    const res = await call(`${gw.url}/api/mcp/tools/call`, { headers: { ...authHeaders(), 'x-mcp-local-authorization': 'Bearer nope' }, body: { server: 'local', tool: 'echo', arguments: { message: 'x' } } });
    assert.equal(res.status, 400, res.text);
    assert.match(res.json.error.message, /runs over stdio: forwarded x-mcp-local-\* headers cannot apply/);
  });

  test('a header for no registered alias is refused with 400 on any route; a transport header too', async () => {
    const unknown = await call(`${gw.url}/api/mcp/tools`, { headers: { ...authHeaders(), 'x-mcp-nosuch-authorization': 'Bearer zzz' } });
    assert.equal(unknown.status, 400, unknown.text);
    assert.equal(unknown.json.error.param, 'x-mcp-nosuch-authorization');
    assert.doesNotMatch(unknown.text, /zzz/);
    const chat = await call(`${gw.url}/v1/chat/completions`, { headers: { ...authHeaders(), 'x-mcp-nosuch-token': 'zzz' }, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(chat.status, 400, chat.text);
    const framing = await call(`${gw.url}/api/mcp/tools`, { headers: { ...authHeaders(), 'x-mcp-hs-content-length': '5' } });
    assert.equal(framing.status, 400, framing.text);
  });

  test('chat completions with MCP tools: the loop forwards to the server; the LLM provider never sees x-mcp-* or a forwarded value', async () => {
    fake.reset();
    const res = await call(`${gw.url}/v1/chat/completions`, {
      headers: { ...authHeaders(), 'x-fake-tool': 'hs_whoami', 'x-fake-tool-args': '{}', 'x-mcp-hs-authorization': `Bearer ${HS_LOOP}` },
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'who?' }], tools: [{ type: 'mcp', server: 'hs', allowed_tools: ['whoami'] }] },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(fake.requests.length, 2, 'the loop made two LLM steps');
    assert.ok(hs.calls.some((c) => c.method === 'tools/call' && authOf(c) === `Bearer ${HS_LOOP}`));
    for (const r of fake.requests) {
      assert.ok(!Object.keys(r.headers).some((h) => h.toLowerCase().startsWith('x-mcp-')), 'an x-mcp-* header reached the provider');
      const raw = JSON.stringify(r);
      for (const v of ALL_VALUES) assert.ok(!raw.includes(v), `a forwarded value reached the provider`);
    }
  });

  test('A2A task: a hosted agent\'s tool call carries the caller\'s forwarded header; the LLM provider never sees it; an unknown alias is 400', async () => {
    const agent = await call(`${gw.url}/api/a2a/agents`, { headers: authHeaders(), body: { id: 'fwd-agent', name: 'Forwarding', description: 'Calls hs', model: 'gpt-4o-mini', system_prompt: 'You help.', mcp: [{ server: 'hs', allowed_tools: ['whoami'] }], max_steps: 3 } });
    assert.equal(agent.status, 201, agent.text);
    fake.reset();
    const before = hs.calls.length;
    const message = { kind: 'message', messageId: crypto.randomUUID(), role: 'user', parts: [{ kind: 'text', text: 'who?' }] };
    const res = await call(`${gw.url}/a2a/fwd-agent`, {
      headers: { ...authHeaders(), 'x-fake-tool': 'hs_whoami', 'x-fake-tool-args': '{}', 'x-mcp-hs-authorization': `Bearer ${HS_A2A}` },
      body: { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message } },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.result.status.state, 'completed', res.text);
    assert.equal(res.json.result.artifacts[0].parts[0].text, 'Tool said: I am hs');
    const toolCalls = hs.calls.slice(before).filter((c) => c.method === 'tools/call');
    assert.ok(toolCalls.length >= 1 && toolCalls.every((c) => authOf(c) === `Bearer ${HS_A2A}`), 'the tool call carried the forwarded header');
    assert.equal(fake.requests.length, 2, 'the agent made two LLM steps');
    for (const r of fake.requests) {
      assert.ok(!Object.keys(r.headers).some((h) => h.toLowerCase().startsWith('x-mcp-')), 'an x-mcp-* header reached the provider');
      assert.ok(!JSON.stringify(r).includes(HS_A2A), 'a forwarded value reached the provider');
    }
    assert.doesNotMatch(gw.logs.text, new RegExp(HS_A2A));

    const unknown = await call(`${gw.url}/a2a/fwd-agent`, { headers: { ...authHeaders(), 'x-mcp-nosuch-authorization': `Bearer ${HS_A2A}` }, body: { jsonrpc: '2.0', id: 2, method: 'message/send', params: { message: { ...message, messageId: crypto.randomUUID() } } } });
    assert.equal(unknown.status, 400, unknown.text);
    assert.equal(unknown.json.error.param, 'x-mcp-nosuch-authorization');
  });

  test('x-smartflow-mcp-auth: for admins asking with x-smartflow-debug, how each server\'s auth resolved, without values', async () => {
    const headers = { ...authHeaders(), 'x-smartflow-debug': 'true', 'x-mcp-hs-authorization': `Bearer ${HS_REST}` };
    const res = await call(`${gw.url}/api/mcp/tools?server=hs`, { headers });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-smartflow-mcp-auth'], 'hs=forwarded+static; local=none; over=static; ss=none');
    const notAsked = await call(`${gw.url}/api/mcp/tools?server=hs`, { headers: { ...authHeaders(), 'x-mcp-hs-authorization': `Bearer ${HS_REST}` } });
    assert.equal(notAsked.headers['x-smartflow-mcp-auth'], undefined);
    const { key } = await createKey(gw.url, { mcp_servers: ['*'] });
    const notAdmin = await call(`${gw.url}/api/mcp/tools?server=hs`, { headers: { ...authHeaders(key), 'x-smartflow-debug': 'true' } });
    assert.equal(notAdmin.status, 200, notAdmin.text);
    assert.equal(notAdmin.headers['x-smartflow-mcp-auth'], undefined);
  });

  test('secrets scan: no forwarded value in any log line, spend row or health answer', async () => {
    await new Promise((r) => setTimeout(r, 100));
    const spend = await call(`${gw.url}/api/spend/logs?limit=500`, { headers: authHeaders() });
    const health = await call(`${gw.url}/api/mcp/servers/hs/health`, { headers: authHeaders() });
    for (const text of [gw.logs.text, spend.text, health.text]) for (const v of ALL_VALUES) assert.ok(!text.includes(v), `${v} leaked`);
  });
});
