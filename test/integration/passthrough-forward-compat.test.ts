import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

/**
 * A client released tomorrow keeps working: on native paths the gateway checks only what it reads
 * and forwards the rest byte for byte (new roles, content blocks, tool types, top-level fields);
 * on translated paths it maps what has an equivalent (namespaced functions, web search) and drops
 * the rest, naming it in `x-smartflow-dropped`. Request bodies recorded from Claude Code 2.1.332
 * and Codex CLI 0.171.0 (test/fixtures/recorded) are the reproductions of issue 10's 400s.
 */

const RECORDED = join(import.meta.dirname, '..', 'fixtures', 'recorded');
const recorded = (file: string): Record<string, any> => JSON.parse(readFileSync(join(RECORDED, file), 'utf8'));
const ANTHROPIC_HEADERS = { 'x-api-key': MASTER_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };

describe('forward-compatible passthrough', () => {
  let openaiFake: FakeUpstream;
  let anthropicFake: FakeUpstream;
  let geminiFake: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    [openaiFake, anthropicFake, geminiFake] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini()]);
    gw = await startTestGateway({
      providers: fakeProviders({ openai: openaiFake.url, anthropic: anthropicFake.url, gemini: geminiFake.url }),
      models: [
        { name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' },
        { name: 'claude-sonnet-4-5', provider: 'anthropic', model: 'claude-sonnet-4-5' },
        { name: 'gemini-2.5-flash', provider: 'google', model: 'gemini-2.5-flash' },
      ],
      logging: { level: 'warn' },
    });
  });

  after(async () => {
    await gw.close();
    await Promise.all([openaiFake.close(), anthropicFake.close(), geminiFake.close()]);
  });

  describe('the 400s of issue 10, from recorded requests', () => {
    test('Claude Code 2.1: role "system" messages, context_management and output_config reach Anthropic byte for byte', async () => {
      const body = recorded('claude-code-2.1.332-messages.json');
      assert.ok(body.messages.some((m: { role: string }) => m.role === 'system'));
      anthropicFake.reset();
      const res = await call(`${gw.url}/anthropic/v1/messages?beta=true`, { headers: ANTHROPIC_HEADERS, body: JSON.stringify(body) });
      assert.equal(res.status, 200, res.text);
      assert.match(res.text, /event: message_stop/);
      assert.equal(anthropicFake.requests[0]!.rawBody, JSON.stringify(body));
    });

    test('Codex 0.171 natively: namespace and web_search tools, include, prompt_cache_key and client_metadata reach the upstream byte for byte', async () => {
      const body: Record<string, any> = { ...recorded('codex-0.171.0-responses.json'), model: 'gpt-4o-mini' };
      assert.equal(body.tools[4].type, 'namespace');
      openaiFake.reset();
      const res = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body: JSON.stringify(body) });
      assert.equal(res.status, 200, res.text);
      assert.match(res.text, /event: response.completed/);
      assert.equal(openaiFake.requests[0]!.rawBody, JSON.stringify(body));
    });

    test('Codex 0.171 with a Claude model: served by translation, namespaced functions offered under joined names, the rest named in x-smartflow-dropped', async () => {
      const body: Record<string, any> = { ...recorded('codex-0.171.0-responses.json'), model: 'claude-sonnet-4-5' };
      anthropicFake.reset();
      anthropicFake.steer = { noToolCall: true };
      const res = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body: JSON.stringify(body) });
      anthropicFake.steer = {};
      assert.equal(res.status, 200, res.text);
      assert.match(res.text, /event: response.completed/);
      const up = anthropicFake.requests[0]!.body;
      const names = up.tools.map((t: { name: string }) => t.name);
      for (const inner of body.tools[4].tools) assert.ok(names.includes(`multi_agent_v1__${inner.name}`), `${inner.name} offered`);
      assert.equal(up.messages.at(-1).content.at(-1).text, 'say hi');
      const dropped = String(res.headers['x-smartflow-dropped']).split(', ');
      const webSearch = body.tools.findIndex((t: { type: string }) => t.type === 'web_search');
      assert.ok(dropped.includes(`tools[${webSearch}].external_web_access=false`), `the offline web search is dropped, not made live: ${dropped.join(', ')}`);
      for (const field of ['include', 'prompt_cache_key', 'client_metadata']) assert.ok(dropped.includes(field), `${field} named`);
    });
  });

  describe('native surfaces forward what they do not read', () => {
    const future = { future_field: { nested: [1, 'two', null] }, zeta: true };

    test('/anthropic/v1/messages: an unknown role, content block, tool type and top-level field', async () => {
      const body = {
        model: 'claude-sonnet-4-5',
        max_tokens: 50,
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'hologram', frames: 3 }] },
          { role: 'narrator', content: 'meanwhile' },
        ],
        tools: [{ type: 'teleport_20300101', name: 'teleport', range_km: 5 }],
        ...future,
      };
      anthropicFake.reset();
      const res = await call(`${gw.url}/anthropic/v1/messages`, { headers: ANTHROPIC_HEADERS, body: JSON.stringify(body) });
      assert.equal(res.status, 200, res.text);
      assert.equal(anthropicFake.requests[0]!.rawBody, JSON.stringify(body));
    });

    const chatBody = (model: string) => ({
      model,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'input_hologram', hologram: { frames: 3 } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'ct_1', type: 'custom', custom: { name: 'notes', input: 'x' } }] },
        { role: 'narrator', content: 'meanwhile' },
      ],
      tools: [{ type: 'custom', custom: { name: 'notes', format: { type: 'text' } } }, { type: 'teleport', range_km: 5 }],
      tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } },
      response_format: { type: 'hologram' },
      temperature: 3.5,
      ...future,
    });

    for (const [path, model] of [['/v1/chat/completions', 'gpt-4o-mini'], ['/cursor/chat/completions', 'gpt-9-preview']] as const) {
      test(`${path} (${model}): unknown roles, content parts, tool and tool-call types and top-level fields`, async () => {
        const body = chatBody(model);
        openaiFake.reset();
        const res = await call(`${gw.url}${path}`, { headers: authHeaders(), body: JSON.stringify(body) });
        assert.equal(res.status, 200, res.text);
        assert.equal(openaiFake.requests[0]!.url, '/v1/chat/completions');
        assert.equal(openaiFake.requests[0]!.rawBody, JSON.stringify(body));
        assert.equal(res.headers['x-smartflow-dropped'], undefined);
      });
    }

    test('/v1/chat/completions streamed: the same body, with only the usage the gateway asks for added', async () => {
      const body = { ...chatBody('gpt-4o-mini'), stream: true };
      openaiFake.reset();
      const res = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(), body: JSON.stringify(body) });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(openaiFake.requests[0]!.body, { ...body, stream_options: { include_usage: true } });
    });

    const responsesBody = (model: string) => ({
      model,
      input: [
        { type: 'message', role: 'narrator', content: [{ type: 'input_text', text: 'meanwhile' }] },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }, { type: 'input_hologram', frames: 3 }] },
        { type: 'hologram_call', id: 'hc_1', status: 'completed' },
      ],
      tools: [{ type: 'teleport', range_km: 5 }, { type: 'namespace', name: 'crm', description: 'CRM', tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object' } }, { type: 'hologram', name: 'h' }] }],
      tool_choice: { type: 'teleport' },
      text: { format: { type: 'hologram' }, verbosity: 'low' },
      store: false,
      ...future,
    });

    for (const [path, model] of [['/v1/responses', 'gpt-4o-mini'], ['/cursor/responses', 'gpt-9-preview']] as const) {
      test(`${path} (${model}): unknown roles, input items, content parts, tool types and top-level fields`, async () => {
        const body = responsesBody(model);
        openaiFake.reset();
        const res = await call(`${gw.url}${path}`, { headers: authHeaders(), body: JSON.stringify(body) });
        assert.equal(res.status, 200, res.text);
        assert.equal(openaiFake.requests[0]!.url, '/v1/responses');
        assert.equal(openaiFake.requests[0]!.rawBody, JSON.stringify(body));
      });
    }
  });

  describe('translated paths map what has an equivalent and name what they drop', () => {
    test('chat -> Anthropic: web search becomes the web_search server tool; an unknown role, part and field are dropped and named', async () => {
      anthropicFake.reset();
      const res = await call(`${gw.url}/v1/chat/completions`, {
        headers: authHeaders(),
        body: {
          model: 'claude-sonnet-4-5',
          messages: [{ role: 'user', content: [{ type: 'text', text: 'news?' }, { type: 'input_hologram' }] }, { role: 'narrator', content: 'meanwhile' }, { role: 'user', content: 'go' }],
          tools: [{ type: 'web_search', filters: { allowed_domains: ['example.com'] } }],
          future_field: 1,
        },
      });
      assert.equal(res.status, 200, res.text);
      const up = anthropicFake.requests[0]!.body;
      assert.deepEqual(up.tools, [{ type: 'web_search_20250305', name: 'web_search', allowed_domains: ['example.com'] }]);
      assert.deepEqual(up.messages, [{ role: 'user', content: [{ type: 'text', text: 'news?' }, { type: 'text', text: 'go' }] }]);
      assert.equal(res.headers['x-smartflow-dropped'], 'messages[0].content[1].type=input_hologram, messages[1].role=narrator, future_field');
    });

    test('chat -> Gemini: web search becomes google_search', async () => {
      geminiFake.reset();
      const res = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(), body: { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'news?' }], tools: [{ type: 'web_search' }] } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(geminiFake.requests[0]!.body.tools, [{ google_search: {} }]);
      assert.equal(res.headers['x-smartflow-dropped'], undefined);
    });

    test('Responses -> Anthropic: a namespaced function is called and comes back under its namespace and name, JSON and streamed', async () => {
      const body = { model: 'claude-sonnet-4-5', input: 'look up Ada', tools: [{ type: 'namespace', name: 'crm', description: 'CRM', tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: { query: { type: 'string' } } } }] }] };
      anthropicFake.reset();
      const json = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body });
      assert.equal(json.status, 200, json.text);
      assert.equal(anthropicFake.requests[0]!.body.tools[0].name, 'crm__lookup');
      const item = json.json.output.find((o: { type: string }) => o.type === 'function_call');
      assert.equal(item.name, 'lookup');
      assert.equal(item.namespace, 'crm');
      assert.deepEqual(JSON.parse(item.arguments), { query: 'look up Ada' });

      const streamed = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body: { ...body, stream: true } });
      assert.equal(streamed.status, 200, streamed.text);
      const done = streamed.text.split('\n\n').filter((f) => f.startsWith('event: response.output_item.done')).map((f) => JSON.parse(f.slice(f.indexOf('data: ') + 6)).item);
      assert.deepEqual(done.map((i: { name: string; namespace: string }) => [i.name, i.namespace]), [['lookup', 'crm']]);

      // The call goes back in the next turn under its namespace, and reaches Anthropic under the joined name.
      const next = await call(`${gw.url}/v1/responses`, {
        headers: authHeaders(),
        body: { ...body, input: [{ role: 'user', content: 'look up Ada' }, { type: 'function_call', call_id: item.call_id, name: 'lookup', namespace: 'crm', arguments: item.arguments }, { type: 'function_call_output', call_id: item.call_id, output: 'Ada Lovelace' }] },
      });
      assert.equal(next.status, 200, next.text);
      assert.equal(next.json.output[0].content[0].text, 'Tool said: Ada Lovelace');
      const history = anthropicFake.requests.at(-1)!.body.messages;
      assert.equal(history[1].content[0].name, 'crm__lookup');
    });

    test('Responses -> Anthropic and Gemini: web search becomes each provider\'s search tool', async () => {
      anthropicFake.reset();
      geminiFake.reset();
      for (const model of ['claude-sonnet-4-5', 'gemini-2.5-flash']) {
        const res = await call(`${gw.url}/v1/responses`, { headers: authHeaders(), body: { model, input: 'news?', tools: [{ type: 'web_search' }] } });
        assert.equal(res.status, 200, res.text);
      }
      assert.deepEqual(anthropicFake.requests[0]!.body.tools, [{ type: 'web_search_20250305', name: 'web_search' }]);
      assert.deepEqual(geminiFake.requests[0]!.body.tools, [{ google_search: {} }]);
    });
  });

  test('hosted tools are no longer refused: a budgeted key gets a natively served web search, counted for per-call prices', async () => {
    const { key } = await createKey(gw.url, { max_budget: 1 });
    openaiFake.reset();
    const res = await call(`${gw.url}/v1/responses`, { headers: authHeaders(key), body: { model: 'gpt-4o-mini', input: 'news?', tools: [{ type: 'web_search' }] } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.output.map((o: { type: string }) => o.type), ['web_search_call', 'message']);
    assert.deepEqual(openaiFake.requests[0]!.body.tools, [{ type: 'web_search' }]);
  });
});
