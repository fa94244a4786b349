import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { createOriginCheck } from '../../../src/mcp/downstream/origin-check.js';
import { decodeCursor, encodeCursor } from '../../../src/mcp/downstream/tool-cursor.js';
import { prefixedToolName, splitToolName } from '../../../src/mcp/downstream/tool-names.js';

describe('/mcp tool names, cursors and Origin check', () => {
  test('the first underscore splits alias and tool; tool names keep theirs', () => {
    assert.equal(prefixedToolName('my-srv', 'get_thing_x'), 'my-srv_get_thing_x');
    assert.deepEqual(splitToolName('my-srv_get_thing_x'), { alias: 'my-srv', tool: 'get_thing_x' });
    assert.equal(splitToolName('noprefix'), null);
    assert.equal(splitToolName('_tool'), null);
    assert.equal(splitToolName('alias_'), null);
  });

  test('cursors round-trip; a foreign cursor is -32602', () => {
    assert.equal(decodeCursor(undefined), 0);
    assert.equal(decodeCursor(encodeCursor(200)), 200);
    assert.throws(() => decodeCursor('bogus'), (err: unknown) => err instanceof McpError && err.code === ErrorCode.InvalidParams);
  });

  test('Origin: absent passes, own host and allow-listed pass, others and non-http schemes fail', () => {
    const allowed = createOriginCheck(['https://App.example.com/']);
    assert.equal(allowed(undefined, 'gw:4000'), true);
    assert.equal(allowed('http://gw:4000', 'gw:4000'), true);
    assert.equal(allowed('https://app.example.com', 'gw:4000'), true);
    assert.equal(allowed('https://evil.example.com', 'gw:4000'), false);
    assert.equal(allowed('null', 'gw:4000'), false);
    assert.equal(allowed('file://gw:4000', 'gw:4000'), false);
    assert.equal(allowed('http://gw:4000', undefined), false);
  });
});
