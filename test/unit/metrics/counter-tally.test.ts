import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { CounterTally } from '../../../src/metrics/counter-tally.js';

test('increments gathered in a tally show in every scrape, as direct increments would', async () => {
  const registry = new Registry();
  const tally = new CounterTally<'model' | 'status'>();
  new Counter({ name: 'calls_total', help: 'h', labelNames: ['model', 'status'], registers: [registry], collect() { tally.fold(this); } });
  const direct = new Counter({ name: 'direct_total', help: 'h', labelNames: ['model', 'status'], registers: [registry] });
  const add = (model: string, status: string, value: number) => {
    tally.add(`${model}\u0000${status}`, () => ({ model, status }), value);
    direct.inc({ model, status }, value);
  };
  add('a', '200', 1);
  add('a', '200', 2);
  add('b', '500', 1);
  const lines = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(name)).map((l) => l.slice(name.length));
  let text = await registry.metrics();
  assert.deepEqual(lines(text, 'calls_total'), lines(text, 'direct_total'));
  assert.deepEqual(lines(text, 'calls_total'), ['{model="a",status="200"} 3', '{model="b",status="500"} 1']);
  // Nothing new: the same values again, not zero and not doubled.
  text = await registry.metrics();
  assert.deepEqual(lines(text, 'calls_total'), ['{model="a",status="200"} 3', '{model="b",status="500"} 1']);
  add('a', '200', 4);
  text = await registry.metrics();
  assert.deepEqual(lines(text, 'calls_total'), lines(text, 'direct_total'));
  assert.deepEqual(lines(text, 'calls_total'), ['{model="a",status="200"} 7', '{model="b",status="500"} 1']);
});
