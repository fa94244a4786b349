import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SseParser } from '../../../src/providers/sse-parser.js';
import type { SseEvent } from '../../../src/providers/types.js';

/** Feeds the pieces one by one, then flushes; returns every event in order. */
function parseAll(pieces: Iterable<string>): SseEvent[] {
  const parser = new SseParser();
  const out: SseEvent[] = [];
  for (const p of pieces) out.push(...parser.push(p));
  out.push(...parser.flush());
  return out;
}

/** An Anthropic-like stream mixing every feature: event lines, comments, multi-line data, non-ASCII. */
const MIXED =
  ': keep-alive comment\n' +
  'event: message_start\n' +
  'data: {"type":"message_start","text":"héllo 🌍"}\n' +
  '\n' +
  'data: first line\n' +
  ': a comment between data lines\n' +
  'data: second line\n' +
  '\n' +
  'id: 42\n' +
  'retry: 1000\n' +
  'event: ping\n' +
  'data: {}\n' +
  '\n' +
  'data: [DONE]\n' +
  '\n';

const MIXED_EVENTS: SseEvent[] = [
  { event: 'message_start', data: '{"type":"message_start","text":"héllo 🌍"}' },
  { data: 'first line\nsecond line' },
  { event: 'ping', data: '{}' },
  { data: '[DONE]' },
];

describe('SseParser', () => {
  test('parses a whole stream pushed at once', () => {
    assert.deepEqual(parseAll([MIXED]), MIXED_EVENTS);
  });

  test('events split character by character come out the same', () => {
    assert.deepEqual(parseAll([...MIXED]), MIXED_EVENTS);
  });

  test('every two-piece split of the stream gives the same events', () => {
    for (let i = 0; i <= MIXED.length; i++) {
      assert.deepEqual(parseAll([MIXED.slice(0, i), MIXED.slice(i)]), MIXED_EVENTS, `split at ${i}`);
    }
  });

  test('bytes fed one at a time through a streaming TextDecoder (multi-byte UTF-8 split) come out the same', () => {
    const bytes = new TextEncoder().encode(MIXED);
    const decoder = new TextDecoder();
    const pieces: string[] = [];
    for (const b of bytes) pieces.push(decoder.decode(Uint8Array.of(b), { stream: true }));
    assert.deepEqual(parseAll(pieces), MIXED_EVENTS);
  });

  test('events are returned as soon as their blank line arrives, not later', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('data: a\n'), []);
    assert.deepEqual(parser.push('\n'), [{ data: 'a' }]);
    assert.deepEqual(parser.push('data: b\n\ndata: c'), [{ data: 'b' }]);
    assert.deepEqual(parser.push('\n\n'), [{ data: 'c' }]);
  });

  test('CRLF line endings, including a CR and LF split across chunks', () => {
    const crlf = MIXED.replaceAll('\n', '\r\n');
    assert.deepEqual(parseAll([crlf]), MIXED_EVENTS);
    assert.deepEqual(parseAll([...crlf]), MIXED_EVENTS);
    const parser = new SseParser();
    assert.deepEqual(parser.push('data: x\r'), []);
    assert.deepEqual(parser.push('\n\r'), []);
    assert.deepEqual(parser.push('\n'), [{ data: 'x' }]);
  });

  test('no carriage return leaks into the data', () => {
    for (const e of parseAll(['data: one\r\ndata: two\r\n\r\n'])) assert.ok(!e.data.includes('\r'));
    assert.deepEqual(parseAll(['data: one\r\ndata: two\r\n\r\n']), [{ data: 'one\ntwo' }]);
  });

  test('multi-line data is joined with \\n', () => {
    assert.deepEqual(parseAll(['data: {\ndata:   "a": 1\ndata: }\n\n']), [{ data: '{\n  "a": 1\n}' }]);
  });

  test('only one space after the colon is stripped; no space is fine too', () => {
    assert.deepEqual(parseAll(['data:no-space\n\n', 'data:  two-spaces\n\n']), [{ data: 'no-space' }, { data: ' two-spaces' }]);
  });

  test('data containing colons is kept whole', () => {
    assert.deepEqual(parseAll(['data: {"url":"http://x:1/a"}\n\n']), [{ data: '{"url":"http://x:1/a"}' }]);
  });

  test('comments alone produce no event', () => {
    assert.deepEqual(parseAll([': ping\n\n', ':\n\n', ': another\n']), []);
  });

  test('event: lines name the next event only; the name resets after dispatch', () => {
    assert.deepEqual(parseAll(['event: content_block_delta\ndata: 1\n\ndata: 2\n\n']), [{ event: 'content_block_delta', data: '1' }, { data: '2' }]);
  });

  test('the event name may come after the data lines', () => {
    assert.deepEqual(parseAll(['data: 1\nevent: late\n\n']), [{ event: 'late', data: '1' }]);
  });

  test('a block without data lines dispatches nothing, and its event name does not leak into the next event', () => {
    assert.deepEqual(parseAll(['event: orphan\n\ndata: next\n\n']), [{ data: 'next' }]);
  });

  test('unknown fields, id and retry are ignored', () => {
    assert.deepEqual(parseAll(['foo: bar\nid: 7\nretry: 10\ndata: x\n\n']), [{ data: 'x' }]);
  });

  test('extra blank lines between events are harmless', () => {
    assert.deepEqual(parseAll(['\n\n\ndata: a\n\n\n\n\ndata: b\n\n\n']), [{ data: 'a' }, { data: 'b' }]);
  });

  test('flush() returns a trailing event that had no blank line', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('data: a\n\ndata: tail'), [{ data: 'a' }]);
    assert.deepEqual(parser.flush(), [{ data: 'tail' }]);
  });

  test('flush() returns a trailing event whose last line ended but had no blank line (LF and CRLF)', () => {
    for (const tail of ['event: end\ndata: last\n', 'event: end\r\ndata: last\r\n']) {
      const parser = new SseParser();
      assert.deepEqual(parser.push(tail), []);
      assert.deepEqual(parser.flush(), [{ event: 'end', data: 'last' }]);
    }
  });

  test('flush() with nothing pending returns nothing', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.flush(), []);
    assert.deepEqual(parser.push('data: a\n\n'), [{ data: 'a' }]);
    assert.deepEqual(parser.flush(), []);
    const commentOnly = new SseParser();
    commentOnly.push(': just a comment');
    assert.deepEqual(commentOnly.flush(), []);
  });

  test('a large event arriving in many chunks is assembled exactly', () => {
    const payload = JSON.stringify({ text: 'x'.repeat(100_000) });
    const text = `data: ${payload}\n\n`;
    const pieces: string[] = [];
    for (let i = 0; i < text.length; i += 997) pieces.push(text.slice(i, i + 997));
    assert.deepEqual(parseAll(pieces), [{ data: payload }]);
  });
});
