import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChatStreamStep } from '../../../src/mcp/tool-loop/chat-dialect.js';
import { ResponsesStreamStep } from '../../../src/mcp/tool-loop/responses-dialect.js';
import { splitMcpToolEntries } from '../../../src/mcp/tool-loop/tool-entries.js';
import { runToolLoop, type LoopStep } from '../../../src/mcp/tool-loop/tool-loop.js';
import { sumUsage } from '../../../src/mcp/tool-loop/usage-sum.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';

/** A scripted model: each step answers with the next list of tool names to call. */
function scripted(script: string[][]) {
  const seen: Array<{ request: string[]; step: number }> = [];
  const executed: string[] = [];
  const options = {
    request: [] as string[],
    isLoopTool: (name: string) => name.startsWith('mcp_'),
    runStep: async (request: string[], step: number): Promise<LoopStep<string>> => {
      seen.push({ request, step });
      const calls = script[step - 1] ?? [];
      return { answer: `answer ${step}`, toolCalls: calls.map((name, i) => ({ id: `c${step}.${i}`, name, arguments: '{}' })) };
    },
    executeTool: async (call: { id: string; name: string }) => {
      executed.push(call.name);
      return { callId: call.id, text: `result of ${call.name}`, isError: false };
    },
    continueWith: (request: string[], _step: LoopStep<string>, results: Array<{ text: string }>) => [...request, ...results.map((r) => r.text)],
  };
  return { options, seen, executed };
}

describe('runToolLoop', () => {
  test('runs the MCP calls and continues with their results until the model answers', async () => {
    const { options, seen, executed } = scripted([['mcp_a', 'mcp_b'], ['mcp_a'], []]);
    const outcome = await runToolLoop({ ...options, maxSteps: 10 });
    assert.equal(outcome.stop, 'answered');
    assert.deepEqual(outcome.answers, ['answer 1', 'answer 2', 'answer 3']);
    assert.deepEqual(executed, ['mcp_a', 'mcp_b', 'mcp_a'], 'in the order asked');
    assert.deepEqual(seen[2]!.request, ['result of mcp_a', 'result of mcp_b', 'result of mcp_a']);
  });

  test('a call of a client tool ends the loop without running anything of that step', async () => {
    const { options, executed } = scripted([['mcp_a', 'get_weather']]);
    const outcome = await runToolLoop({ ...options, maxSteps: 10 });
    assert.equal(outcome.stop, 'client_tool');
    assert.deepEqual(executed, []);
  });

  test('max_steps: the last allowed step still asking for tools ends the loop unrun', async () => {
    const { options, seen, executed } = scripted([['mcp_a'], ['mcp_a'], ['mcp_a'], ['mcp_a']]);
    const outcome = await runToolLoop({ ...options, maxSteps: 2 });
    assert.equal(outcome.stop, 'max_steps');
    assert.equal(seen.length, 2);
    assert.deepEqual(executed, ['mcp_a'], 'only the first step\'s call ran');
  });
});

describe('MCP tool entries', () => {
  test('gateway entries are taken out; hosted MCP with server_url and other tools stay', () => {
    const fn = { type: 'function', function: { name: 'f' } };
    const hosted = { type: 'mcp', server_label: 'x', server_url: 'https://example.com/mcp' };
    const { entries, rest } = splitMcpToolEntries([fn, { type: 'mcp', server: 'files', allowed_tools: ['a'], max_steps: 2 }, hosted, { type: 'mcp', server_label: 'gh', allowed_tools: { tool_names: ['b'] } }]);
    assert.deepEqual(rest, [fn, hosted]);
    assert.deepEqual(entries, [
      { server: 'files', allowedTools: ['a'], maxSteps: 2, index: 1 },
      { server: 'gh', allowedTools: ['b'], maxSteps: undefined, index: 3 },
    ]);
  });

  test('a bad entry is a 400 naming the field', () => {
    const param = (tools: unknown[]) => {
      try {
        splitMcpToolEntries(tools);
      } catch (err) {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.status, 400);
        return err.param;
      }
      assert.fail('no error');
    };
    assert.equal(param([{ type: 'function' }, { type: 'mcp', server: 'Bad_Alias' }]), 'tools[1].server');
    assert.equal(param([{ type: 'mcp' }]), 'tools[0].server');
    assert.equal(param([{ type: 'mcp', server: '*', max_steps: 0 }]), 'tools[0].max_steps');
  });
});

describe('streamed steps', () => {
  const chunk = (delta: unknown, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

  test('chat: content passes, MCP call deltas and the finish chunk are held back, client-tool deltas pass', () => {
    const step = new ChatStreamStep((n) => n.startsWith('mcp_'), false, {});
    assert.deepEqual(step.push(chunk({ role: 'assistant', content: '' })), [], 'a later step repeats no role delta');
    assert.equal(step.push(chunk({ content: 'Hi' })).length, 1);
    assert.deepEqual(step.push(chunk({ tool_calls: [{ index: 0, id: 'k', type: 'function', function: { name: 'mcp_read', arguments: '' } }] })), []);
    assert.deepEqual(step.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] })), []);
    assert.equal(step.push(chunk({ tool_calls: [{ index: 1, id: 'w', type: 'function', function: { name: 'weather', arguments: '{}' } }] })).length, 1);
    assert.deepEqual(step.push(chunk({}, 'tool_calls')), []);
    assert.deepEqual(step.push('data: [DONE]\n\n'), []);
    assert.deepEqual(step.toolCalls(), [{ id: 'k', name: 'mcp_read', arguments: '{"a":1}' }, { id: 'w', name: 'weather', arguments: '{}' }]);
    assert.equal(step.text(), 'Hi');
    const closing = step.closing('client_tool', undefined);
    assert.match(closing[0]!, /mcp_read/, 'the held-back call goes back with the answer');
    assert.match(closing.at(-2)!, /"finish_reason":"tool_calls"/);
    assert.equal(closing.at(-1), 'data: [DONE]\n\n');
    assert.equal(step.closing('answered', undefined).length, 2, 'finish chunk and [DONE] only');
  });

  test('responses: one sequence across steps, created only once, MCP call events held back', () => {
    const seq = { next: 0 };
    const ev = (type: string, fields: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: 0, ...fields })}\n\n`;
    const first = new ResponsesStreamStep((n) => n.startsWith('mcp_'), true, seq);
    assert.equal(first.push(ev('response.created', { response: {} })).length, 1);
    assert.deepEqual(first.push(ev('response.output_item.added', { output_index: 0, item: { id: 'fc1', type: 'function_call', name: 'mcp_read' } })), []);
    assert.deepEqual(first.push(ev('response.function_call_arguments.delta', { item_id: 'fc1', output_index: 0, delta: '{}' })), []);
    assert.deepEqual(first.push(ev('response.completed', { response: { output: [{ type: 'function_call', call_id: 'k', name: 'mcp_read', arguments: '{}' }], usage: { input_tokens: 3 } } })), []);
    assert.deepEqual(first.toolCalls(), [{ id: 'k', name: 'mcp_read', arguments: '{}' }]);
    const second = new ResponsesStreamStep((n) => n.startsWith('mcp_'), false, seq);
    assert.deepEqual(second.push(ev('response.created', { response: {} })), []);
    const [delta] = second.push(ev('response.output_text.delta', { item_id: 'm', output_index: 0, delta: 'Hi' }));
    assert.match(delta!, /"sequence_number":1/);
    second.push(ev('response.completed', { response: { output: [], usage: { input_tokens: 5 } } }));
    const [completed] = second.closing('answered', { input_tokens: 8 });
    assert.match(completed!, /^event: response\.completed\n/);
    assert.match(completed!, /"usage":\{"input_tokens":8\}/);
    assert.match(completed!, /"sequence_number":2/);
  });
});

test('sumUsage adds numbers field by field, nested ones too', () => {
  assert.deepEqual(sumUsage({ prompt_tokens: 1, details: { cached: 2 } }, { prompt_tokens: 3, details: { cached: 1 }, extra: 4 }), { prompt_tokens: 4, details: { cached: 3 }, extra: 4 });
  assert.deepEqual(sumUsage(undefined, { a: 1 }), { a: 1 });
});
