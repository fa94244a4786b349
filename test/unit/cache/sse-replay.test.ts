import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isUsageOnlyFrame, replayAnswer } from '../../../src/cache/sse-replay.js';
import { sseFrame } from '../../../src/providers/upstream-stream.js';

const usage = { input_tokens: 12, cached_input_tokens: 2, output_tokens: 5 };

const completion = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini',
  system_fingerprint: 'fp_1',
  choices: [
    { index: 0, message: { role: 'assistant', content: 'Hello there', refusal: null }, logprobs: null, finish_reason: 'stop' },
    { index: 1, message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] }, logprobs: null, finish_reason: 'tool_calls' },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 2 } },
};

async function collect(frames: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

const chunks = (frames: string[]) => frames.filter((f) => f !== 'data: [DONE]\n\n').map((f) => JSON.parse(f.slice(6)));

describe('replaying cached answers', () => {
  test('a JSON answer asked for as JSON is the text itself', () => {
    const text = JSON.stringify(completion);
    assert.deepEqual(replayAnswer({ kind: 'json', text }, usage, { stream: false, includeUsage: false }), { kind: 'json', text });
  });

  test('a JSON answer asked for as a stream: valid chunks per choice, [DONE] last, usage chunk only when asked', async () => {
    const replay = replayAnswer({ kind: 'json', text: JSON.stringify(completion) }, usage, { stream: true, includeUsage: true });
    assert.equal(replay.kind, 'stream');
    const frames = await collect((replay as { frames: AsyncIterable<string> }).frames);
    assert.equal(frames.at(-1), 'data: [DONE]\n\n');
    const parsed = chunks(frames);
    for (const c of parsed) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, 'chatcmpl-1');
      assert.equal(c.model, 'gpt-4o-mini');
    }
    assert.deepEqual(parsed.at(-1), { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini', choices: [], usage: completion.usage });
    const text = parsed.flatMap((c) => c.choices).filter((ch) => ch.index === 0).map((ch) => ch.delta.content ?? '').join('');
    assert.equal(text, 'Hello there');
    const tool = parsed.flatMap((c) => c.choices).find((ch) => ch.delta.tool_calls)?.delta.tool_calls[0];
    assert.deepEqual(tool, { index: 0, id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } });

    const plain = replayAnswer({ kind: 'json', text: JSON.stringify(completion) }, usage, { stream: true, includeUsage: false });
    const plainFrames = await collect((plain as { frames: AsyncIterable<string> }).frames);
    assert.ok(!plainFrames.some(isUsageOnlyFrame));
    assert.equal(plainFrames.length, frames.length - 1);
  });

  test('a stream asked for as JSON, and back: the round trip keeps content, tool calls, finish reasons and usage', async () => {
    const replay = replayAnswer({ kind: 'json', text: JSON.stringify(completion) }, usage, { stream: true, includeUsage: false });
    const frames = (await collect((replay as { frames: AsyncIterable<string> }).frames)).slice(0, -1);
    const back = replayAnswer({ kind: 'sse', frames }, usage, { stream: false, includeUsage: false });
    assert.equal(back.kind, 'json');
    assert.deepEqual(JSON.parse((back as { text: string }).text), completion);
  });

  test('a stream of small deltas assembles: content and tool-call arguments concatenated by index', () => {
    const head = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const frames = [
      sseFrame({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
      sseFrame({ ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '' } }] }, finish_reason: null }] }),
      sseFrame({ ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'g', arguments: '{' } }] }, finish_reason: null }] }),
      sseFrame({ ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }, finish_reason: null }] }),
      sseFrame({ ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, finish_reason: null }] }),
      sseFrame({ ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, function: { arguments: '}' } }] }, finish_reason: null }] }),
      sseFrame({ ...head, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
    ];
    const json = JSON.parse((replayAnswer({ kind: 'sse', frames }, usage, { stream: false, includeUsage: false }) as { text: string }).text);
    assert.deepEqual(json.choices[0].message, {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
        { id: 'call_b', type: 'function', function: { name: 'g', arguments: '{}' } },
      ],
    });
    assert.equal(json.choices[0].finish_reason, 'tool_calls');
  });

  test('SSE comments in a cached stream (a resumed stream\'s marker) are replayed, and skipped when assembling', () => {
    const head = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const frames = [
      sseFrame({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] }),
      ': resumed on another target\n\n',
      sseFrame({ ...head, choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }] }),
    ];
    const json = JSON.parse((replayAnswer({ kind: 'sse', frames }, usage, { stream: false, includeUsage: false }) as { text: string }).text);
    assert.equal(json.choices[0].message.content, 'Hello');
  });

  test('a cached stream replays its own frames unchanged', async () => {
    const frames = [sseFrame({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }] })];
    const replay = replayAnswer({ kind: 'sse', frames }, usage, { stream: true, includeUsage: false });
    assert.deepEqual(await collect((replay as { frames: AsyncIterable<string> }).frames), [...frames, 'data: [DONE]\n\n']);
  });

  test('what cannot be converted throws (the stage then treats it as a miss)', () => {
    assert.throws(() => replayAnswer({ kind: 'json', text: '{"object":"list","data":[]}' }, usage, { stream: true, includeUsage: false }));
  });

  test('the usage-only chunk is recognised whatever the spacing', () => {
    assert.equal(isUsageOnlyFrame('data: {"id":"x","choices": [ ],"usage": {"prompt_tokens":1}}\n\n'), true);
    assert.equal(isUsageOnlyFrame('data: {"id":"x","choices":[{"index":0,"delta":{}}],"usage":null}\n\n'), false);
    assert.equal(isUsageOnlyFrame('data: {"id":"x","choices":[{"index":0,"delta":{"content":"\\"usage\\": {"}}]}\n\n'), false);
  });
});
