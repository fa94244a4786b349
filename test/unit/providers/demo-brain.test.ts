import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demoAnswer, type DemoTurn } from '../../../src/providers/demo/brain.js';

const pathParams = { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] };
const turn = (last: DemoTurn['last'], tools: DemoTurn['tools']): DemoTurn => ({ promptText: last.text, last, tools, toolsForbidden: false });

test('offered a filesystem server\'s tools, the demo model reads the file the user names', () => {
  const tools = [
    { name: 'files_list_directory', parameters: pathParams },
    { name: 'files_read_file', parameters: pathParams },
    { name: 'files_read_text_file', parameters: pathParams },
  ];
  const answer = demoAnswer(turn({ kind: 'user', text: 'Please read notes/welcome.txt for me' }, tools));
  assert.deepEqual(answer.toolCalls.map((c) => [c.name, c.arguments]), [['files_read_text_file', { path: 'notes/welcome.txt' }]]);
});

test('without a reading tool it calls the first tool offered; after a tool result it answers from it', () => {
  const weather = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
  assert.deepEqual(demoAnswer(turn({ kind: 'user', text: 'Lima' }, [weather])).toolCalls.map((c) => [c.name, c.arguments]), [['get_weather', { city: 'Lima' }]]);
  const after = demoAnswer(turn({ kind: 'tool_result', text: 'file content' }, [weather]));
  assert.equal(after.text, 'The tool returned: file content');
  assert.deepEqual(after.toolCalls, []);
});
