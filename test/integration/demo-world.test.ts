import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import { createLogger } from '../../src/log/logger.js';
import { createGateway, type Gateway } from '../../src/main.js';
import { LogCollector } from '../helpers/build-app.js';

/**
 * The demo's local upstreams speak the real wire formats: the official SDKs, through the
 * gateway's native and translated paths, read their answers (plain, streamed, tool calls, embeddings).
 */
describe('the demo world through the official SDKs', () => {
  const MASTER = 'sk-demo-world-test';
  let world: DemoWorld;
  let gateway: Gateway;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    world = await startDemoWorld({ host: '127.0.0.1', port: 0, masterKey: MASTER, chunkDelayMs: 0 });
    gateway = await createGateway({ config: world.config, logger: createLogger({ level: 'warn', destination: new LogCollector() }), defaultMetrics: false });
    const url = await gateway.listen('127.0.0.1', 0);
    openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: MASTER, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: `${url}/anthropic`, apiKey: MASTER, maxRetries: 0 });
  });
  after(async () => {
    await gateway.close();
    await world.close();
  });

  const weather = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

  for (const model of ['gpt-4o-mini', 'claude-haiku-4-5', 'gemini-2.5-flash']) {
    test(`${model}: plain, streamed and tool-calling answers`, async () => {
      const plain = await openai.chat.completions.create({ model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }] });
      assert.equal(plain.choices[0]?.message.content, 'Demo echo: Hello there');
      assert.ok((plain.usage?.prompt_tokens ?? 0) > 0);
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of await openai.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Stream these words' }] })) {
        text += chunk.choices[0]?.delta.content ?? '';
        usage = chunk.usage ?? usage;
      }
      assert.equal(text, 'Demo echo: Stream these words');
      assert.ok((usage?.completion_tokens ?? 0) > 0);
      const called = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Lima' }], tools: [weather] });
      const call = called.choices[0]?.message.tool_calls?.[0];
      assert.equal(called.choices[0]?.finish_reason, 'tool_calls');
      assert.ok(call?.type === 'function');
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Lima' });
      const after = await openai.chat.completions.create({
        model,
        tools: [weather],
        messages: [{ role: 'user', content: 'Lima' }, called.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny, 24 C' }],
      });
      assert.match(after.choices[0]?.message.content ?? '', /^The tool returned: .*sunny, 24 C/);
    });
  }

  for (const model of ['text-embedding-3-small', 'gemini-embedding-001']) {
    test(`${model}: the SDK's default (base64) embeddings decode to the float answer`, async () => {
      const floats = await openai.embeddings.create({ model, input: ['a', 'b'], encoding_format: 'float' });
      const decoded = await openai.embeddings.create({ model, input: ['a', 'b'] });
      for (const [i, d] of decoded.data.entries()) {
        assert.equal(d.embedding.length, 16);
        d.embedding.forEach((v, j) => assert.ok(Math.abs(v - floats.data[i]!.embedding[j]!) < 1e-6));
      }
    });
  }

  test('MCP: the "demo-files" server (server-filesystem over STDIO) serves the demo folder, and every demo model reads it through the tool loop', async () => {
    assert.ok(world.filesDir, 'the devDependency is installed here, so the demo has its MCP server');
    // The gateway's MCP entry is not in the SDK's types; the wire accepts it.
    const tools = [{ type: 'mcp', server: 'demo-files' }] as any;
    for (const model of ['gpt-4o-mini', 'claude-haiku-4-5', 'gemini-2.5-flash']) {
      const { data, response } = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Read welcome.txt' }], tools }).withResponse();
      assert.match(data.choices[0]?.message.content ?? '', /^The tool returned: .*Welcome to Smartflow! This line was read from the demo folder/, model);
      assert.equal(response.headers.get('x-smartflow-mcp-steps'), '2', model);
    }
  });

  test('/anthropic: the Anthropic SDK, plain and streamed, through the native passthrough', async () => {
    const message = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hello from the SDK' }] });
    assert.deepEqual(message.content, [{ type: 'text', text: 'Demo echo: Hello from the SDK' }]);
    assert.equal(message.stop_reason, 'end_turn');
    const stream = anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Stream me' }] });
    const final = await stream.finalMessage();
    assert.deepEqual(final.content, [{ type: 'text', text: 'Demo echo: Stream me' }]);
    assert.ok(final.usage.output_tokens > 0);
    const tokens = await anthropic.messages.countTokens({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'Count me' }] });
    assert.ok(tokens.input_tokens > 0);
    assert.equal((await anthropic.models.retrieve('claude-haiku-4-5')).id, 'claude-haiku-4-5');
    assert.ok((await anthropic.models.list()).data.some((m) => m.id === 'claude-sonnet-4-5'));
  });
});
