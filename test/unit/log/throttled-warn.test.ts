import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { throttledWarn } from '../../../src/log/throttled-warn.js';
import { LogCollector } from '../../helpers/build-app.js';

test('a repeating failure is logged at once, then once per interval with how many repeated', () => {
  const logs = new LogCollector();
  let clock = 0;
  const warn = throttledWarn(pino({ level: 'info' }, logs), 30_000, 'writes failing', () => clock);
  warn(new Error('first'));
  for (let i = 0; i < 5; i++) {
    clock += 1_000;
    warn(new Error('again'));
  }
  assert.equal(logs.lines.length, 1);
  clock += 30_000;
  warn(new Error('later'));
  assert.equal(logs.lines.length, 2);
  const second = JSON.parse(logs.lines[1]!);
  assert.equal(second.msg, 'writes failing');
  assert.equal(second.repeated, 5);
  assert.equal(second.err.message, 'later');
});
