import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { SessionEventStore } from '../../../src/mcp/downstream/event-store.js';

const note = (n: number): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'notifications/message', params: { n } });

async function replay(store: SessionEventStore, after: string): Promise<{ stream: string; sent: Array<[string, JSONRPCMessage]> }> {
  const sent: Array<[string, JSONRPCMessage]> = [];
  const stream = await store.replayEventsAfter(after, { send: async (id, message) => void sent.push([id, message]) });
  return { stream, sent };
}

test('replays the events of the same stream after the given id, in order, without priming events', async () => {
  const store = new SessionEventStore({ maxEvents: 100, maxBytes: 1_000_000 });
  const priming = await store.storeEvent('_GET_stream', {} as JSONRPCMessage);
  const a = await store.storeEvent('_GET_stream', note(1));
  await store.storeEvent('post-1', note(99));
  const b = await store.storeEvent('_GET_stream', note(2));
  assert.equal(await store.getStreamIdForEventId(a), '_GET_stream');
  const fromPriming = await replay(store, priming);
  assert.equal(fromPriming.stream, '_GET_stream');
  assert.deepEqual(fromPriming.sent, [[a, note(1)], [b, note(2)]]);
  assert.deepEqual((await replay(store, a)).sent, [[b, note(2)]]);
});

test('bounded by count and by bytes: the oldest events go; ids it never gave out map to no stream', async () => {
  const byCount = new SessionEventStore({ maxEvents: 2, maxBytes: 1_000_000 });
  const ids = [];
  for (let n = 1; n <= 4; n++) ids.push(await byCount.storeEvent('s', note(n)));
  assert.equal(byCount.size, 2);
  assert.deepEqual((await replay(byCount, ids[0]!)).sent.map(([, m]) => m), [note(3), note(4)]);

  const size = Buffer.byteLength(JSON.stringify(note(1)));
  const byBytes = new SessionEventStore({ maxEvents: 100, maxBytes: size * 2 });
  for (let n = 1; n <= 5; n++) await byBytes.storeEvent('s', note(n));
  assert.equal(byBytes.size, 2);

  const dropped = new SessionEventStore({ maxEvents: 1, maxBytes: 1_000_000 });
  const gone = await dropped.storeEvent('old-stream', note(1));
  await dropped.storeEvent('new-stream', note(2));
  assert.equal(await dropped.getStreamIdForEventId(gone), undefined, 'a stream none of whose events are left is forgotten');
  for (const forged of ['', 'x', '0_new-stream', '99_new-stream', '1_other', '1']) assert.equal(await dropped.getStreamIdForEventId(forged), undefined, forged);
});
