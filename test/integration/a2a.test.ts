import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { A2AClient } from 'a2a-sdk-v03/client';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
/** The fake model asks for `ev_echo` first, then answers with what the tool said. */
const ECHO = { 'x-fake-tool': 'ev_echo', 'x-fake-tool-args': JSON.stringify({ message: 'hello agent' }) };
const SLOW = { 'x-fake-tool': 'ev_trigger-long-running-operation', 'x-fake-tool-args': JSON.stringify({ duration: 20, steps: 20 }) };

/** A fetch that sends the caller's key, and the fake model's steering headers. */
function keyedFetch(key: string, extra: Record<string, string> = {}): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${key}`);
    for (const [k, v] of Object.entries(extra)) headers.set(k, v);
    return fetch(input, { ...init, headers });
  };
}

async function rpc(url: string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string; headers: Record<string, unknown> }> {
  const res = await call(url, { headers: { ...authHeaders(key), ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return res;
}

/** The data lines of an SSE response, parsed. */
async function sse(url: string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<any[]> {
  const res = await fetch(url, { method: 'POST', headers: { ...authHeaders(key), ...headers }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const text = await res.text();
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
}

const userMessage = (text: string, extra: Record<string, unknown> = {}) => ({ kind: 'message', messageId: crypto.randomUUID(), role: 'user', parts: [{ kind: 'text', text }], ...extra });

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('A2A: hosted agents over JSON-RPC, with the MCP tool loop', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  let key: string;
  let agentUrl: string;

  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startTestGateway({
      providers: fakeProviders({ openai: fake.url }),
      models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
    });
    let res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'ev', command: process.execPath, args: [EVERYTHING, 'stdio'] } });
    assert.equal(res.status, 201, res.text);
    res = await call(`${gw.url}/api/a2a/agents`, {
      headers: authHeaders(),
      body: { id: 'helper', name: 'Helper', description: 'Echoes through MCP', model: 'gpt-4o-mini', system_prompt: 'You help.', mcp: [{ server: 'ev', allowed_tools: ['echo', 'trigger-long-running-operation'] }], skills: [{ id: 'echo', name: 'Echo', description: 'echoes', tags: ['demo'] }], max_steps: 4 },
    });
    assert.equal(res.status, 201, res.text);
    key = (await createKey(gw.url, { mcp_servers: ['ev'] })).key;
    agentUrl = `${gw.url}/a2a/helper`;
  });

  after(async () => {
    await gw?.close();
    await fake?.close();
  });

  beforeEach(() => fake.reset());

  test('agent profiles: CRUD with ETags, zod validation, 404', async () => {
    let res = await call(`${gw.url}/api/a2a/agents`, { headers: authHeaders(), body: { id: 'Bad Id', name: 'x', model: 'gpt-4o-mini' } });
    assert.equal(res.status, 400, res.text);
    res = await call(`${gw.url}/api/a2a/agents`, { headers: authHeaders(), body: { id: 'temp', name: 'Temp', model: 'gpt-4o-mini' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers['etag'], '"1"');
    assert.equal(res.json.max_steps, 8);
    res = await call(`${gw.url}/api/a2a/agents`, { headers: authHeaders(), body: { id: 'temp', name: 'Temp', model: 'gpt-4o-mini' } });
    assert.equal(res.status, 409, res.text);
    res = await call(`${gw.url}/api/a2a/agents/temp`, { method: 'PUT', headers: { ...authHeaders(), 'if-match': '"1"' }, body: { name: 'Temp 2', model: 'gpt-4o-mini' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.name, 'Temp 2');
    res = await call(`${gw.url}/api/a2a/agents/temp`, { method: 'PUT', headers: { ...authHeaders(), 'if-match': '"1"' }, body: { name: 'Temp 3', model: 'gpt-4o-mini' } });
    assert.equal(res.status, 409, 'a stale If-Match is refused');
    res = await call(`${gw.url}/api/a2a/agents`, { headers: authHeaders() });
    assert.deepEqual(res.json.data.map((a: any) => a.id), ['helper', 'temp']);
    res = await call(`${gw.url}/api/a2a/agents/temp`, { method: 'DELETE', headers: { authorization: authHeaders().authorization! } });
    assert.equal(res.status, 200, res.text);
    res = await call(`${gw.url}/api/a2a/agents/temp`, { headers: authHeaders() });
    assert.equal(res.status, 404);
    res = await call(`${gw.url}/api/a2a/agents`, { headers: authHeaders(key) });
    assert.equal(res.status, 403, 'admin only');
  });

  test('cards: gateway and per agent, 0.3 by default and 1.0 with A2A-Version', async () => {
    let res = await call(`${agentUrl}/.well-known/agent-card.json`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.url, agentUrl);
    assert.equal(res.json.protocolVersion, '0.3.0');
    assert.equal(res.json.capabilities.streaming, true);
    assert.equal(res.json.capabilities.stateTransitionHistory, true);
    assert.deepEqual(res.json.securitySchemes.bearer.scheme, 'bearer');
    assert.equal(res.json.skills[0].id, 'echo');
    res = await call(`${agentUrl}/.well-known/agent.json`, { headers: { 'a2a-version': '1.0' } });
    assert.equal(res.json.supportedInterfaces[0].url, agentUrl);
    assert.equal(res.json.supportedInterfaces[0].protocolVersion, '1.0');
    assert.equal(res.json.url, undefined);
    assert.ok(res.json.securitySchemes.bearer.httpAuthSecurityScheme);
    res = await call(`${gw.url}/.well-known/agent.json`);
    assert.equal(res.status, 200);
    assert.ok(res.json.skills.some((s: any) => s.id === 'helper'));
    res = await call(`${gw.url}/a2a/nobody/.well-known/agent-card.json`);
    assert.equal(res.status, 404);
  });

  test('0.3 client (a2a-sdk 0.3.14): message/send runs the tool loop and completes', async () => {
    const client = await A2AClient.fromCardUrl(`${agentUrl}/.well-known/agent-card.json`, { fetchImpl: keyedFetch(key, ECHO) });
    const res: any = await client.sendMessage({ message: userMessage('echo please') as any });
    assert.equal(res.error, undefined, JSON.stringify(res.error));
    const task = res.result;
    assert.equal(task.kind, 'task');
    assert.equal(task.status.state, 'completed', JSON.stringify(task.status));
    assert.equal(task.artifacts[0].parts[0].text, 'Tool said: Echo: hello agent');
    assert.equal(task.history.at(-1).role, 'agent');
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[0]!.body.messages[0].content, 'You help.');
    assert.equal(fake.requests[0]!.body.tools[0].function.name, 'ev_echo');

    const got: any = await client.getTask({ id: task.id });
    assert.equal(got.result.status.state, 'completed');
  });

  test('0.3 client: message/stream sends task, working, artifact, completed with final and closes', async () => {
    const client = await A2AClient.fromCardUrl(`${agentUrl}/.well-known/agent-card.json`, { fetchImpl: keyedFetch(key, ECHO) });
    const events: any[] = [];
    for await (const ev of client.sendMessageStream({ message: userMessage('stream it') as any })) events.push(ev);
    assert.deepEqual(
      events.map((e) => e.kind + (e.status ? `:${e.status.state}` : '')),
      ['task:submitted', 'status-update:working', 'artifact-update', 'status-update:completed'],
    );
    assert.equal(events.at(-1).final, true);
    assert.equal(events[1].final, false);
    assert.equal(events[2].artifact.parts[0].text, 'Tool said: Echo: hello agent');
  });

  test('the answer streams as artifact chunks while the model writes it (append, lastChunk), whole in the task', async () => {
    const events = await sse(agentUrl, key, { jsonrpc: '2.0', id: 7, method: 'message/stream', params: { message: userMessage('chunk it') } }, { ...ECHO, 'x-fake-chunk-delay-ms': '80' });
    const chunks = events.map((e) => e.result).filter((r) => r.kind === 'artifact-update');
    assert.ok(chunks.length >= 3, `several chunks: ${chunks.length}`);
    assert.equal(chunks[0].append, false);
    assert.ok(chunks.slice(1).every((c: any) => c.append === true));
    assert.deepEqual(chunks.map((c: any) => c.lastChunk), [...chunks.slice(1).map(() => false), true]);
    assert.ok(new Set(chunks.map((c: any) => c.artifact.artifactId)).size === 1);
    const text = chunks.map((c: any) => c.artifact.parts[0].text).join('');
    assert.equal(text, 'Tool said: Echo: hello agent');
    assert.equal(events.at(-1).result.status.state, 'completed');
    const task = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 8, method: 'tasks/get', params: { id: chunks[0].taskId } });
    assert.equal(task.json.result.artifacts.length, 1);
    assert.equal(task.json.result.artifacts[0].parts[0].text, 'Tool said: Echo: hello agent');
  });

  test('1.x client (@a2a-js/sdk 1.3.0): SendMessage and SendStreamingMessage', async () => {
    const fetchImpl = keyedFetch(key, ECHO);
    const factory = new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl })], cardResolver: new DefaultAgentCardResolver({ fetchImpl }) });
    const client = await factory.createFromUrl(`${agentUrl}/.well-known/agent-card.json`, '');
    const result: any = await client.sendMessage({ message: { messageId: crypto.randomUUID(), role: 1, parts: [{ content: { $case: 'text', value: 'hi one' } }] } } as any);
    assert.equal(result.payload?.$case ?? (result.id ? 'task' : undefined), 'task', JSON.stringify(result));
    const task = result.payload?.value ?? result;
    assert.equal(task.status.state, 3 /* TASK_STATE_COMPLETED */, JSON.stringify(task.status));
    assert.equal(task.artifacts[0].parts[0].content.value, 'Tool said: Echo: hello agent');

    const cases: string[] = [];
    for await (const ev of client.sendMessageStream({ message: { messageId: crypto.randomUUID(), role: 1, parts: [{ content: { $case: 'text', value: 'stream one' } }] } } as any)) {
      const e: any = ev;
      cases.push(e.payload?.$case ?? Object.keys(e)[0]);
    }
    assert.deepEqual(cases, ['task', 'statusUpdate', 'artifactUpdate', 'statusUpdate']);

    const raw = await sse(agentUrl, key, { jsonrpc: '2.0', id: 9, method: 'SendStreamingMessage', params: { message: { messageId: 'm1', role: 'ROLE_USER', parts: [{ text: 'raw 1.0' }] } } }, { ...ECHO, 'a2a-version': '1.0' });
    assert.ok(raw.every((r) => r.id === 9 && r.jsonrpc === '2.0'));
    assert.ok(raw.every((r) => !('final' in (r.result.statusUpdate ?? {}))), 'no final in 1.0');
    assert.equal(raw.at(-1).result.statusUpdate.status.state, 'TASK_STATE_COMPLETED');
  });

  test('0.1 names over raw JSON-RPC: tasks/send, tasks/get, tasks/sendSubscribe', async () => {
    const send = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 'a', method: 'tasks/send', params: { id: 'task-01-a', sessionId: 'sess-1', message: { role: 'user', parts: [{ type: 'text', text: 'old style' }] } } }, ECHO);
    assert.equal(send.status, 200, send.text);
    assert.equal(send.json.result.id, 'task-01-a');
    assert.equal(send.json.result.sessionId, 'sess-1');
    assert.equal(send.json.result.status.state, 'completed');
    assert.equal(send.json.result.artifacts[0].parts[0].type, 'text');
    const get = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { id: 'task-01-a' } });
    assert.equal(get.json.result.status.state, 'completed');
    const events = await sse(agentUrl, key, { jsonrpc: '2.0', id: 3, method: 'tasks/sendSubscribe', params: { id: 'task-01-b', message: { role: 'user', parts: [{ type: 'text', text: 'sub' }] } } }, ECHO);
    assert.equal(events.at(-1).result.final, true);
    assert.equal(events.at(-1).result.id, 'task-01-b');
    assert.ok(events.some((e) => e.result.artifact?.parts[0].type === 'text'));
  });

  test('multi-turn through contextId: the second task sees the first conversation', async () => {
    const first = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: userMessage('remember apples') } }, { 'x-fake-no-tool-call': '1' });
    const contextId = first.json.result.contextId;
    fake.reset();
    const second = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 2, method: 'message/send', params: { message: userMessage('what did I say?', { contextId }) } }, ECHO);
    assert.equal(second.json.result.contextId, contextId);
    const sent = fake.requests[0]!.body.messages.map((m: any) => m.content);
    assert.ok(sent.includes('remember apples'), JSON.stringify(sent));
    assert.ok(sent.includes('what did I say?'));

    // Another key using the same contextId does not get that conversation.
    fake.reset();
    const other = (await createKey(gw.url, { mcp_servers: ['ev'] })).key;
    await rpc(agentUrl, other, { jsonrpc: '2.0', id: 3, method: 'message/send', params: { message: userMessage('what did they say?', { contextId }) } }, { 'x-fake-no-tool-call': '1' });
    const theirs = fake.requests[0]!.body.messages.map((m: any) => m.content);
    assert.ok(!theirs.includes('remember apples'), JSON.stringify(theirs));
  });

  test('out of max_steps: input-required; a message with the taskId goes on; then completed; an ended task takes no more', async () => {
    let res = await call(`${gw.url}/api/a2a/agents`, { headers: authHeaders(), body: { id: 'short', name: 'Short', model: 'gpt-4o-mini', mcp: [{ server: 'ev', allowed_tools: ['echo'] }], max_steps: 1 } });
    assert.equal(res.status, 201, res.text);
    const url = `${gw.url}/a2a/short`;
    const first = await rpc(url, key, { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: userMessage('needs a tool') } }, ECHO);
    const task = first.json.result;
    assert.equal(task.status.state, 'input-required', first.text);
    assert.match(task.status.message.parts[0].text, /used its 1 steps/);
    const events = await sse(url, key, { jsonrpc: '2.0', id: 2, method: 'message/stream', params: { message: userMessage('go on', { taskId: task.id, contextId: task.contextId }) } }, { 'x-fake-no-tool-call': '1' });
    assert.equal(events[0].result.id, task.id, 'the same task');
    assert.equal(events.at(-1).result.status.state, 'completed');
    const done = await rpc(url, key, { jsonrpc: '2.0', id: 3, method: 'tasks/get', params: { id: task.id } });
    assert.deepEqual(done.json.result.history.map((m: any) => m.role), ['user', 'agent', 'user', 'agent']);
    const more = await rpc(url, key, { jsonrpc: '2.0', id: 4, method: 'message/send', params: { message: userMessage('more', { taskId: task.id }) } });
    assert.equal(more.json.error.code, -32004);
    const unknown = await rpc(url, key, { jsonrpc: '2.0', id: 5, method: 'message/send', params: { message: userMessage('more', { taskId: 'no-such-task' }) } });
    assert.equal(unknown.json.error.code, -32001);
  });

  test('unknown fields of messages and parts are kept in the task record', async () => {
    const msg = userMessage('keep me', { metadata: { color: 'blue' }, extensions: ['https://ex.example/ext'] });
    (msg.parts as any[]).push({ kind: 'hologram', beam: 42, metadata: { x: 1 } });
    const res = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: msg } }, ECHO);
    const audit = await call(`${gw.url}/api/a2a/tasks/${res.json.result.id}`, { headers: authHeaders() });
    const first = audit.json.history[0];
    assert.deepEqual(first.metadata, { color: 'blue' });
    assert.deepEqual(first.extensions, ['https://ex.example/ext']);
    assert.deepEqual(first.parts[1], { kind: 'hologram', beam: 42, metadata: { x: 1 } });
  });

  test('the audit API: steps, timings, cost; trace id on the response, the task and the spend rows', async () => {
    const res = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: userMessage('audit me') } }, { ...ECHO, 'x-a2a-trace-id': 'trace-abc-1' });
    assert.equal(res.headers['x-a2a-trace-id'], 'trace-abc-1');
    const id = res.json.result.id;
    const audit = await call(`${gw.url}/api/a2a/tasks/${id}`, { headers: authHeaders() });
    assert.equal(audit.status, 200, audit.text);
    assert.equal(audit.json.trace_id, 'trace-abc-1');
    assert.equal(audit.json.agent, 'helper');
    assert.deepEqual(audit.json.steps.map((s: any) => [s.type, s.step, s.status]), [['llm', 1, 'ok'], ['tool', 1, 'ok'], ['llm', 2, 'ok']]);
    assert.ok(audit.json.steps.every((s: any) => typeof s.duration_ms === 'number'));
    assert.ok(audit.json.cost_micros > 0);
    assert.equal(audit.json.cost_micros, audit.json.steps.reduce((n: number, s: any) => n + (s.cost_micros ?? 0), 0));
    const list = await call(`${gw.url}/api/a2a/tasks?trace_id=trace-abc-1`, { headers: authHeaders() });
    assert.deepEqual(list.json.data.map((t: any) => t.id), [id]);
    await gw.gateway.spendLog.flush();
    const spend = await call(`${gw.url}/api/spend/logs?limit=100`, { headers: authHeaders() });
    const rows = spend.json.data.filter((r: any) => r.loop_id === id);
    assert.equal(rows.filter((r: any) => r.operation === 'chat').length, 2);
    assert.ok(rows.length >= 3 && rows.every((r: any) => r.trace_id === 'trace-abc-1'), JSON.stringify(rows.map((r: any) => [r.operation, r.trace_id])));
    const generated = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id } });
    assert.match(String(generated.headers['x-a2a-trace-id']), /^[0-9a-f-]{36}$/);
  });

  test('cancel during a slow tool call: canceled at once, the loop stops, cancel again is -32002', async () => {
    const send = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: userMessage('slow'), configuration: { blocking: false } } }, SLOW);
    const id = send.json.result.id;
    await waitFor(() => call(`${gw.url}/api/a2a/tasks/${id}`, { headers: authHeaders() }), (r) => r.json.status.state === 'working' && fake.requests.length === 1, 'the tool call');
    const cancel = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 2, method: 'tasks/cancel', params: { id } });
    assert.equal(cancel.json.result.status.state, 'canceled', cancel.text);
    const again = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 3, method: 'tasks/cancel', params: { id } });
    assert.equal(again.json.error.code, -32002);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(fake.requests.length, 1, 'no LLM step after the cancel');
    const got = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 4, method: 'tasks/get', params: { id } });
    assert.equal(got.json.result.status.state, 'canceled');
  });

  test('resubscribe after a dropped stream gets the task and the rest of its events', async () => {
    const controller = new AbortController();
    const res = await fetch(agentUrl, { method: 'POST', signal: controller.signal, headers: { ...authHeaders(key), ...SLOW }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'message/stream', params: { message: userMessage('slow stream') } }) });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const id = JSON.parse(first.split('\n')[0]!.slice(6)).result.id;
    controller.abort();
    const events: any[] = [];
    const resub = fetch(agentUrl, { method: 'POST', headers: authHeaders(key), body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tasks/resubscribe', params: { id } }) }).then(async (r) => {
      for (const l of (await r.text()).split('\n')) if (l.startsWith('data: ')) events.push(JSON.parse(l.slice(6)));
    });
    await waitFor(async () => events.length, () => true, 'nothing');
    await new Promise((r) => setTimeout(r, 200));
    await rpc(agentUrl, key, { jsonrpc: '2.0', id: 3, method: 'tasks/cancel', params: { id } });
    await resub;
    assert.equal(events[0].result.kind, 'task');
    assert.equal(events[0].result.id, id);
    assert.equal(events.at(-1).result.status.state, 'canceled');
    assert.equal(events.at(-1).result.final, true);
    const done = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 4, method: 'tasks/resubscribe', params: { id } });
    assert.equal(done.json.error.code, -32004, 'a terminal task cannot be resubscribed');
  });

  test('another key cannot see the task; unknown task is -32001', async () => {
    const send = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: userMessage('mine') } }, ECHO);
    const other = (await createKey(gw.url, { mcp_servers: ['ev'] })).key;
    const res = await rpc(agentUrl, other, { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id: send.json.result.id } });
    assert.equal(res.json.error.code, -32001);
    const one = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'nope' } }, { 'a2a-version': '1.0' });
    assert.equal(one.json.error.code, -32001);
    assert.equal(one.json.error.data[0].reason, 'TASK_NOT_FOUND');
    const noKey = await call(agentUrl, { headers: { 'content-type': 'application/json' }, body: { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id: 'x' } } });
    assert.equal(noKey.status, 401);
  });

  test('malformed JSON-RPC of every kind gets the right error, and the gateway keeps answering', async () => {
    const cases: Array<[string, unknown, number, Record<string, string>?]> = [
      ['bad json', '{"jsonrpc": "2.0", "id": 1, "method"', -32700],
      ['empty body', '', -32700],
      ['batch', [{ jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id: 'x' } }], -32600],
      ['not an object', '42', -32600],
      ['no jsonrpc', { id: 1, method: 'tasks/get', params: { id: 'x' } }, -32600],
      ['missing id', { jsonrpc: '2.0', method: 'tasks/get', params: { id: 'x' } }, -32600],
      ['object id', { jsonrpc: '2.0', id: { a: 1 }, method: 'tasks/get', params: { id: 'x' } }, -32600],
      ['method not a string', { jsonrpc: '2.0', id: 1, method: 7 }, -32600],
      ['unknown method', { jsonrpc: '2.0', id: 1, method: 'tasks/explode', params: {} }, -32601],
      ['1.0 name without the header', { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x' } }, -32601],
      ['0.1 name under 1.0', { jsonrpc: '2.0', id: 1, method: 'tasks/send', params: {} }, -32601, { 'a2a-version': '1.0' }],
      ['unsupported version', { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x' } }, -32009, { 'a2a-version': '0.5' }],
      ['extended card (0.3)', { jsonrpc: '2.0', id: 1, method: 'agent/getAuthenticatedExtendedCard' }, -32007],
      ['extended card (1.0)', { jsonrpc: '2.0', id: 1, method: 'GetExtendedAgentCard', params: {} }, -32007, { 'a2a-version': '1.0' }],
      ['params an array', { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: ['x'] }, -32602],
      ['id of the wrong type', { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id: 5 } }, -32602],
      ['message without parts', { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: { role: 'user', messageId: 'x' } } }, -32602],
      ['role unknown', { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: { role: 'robot', messageId: 'x', parts: [{ kind: 'text', text: 'a' }] } } }, -32602],
      ['huge part', { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: userMessage('x'.repeat(1_100_000)) } }, -32602],
      ['push config for an unknown task', { jsonrpc: '2.0', id: 1, method: 'tasks/pushNotificationConfig/set', params: { taskId: 'x', pushNotificationConfig: { url: 'https://example.com' } } }, -32001],
      ['push webhook on loopback (SSRF)', { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: userMessage('x'), configuration: { pushNotificationConfig: { url: 'http://127.0.0.1:9/hook' } } } }, -32602],
      ['push webhook on link-local (SSRF)', { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: userMessage('x'), configuration: { pushNotificationConfig: { url: 'http://169.254.169.254/latest' } } } }, -32602],
      ['push webhook on a private address (SSRF)', { jsonrpc: '2.0', id: 1, method: 'message/send', params: { message: userMessage('x'), configuration: { pushNotificationConfig: { url: 'http://[::ffff:10.0.0.1]/' } } } }, -32602],
    ];
    for (const [name, body, code, headers] of cases) {
      const res = await rpc(agentUrl, key, typeof body === 'string' ? body : JSON.stringify(body), headers ?? {});
      assert.equal(res.status, 200, `${name}: ${res.text.slice(0, 200)}`);
      assert.equal(res.json?.error?.code, code, `${name}: ${res.text.slice(0, 300)}`);
      assert.equal(res.json.jsonrpc, '2.0');
    }
    const ok = await rpc(agentUrl, key, { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id: 'still-alive' } });
    assert.equal(ok.json.error.code, -32001);
  });
});
