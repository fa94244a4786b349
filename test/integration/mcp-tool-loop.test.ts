import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');

/** The fake model asks for `ev_echo` with this message, then answers with what the tool said. */
const ECHO = { 'x-fake-tool': 'ev_echo', 'x-fake-tool-args': JSON.stringify({ message: 'hello loop' }) };
const MCP_ECHO = { type: 'mcp', server: 'ev', allowed_tools: ['echo'] } as const;
// The openai SDK's types know no gateway MCP entry; the wire accepts it.
const tools = (...entries: unknown[]) => entries as any;

/** The raw SSE text of a streamed request. */
async function rawStream(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { ...authHeaders(), ...headers }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

async function spendRows(gw: TestGateway, loopId: string): Promise<any[]> {
  const res = await call(`${gw.url}/api/spend/logs?limit=100`, { headers: authHeaders() });
  assert.equal(res.status, 200, res.text);
  return res.json.data.filter((r: any) => r.loop_id === loopId);
}

describe('MCP tool loop: chat completions and Responses call MCP tools through the gateway', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startTestGateway({
      providers: fakeProviders({ openai: fake.url }),
      models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
    });
    const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'ev', command: process.execPath, args: [EVERYTHING, 'stdio'] } });
    assert.equal(res.status, 201, res.text);
    client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });

  after(async () => {
    await gw?.close();
    await fake?.close();
  });

  beforeEach(() => fake.reset());

  test('non-streamed chat: the gateway runs the tool, the model gets its result on step 2, usage is summed', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'echo something' }], tools: tools(MCP_ECHO) }, { headers: ECHO })
      .withResponse();
    assert.equal(data.choices[0]?.message.content, 'Tool said: Echo: hello loop');
    assert.equal(data.choices[0]?.finish_reason, 'stop');
    assert.equal(response.headers.get('x-smartflow-mcp-steps'), '2');
    assert.equal(response.headers.get('x-smartflow-mcp-stop'), 'answered');

    assert.equal(fake.requests.length, 2);
    const offered = fake.requests[0]!.body.tools;
    assert.equal(offered.length, 1, 'allowed_tools keeps only echo');
    assert.equal(offered[0].function.name, 'ev_echo');
    assert.equal(offered[0].function.parameters.properties.message.type, 'string', 'parameters are the inputSchema');
    const second = fake.requests[1]!.body.messages;
    assert.equal(second.at(-2).tool_calls[0].function.name, 'ev_echo');
    assert.deepEqual({ role: second.at(-1).role, content: second.at(-1).content }, { role: 'tool', content: 'Echo: hello loop' });

    // Each step's fake usage: prompt tokens of what it saw plus its own answer; the client gets the sum.
    const steps = await spendRows(gw, response.headers.get('x-request-id')!);
    const llm = steps.filter((r) => r.operation === 'chat');
    assert.equal(data.usage?.prompt_tokens, llm.reduce((n, r) => n + r.input_tokens, 0));
    assert.equal(data.usage?.completion_tokens, llm.reduce((n, r) => n + r.output_tokens, 0));
  });

  test('the spend log: one row per LLM step and the mcp.call row, linked by loop_id and loop_step', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'link me' }], tools: tools(MCP_ECHO) }, { headers: ECHO })
      .withResponse();
    const id = response.headers.get('x-request-id')!;
    const rows = await spendRows(gw, id);
    const llm = rows.filter((r) => r.operation === 'chat').sort((a, b) => a.loop_step - b.loop_step);
    assert.deepEqual(llm.map((r) => [r.loop_step, r.status, r.model]), [[1, 200, 'gpt-4o-mini'], [2, 200, 'gpt-4o-mini']]);
    assert.ok(llm.every((r) => r.cost_micros > 0), 'both steps are charged');
    const tool = rows.filter((r) => r.operation === 'mcp.call');
    assert.equal(tool.length, 1);
    assert.deepEqual([tool[0].loop_step, tool[0].provider, tool[0].upstream_model, tool[0].status], [1, 'ev', 'echo', 200]);
  });

  test('streamed chat: content streams, MCP tool-call deltas stay hidden, progress comments, one [DONE], summed usage', async () => {
    const stream = await client.chat.completions.create(
      { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream it' }], tools: tools(MCP_ECHO) },
      { headers: ECHO },
    );
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      assert.equal(chunk.choices[0]?.delta.tool_calls, undefined, 'no MCP tool-call delta reaches the client');
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'Tool said: Echo: hello loop');
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.prompt_tokens > 0);
    assert.equal(fake.requests[1]!.body.messages.at(-1).content, 'Echo: hello loop');

    const raw = await rawStream(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream it' }], tools: [MCP_ECHO] }, ECHO);
    assert.equal(raw.status, 200);
    assert.match(raw.text, /^: mcp tool ev_echo running$/m);
    assert.match(raw.text, /^: mcp tool ev_echo done in \d+ ms$/m);
    assert.equal(raw.text.match(/^data: \[DONE\]$/gm)?.length, 1);
    const ids = new Set(raw.text.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)).id));
    assert.equal(ids.size, 1, 'every chunk carries the first step\'s id');
    assert.equal(raw.text.match(/"finish_reason":"(stop|tool_calls)"/g)?.length, 1, 'only the last step finishes');
    const usageChunks = raw.text.split('\n').filter((l) => l.startsWith('data: {') && JSON.parse(l.slice(6)).usage);
    assert.equal(usageChunks.length, 1, 'one usage chunk, summed over the steps');
    const summed = JSON.parse(usageChunks[0]!.slice(6)).usage;
    const [first, second] = fake.requests.slice(-2).map((r) => r.body);
    assert.ok(first.stream && second.stream);
    assert.ok(summed.prompt_tokens > JSON.stringify(first.messages).length / 4, 'more than step 1 alone');
  });

  test('/v1/responses: the hosted-MCP shape naming a registered alias runs the loop, streamed or not', async () => {
    const { data, response } = await client.responses
      .create({ model: 'gpt-4o-mini', input: 'echo via responses', tools: tools({ type: 'mcp', server_label: 'ev', allowed_tools: ['echo'], require_approval: 'never' }) }, { headers: ECHO })
      .withResponse();
    assert.equal(data.output_text, 'Tool said: Echo: hello loop');
    assert.equal(response.headers.get('x-smartflow-mcp-steps'), '2');
    const input = fake.requests[1]!.body.input;
    assert.deepEqual(input.at(-1), { type: 'function_call_output', call_id: input.at(-2).call_id, output: 'Echo: hello loop' });
    assert.equal(fake.requests[0]!.body.tools[0].name, 'ev_echo');

    const raw = await rawStream(`${gw.url}/v1/responses`, { model: 'gpt-4o-mini', stream: true, input: 'echo via responses', tools: [{ type: 'mcp', server: 'ev', allowed_tools: ['echo'] }] }, ECHO);
    assert.equal(raw.status, 200);
    assert.match(raw.text, /^: mcp tool ev_echo running$/m);
    assert.equal(raw.text.match(/^event: response\.completed$/gm)?.length, 1);
    assert.equal(raw.text.match(/^event: response\.created$/gm)?.length, 1);
    const responseIds = [...raw.text.matchAll(/^event: response\.(created|completed)\ndata: (.*)$/gm)].map((m) => JSON.parse(m[2]!).response.id);
    assert.equal(new Set(responseIds).size, 1, 'response.completed names the Response that response.created announced');
    assert.doesNotMatch(raw.text, /function_call_arguments/, 'MCP call events stay hidden');
    const seqs = [...raw.text.matchAll(/"sequence_number":(\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(seqs, seqs.map((_, i) => i), 'one sequence across the steps');
    const deltas = [...raw.text.matchAll(/"type":"response\.output_text\.delta"[^\n]*"delta":"([^"]*)"/g)].map((m) => m[1]).join('');
    assert.equal(deltas, 'Tool said: Echo: hello loop');
  });

  test('a hosted-MCP entry with server_url is the provider\'s: it passes through untouched', async () => {
    const hosted = { type: 'mcp', server_label: 'ev', server_url: 'https://mcp.example.com/mcp', require_approval: 'never' };
    const res = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body: { model: 'gpt-4o-mini', input: 'hi', tools: [hosted] } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-smartflow-mcp-steps'], undefined);
    assert.deepEqual(fake.requests[0]!.body.tools, [hosted]);
  });

  test('max_steps: a model that keeps calling the tool is stopped, and its last answer comes back as it is', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'loop forever' }], tools: tools({ ...MCP_ECHO, max_steps: 3 }) }, { headers: { ...ECHO, 'x-fake-always-tool': '1' } })
      .withResponse();
    assert.equal(fake.requests.length, 3);
    assert.equal(response.headers.get('x-smartflow-mcp-steps'), '3');
    assert.equal(response.headers.get('x-smartflow-mcp-stop'), 'max_steps');
    assert.equal(data.choices[0]?.finish_reason, 'tool_calls');
    assert.equal((data.choices[0]?.message.tool_calls?.[0] as { function?: { name: string } } | undefined)?.function?.name, 'ev_echo');
  });

  test('a call of the client\'s own function tool ends the loop and goes back to the client', async () => {
    const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { query: { type: 'string' } } } } };
    const res = await call(`${gw.url}/v1/chat/completions`, { headers: { ...authHeaders(), 'x-fake-tool': 'get_weather' }, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'weather?' }], tools: [weather, MCP_ECHO] } });
    assert.equal(res.status, 200, res.text);
    assert.equal(fake.requests.length, 1);
    assert.equal(res.headers['x-smartflow-mcp-stop'], 'client_tool');
    assert.equal(res.json.choices[0].message.tool_calls[0].function.name, 'get_weather');
  });

  test('a tool error goes back to the model as the tool result, not as a failed request', async () => {
    const res = await call(`${gw.url}/v1/chat/completions`, { headers: { ...authHeaders(), ...ECHO, 'x-fake-tool-args': '{"message": 42}' }, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'bad args' }], tools: [MCP_ECHO] } });
    assert.equal(res.status, 200, res.text);
    const toolMessage = fake.requests[1]!.body.messages.at(-1);
    assert.equal(toolMessage.role, 'tool');
    assert.match(toolMessage.content, /^Error: /);
  });

  test('errors: unknown alias 404, denied server and tool 403 naming them, bad entry 400 naming the field', async () => {
    const chat = (entry: unknown, key = MASTER_KEY) => call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(key), body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], tools: [entry] } });
    const unknown = await chat({ type: 'mcp', server: 'nope' });
    assert.equal(unknown.status, 404, unknown.text);
    assert.match(unknown.json.error.message, /no MCP server "nope"/);
    assert.equal(unknown.json.error.param, 'tools[0].server');

    const noMcp = await createKey(gw.url, { alias: 'no-mcp' });
    const denied = await chat({ type: 'mcp', server: 'ev' }, noMcp.key);
    assert.equal(denied.status, 403, denied.text);
    assert.match(denied.json.error.message, /MCP server "ev"/);

    const sumOnly = await createKey(gw.url, { alias: 'sum-only', mcp_servers: ['ev'], mcp_tools: ['ev/get-sum'] });
    const deniedTool = await chat(MCP_ECHO, sumOnly.key);
    assert.equal(deniedTool.status, 403, deniedTool.text);
    assert.match(deniedTool.json.error.message, /tool "echo" of MCP server "ev"/);

    const bad = await chat({ type: 'mcp', server: 'Not An Alias' });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.param, 'tools[0].server');
    assert.equal(fake.requests.length, 0, 'no model call for a refused request');
    // Refused before the first step, and still in the spend log, as the pipeline records its refusals.
    const refused = await spendRows(gw, String(unknown.headers['x-request-id']));
    assert.deepEqual(refused.map((r) => [r.operation, r.status, r.error_code, r.loop_step]), [['chat', 404, 'not_found', null]]);
  });

  test('a virtual key\'s budget is charged for every step', async () => {
    const key = await createKey(gw.url, { alias: 'loop-budget', mcp_servers: ['ev'], max_budget: 10 });
    const res = await call(`${gw.url}/v1/chat/completions`, { headers: { ...authHeaders(key.key), ...ECHO }, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'pay for both' }], tools: [MCP_ECHO] } });
    assert.equal(res.status, 200, res.text);
    const rows = (await spendRows(gw, String(res.headers['x-request-id']))).filter((r) => r.operation === 'chat');
    assert.equal(rows.length, 2);
    const both = rows.reduce((n, r) => n + r.cost_micros, 0);
    assert.ok(rows.every((r) => r.cost_micros > 0));
    assert.equal(res.headers['x-smartflow-cost-micros'], String(both));
    const budget = await call(`${gw.url}/api/enterprise/vkeys/${key.id}/budget`, { headers: authHeaders() });
    assert.equal(budget.status, 200, budget.text);
    const spent = budget.json.key?.spent ?? budget.json.spent;
    assert.equal(Math.round(spent * 1_000_000), both, budget.text);
  });
});
