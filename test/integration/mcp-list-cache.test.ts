import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { textOf } from '../helpers/mcp.js';

const PROBE = resolve('test/helpers/mcp-probe-server.ts');
describe('upstream tool lists are served from memory until the server says they changed', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway();
    const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'probe', command: process.execPath, args: ['--import', 'tsx', PROBE] } });
    assert.equal(res.status, 201, res.text);
  });

  after(async () => {
    await gw?.close();
  });

  const pool = () => gw.gateway.mcpUpstreams;
  const listings = async () => Number(textOf(await pool().callTool('probe', 'tool-lists', {})));

  test('repeated and concurrent listings ask the server once; a tools/list_changed makes the next listing ask again and see the new tool', async () => {
    await pool().listTools('probe');
    const before = await listings();
    const lists = await Promise.all(Array.from({ length: 20 }, () => pool().listTools('probe')));
    assert.ok(lists.every((l) => !l.stale && l.tools.some((t) => t.name === 'add-tool')));
    assert.equal(await listings(), before, 'twenty listings of a server that announces list changes were answered from memory');

    await pool().callTool('probe', 'add-tool', { name: 'fresh-tool' });
    const deadline = Date.now() + 5000;
    let names: string[] = [];
    while (Date.now() < deadline) {
      names = (await pool().listTools('probe')).tools.map((t) => t.name);
      if (names.includes('fresh-tool')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(names.includes('fresh-tool'), `the new tool is listed after the notification: ${names.join(',')}`);
    assert.ok((await listings()) > before, 'the server was asked again after it announced the change');
  });

  test('a restarted server is listed again over its new connection', async () => {
    await pool().listTools('probe');
    const pid = pool().pid('probe');
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (pool().pid('probe') === null || pool().pid('probe') === pid)) {
      await pool().listTools('probe').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.notEqual(pool().pid('probe'), pid, 'restarted');
    await pool().listTools('probe');
    assert.equal(await listings(), 1, 'the new process answered exactly one listing: the first one over its connection');
  });
});
