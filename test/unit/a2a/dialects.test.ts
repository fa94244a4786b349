import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventOut, messageIn, resolveMethod, sendResultOut, taskOut } from '../../../src/a2a/dialects.js';

test('method names: 0.3 by default with the 0.1 names understood, 1.0 names only under 1.0', () => {
  assert.deepEqual(resolveMethod('message/send', '0.3'), { dialect: '0.3', op: 'send' });
  assert.deepEqual(resolveMethod('tasks/sendSubscribe', '0.3'), { dialect: '0.1', op: 'stream' });
  assert.deepEqual(resolveMethod('SubscribeToTask', '1.0'), { dialect: '1.0', op: 'resubscribe' });
  assert.equal(resolveMethod('SendMessage', '0.3'), undefined);
  assert.equal(resolveMethod('message/send', '1.0'), undefined);
  assert.equal(resolveMethod('toString', '0.3'), undefined, 'no prototype names');
  assert.equal(resolveMethod('constructor', '1.0'), undefined);
});

test('messages in: 0.1 type and sessionId, 1.0 roles and parts, unknown fields kept', () => {
  const v01 = messageIn({ role: 'user', sessionId: 's1', parts: [{ type: 'text', text: 'hi', extra: 1 }] });
  assert.equal(v01.contextId, 's1');
  assert.deepEqual(v01.parts, [{ kind: 'text', text: 'hi', extra: 1 }]);
  assert.ok(v01.messageId);
  const v10 = messageIn({ messageId: 'm', role: 'ROLE_AGENT', parts: [{ text: 'a' }, { data: { x: 1 } }, { url: 'https://x/y.pdf', mediaType: 'application/pdf', filename: 'y.pdf' }, { hologram: true }], extensions: ['e'] });
  assert.equal(v10.role, 'agent');
  assert.deepEqual(v10.parts, [
    { kind: 'text', text: 'a' },
    { kind: 'data', data: { x: 1 } },
    { kind: 'file', file: { uri: 'https://x/y.pdf', mimeType: 'application/pdf', name: 'y.pdf' } },
    { kind: 'unknown', hologram: true },
  ]);
  assert.deepEqual(v10.extensions, ['e']);
});

test('tasks and events out: 1.0 enums, wrapping and no final; 0.1 sessionId and type', () => {
  const task = { kind: 'task', id: 't', contextId: 'c', status: { state: 'input-required', timestamp: 'now' }, history: [{ kind: 'message', role: 'user', messageId: 'm', parts: [{ kind: 'text', text: 'hi' }] }], artifacts: [{ artifactId: 'a', parts: [{ kind: 'file', file: { bytes: 'QQ==', mimeType: 'text/plain' } }] }] };
  const v10 = sendResultOut(task, '1.0') as any;
  assert.equal(v10.task.status.state, 'TASK_STATE_INPUT_REQUIRED');
  assert.equal(v10.task.history[0].role, 'ROLE_USER');
  assert.deepEqual(v10.task.artifacts[0].parts[0], { raw: 'QQ==', mediaType: 'text/plain' });
  assert.equal(v10.task.kind, undefined);
  const v01 = taskOut(task, '0.1') as any;
  assert.equal(v01.sessionId, 'c');
  assert.equal(v01.history[0].parts[0].type, 'text');
  const status = { seq: 3, kind: 'status-update' as const, taskId: 't', contextId: 'c', status: { state: 'completed' as const, timestamp: 'now' }, final: true };
  assert.deepEqual(eventOut(status, '1.0'), { statusUpdate: { taskId: 't', contextId: 'c', status: { state: 'TASK_STATE_COMPLETED', timestamp: 'now' } } });
  assert.deepEqual(eventOut(status, '0.3'), { kind: 'status-update', taskId: 't', contextId: 'c', status: { state: 'completed', timestamp: 'now' }, final: true });
  assert.deepEqual(eventOut(status, '0.1'), { id: 't', status: { state: 'completed', timestamp: 'now' }, final: true });
});
