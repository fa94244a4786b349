import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { ownerOf } from '../../../src/cluster/session-affinity.js';
import { newSessionId, withWorkerHint, workerOfSessionId } from '../../../src/cluster/session-id.js';

const req = (url: string, headers: Record<string, string> = {}) => ({ url, headers }) as unknown as IncomingMessage;

test('a Streamable HTTP session id names its worker; a plain UUID names none', () => {
  assert.equal(workerOfSessionId('w12.6f1c1d2e-1111-4222-8333-944445555666'), 12);
  assert.equal(workerOfSessionId('6f1c1d2e-1111-4222-8333-944445555666'), undefined);
  assert.equal(workerOfSessionId('w.x'), undefined);
  assert.equal(ownerOf(req('/mcp', { 'mcp-session-id': 'w3.abc' })), 3);
  assert.equal(ownerOf(req('/mcp', { 'mcp-session-id': 'abc' })), undefined);
});

test('a legacy SSE message URL names its worker only as a whole query parameter', () => {
  assert.equal(ownerOf(req('/message?sf_worker=2&sessionId=abc')), 2);
  assert.equal(ownerOf(req('/mcp/files/message?sessionId=abc&sf_worker=7')), 7);
  assert.equal(ownerOf(req('/message?not_sf_worker=2&sessionId=abc')), undefined);
  assert.equal(ownerOf(req('/v1/chat/completions')), undefined);
});

test('outside a cluster, session ids and message paths are unchanged', () => {
  assert.match(newSessionId(), /^[0-9a-f-]{36}$/);
  assert.equal(withWorkerHint('/message'), '/message');
});
