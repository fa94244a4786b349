import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { BusHub } from '../../../src/cluster/bus-hub.js';

/** The part of a cluster worker the hub uses: its id, its IPC messages, send() and isConnected(). */
class FakeWorker extends EventEmitter {
  readonly sent: unknown[] = [];
  constructor(readonly id: number) {
    super();
  }
  send(msg: unknown): boolean {
    this.sent.push(msg);
    return true;
  }
  isConnected(): boolean {
    return true;
  }
}

function setUp(n: number): { hub: BusHub; workers: FakeWorker[] } {
  const hub = new BusHub();
  const workers = Array.from({ length: n }, (_, i) => new FakeWorker(i + 1));
  for (const w of workers) {
    hub.add(w as unknown as Worker);
    w.emit('message', { sf: 'bus-join', id: 0 });
  }
  return { hub, workers };
}

test('a message goes to every other worker; the publisher hears "done" once all have acknowledged', () => {
  const { workers } = setUp(3);
  const [a, b, c] = workers as [FakeWorker, FakeWorker, FakeWorker];
  a.emit('message', { sf: 'bus', id: 41, key: '/db', channel: 'access', message: 'm' });
  assert.equal(a.sent.length, 0);
  const toB = b.sent[0] as { id: number; channel: string; message: string };
  const toC = c.sent[0] as { id: number };
  assert.deepEqual([toB.channel, toB.message], ['access', 'm']);
  b.emit('message', { sf: 'bus-ack', id: toB.id });
  assert.equal(a.sent.length, 0, 'still waiting for c');
  c.emit('message', { sf: 'bus-ack', id: toC.id });
  assert.deepEqual(a.sent, [{ sf: 'bus-done', id: 41 }]);
});

test('a worker that dies, or has not joined yet, is not waited for', () => {
  const hub = new BusHub();
  const a = new FakeWorker(1);
  const b = new FakeWorker(2);
  const late = new FakeWorker(3);
  for (const w of [a, b, late]) hub.add(w as unknown as Worker);
  a.emit('message', { sf: 'bus-join', id: 0 });
  b.emit('message', { sf: 'bus-join', id: 0 });
  a.emit('message', { sf: 'bus', id: 1, key: '/db', channel: 'x', message: '1' });
  assert.equal(late.sent.length, 0, 'a worker still starting gets nothing (it reads the store after subscribing)');
  hub.remove(b as unknown as Worker);
  assert.deepEqual(a.sent, [{ sf: 'bus-done', id: 1 }]);
});

test('alone, a publisher is done at once', () => {
  const { workers } = setUp(1);
  workers[0]!.emit('message', { sf: 'bus', id: 9, key: '/db', channel: 'x', message: '1' });
  assert.deepEqual(workers[0]!.sent, [{ sf: 'bus-done', id: 9 }]);
});
