import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser, type SseEvent } from '../../../src/mcp/upstream/sse-parser.js';

function parse(chunks: string[]): { events: SseEvent[]; retries: number[] } {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const parser = new SseParser((e) => events.push(e), (ms) => retries.push(ms));
  for (const chunk of chunks) parser.push(chunk);
  return { events, retries };
}

test('events split anywhere across chunks, with CRLF, CR or LF line ends, come out whole', () => {
  const stream = 'event: message\r\nid: 1_a\r\ndata: {"x":1}\r\n\r\n: keepalive\n\nid: 2_a\rdata: \r\rdata: line1\ndata: line2\n\n';
  const expected = [
    { event: 'message', id: '1_a', data: '{"x":1}' },
    { event: undefined, id: '2_a', data: '' },
    { event: undefined, id: undefined, data: 'line1\nline2' },
  ];
  assert.deepEqual(parse([stream]).events, expected);
  for (let cut = 1; cut < stream.length; cut++) assert.deepEqual(parse([stream.slice(0, cut), stream.slice(cut)]).events, expected, `cut at ${cut}`);
  assert.deepEqual(parse([...stream]).events, expected);
});

test('retry fields reach onRetry; an event not yet ended by a blank line is not dispatched', () => {
  const { events, retries } = parse(['retry: 500\n', 'retry: x\n\n', 'data: {"open":true}\n']);
  assert.deepEqual(retries, [500]);
  assert.deepEqual(events, []);
});
