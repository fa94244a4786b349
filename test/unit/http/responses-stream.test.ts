import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { responsesClientFrames } from '../../../src/http/responses-stream.js';
import type { RequestLog } from '../../../src/core/request-log.js';

const frame = (type: string, seq: number, fields: Record<string, unknown> = {}) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq, ...fields })}\n\n`;
const CREATED = frame('response.created', 0, { response: { id: 'resp_1', object: 'response', status: 'in_progress', output: [], usage: null } });
const DELTA = frame('response.output_text.delta', 1, { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'say "sequence_number":99' });

const logged: unknown[] = [];
const log = { trace() {}, debug() {}, info() {}, warn() {}, error: (obj: unknown) => logged.push(obj) } as unknown as RequestLog;

async function collect(frames: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

async function* source(frames: string[], failWith?: Error): AsyncGenerator<string> {
  for (const f of frames) yield f;
  if (failWith) throw failWith;
}

test('the clean-end marker is not sent on', async () => {
  assert.deepEqual(await collect(responsesClientFrames(source([CREATED, DELTA, 'data: [DONE]\n\n']), log)), [CREATED, DELTA]);
});

test('an error before the first frame is thrown on, so the client gets an error response with its status', async () => {
  const err = new GatewayError('SF_ERR_UPSTREAM_RATE_LIMITED', { status: 429 });
  await assert.rejects(collect(responsesClientFrames(source([], err), log)), (e) => e === err);
});

test('an error after the first frame becomes an error event and response.failed, numbered after the last event', async () => {
  const frames = await collect(responsesClientFrames(source([CREATED, DELTA], new GatewayError('SF_ERR_STREAM_INTERRUPTED')), log));
  assert.equal(frames.length, 4);
  const events = frames.slice(2).map((f) => {
    const [eventLine, dataLine] = f.split('\n');
    return { name: eventLine, data: JSON.parse(dataLine!.slice('data: '.length)) };
  });
  assert.deepEqual(events[0], {
    name: 'event: error',
    data: { type: 'error', sequence_number: 2, code: 'stream_interrupted', message: 'The provider\'s stream ended before the answer was complete.', param: null },
  });
  assert.deepEqual(events[1], {
    name: 'event: response.failed',
    data: { type: 'response.failed', sequence_number: 3, response: { id: 'resp_1', object: 'response', status: 'failed', output: [], usage: null, error: { code: 'stream_interrupted', message: 'The provider\'s stream ended before the answer was complete.' } } },
  });
});

test('without a response.created first, only the error event is sent; internal errors are logged, their message is not sent', async () => {
  logged.length = 0;
  const frames = await collect(responsesClientFrames(source([DELTA], new Error('secret detail')), log));
  assert.equal(frames.length, 2);
  assert.match(frames[1]!, /^event: error\ndata: \{"type":"error","sequence_number":2,"code":"internal_error"/);
  assert.doesNotMatch(frames[1]!, /secret detail/);
  assert.equal(logged.length, 1);
});

test('a client that stops reading stops the upstream read', async () => {
  let returned = false;
  async function* upstream(): AsyncGenerator<string> {
    try {
      yield CREATED;
      yield DELTA;
    } finally {
      returned = true;
    }
  }
  for await (const f of responsesClientFrames(upstream(), log)) {
    assert.equal(f, CREATED);
    break;
  }
  assert.equal(returned, true);
});
