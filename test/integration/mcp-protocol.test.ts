import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  LoggingMessageNotificationSchema,
  ProgressNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
  type LoggingMessageNotification,
  type Progress,
  type Prompt,
  type Resource,
  type ResourceTemplate,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { authHeaders, startTestGateway, MASTER_KEY, type TestGateway } from '../helpers/build-app.js';
import { call } from '../helpers/http.js';
import { freePort, textOf, until } from '../helpers/mcp.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const PROBE = resolve('test/helpers/mcp-probe-server.ts');
const loose = z.looseObject({});

/** Every item of a paginated list, and how many pages it took. */
async function all<T>(fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== undefined);
  return { items, pages };
}
const allResources = (c: Client) => all<Resource>(async (cursor) => { const r = await c.listResources(cursor ? { cursor } : {}); return { items: r.resources, nextCursor: r.nextCursor }; });
const allTemplates = (c: Client) => all<ResourceTemplate>(async (cursor) => { const r = await c.listResourceTemplates(cursor ? { cursor } : {}); return { items: r.resourceTemplates, nextCursor: r.nextCursor }; });
const allPrompts = (c: Client) => all<Prompt>(async (cursor) => { const r = await c.listPrompts(cursor ? { cursor } : {}); return { items: r.prompts, nextCursor: r.nextCursor }; });

/** Notifications a client heard, by kind. */
interface Heard {
  tools: number;
  resources: number;
  prompts: number;
  logs: LoggingMessageNotification['params'][];
}

describe('/mcp beyond tools: resources, prompts, completion, logging, list_changed, progress and cancellation', () => {
  let gw: TestGateway;
  let http: ChildProcess;
  let limitedKey: string;
  const clients: Client[] = [];
  const open = async (path: string, key = MASTER_KEY): Promise<{ client: Client; heard: Heard }> => {
    const client = new Client({ name: 'smartflow-test', version: '1.0.0' });
    const heard: Heard = { tools: 0, resources: 0, prompts: 0, logs: [] };
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void (heard.tools += 1));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void (heard.resources += 1));
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => void (heard.prompts += 1));
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void heard.logs.push(n.params));
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}${path}`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    clients.push(client);
    return { client, heard };
  };
  const register = async (body: Record<string, unknown>) => {
    const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body });
    assert.equal(res.status, 201, res.text);
  };

  before(async () => {
    const port = await freePort();
    http = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], { env: { PATH: process.env.PATH ?? '', PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
    http.stderr!.resume();
    await until('server-everything over streamable http', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
      await res.body?.cancel();
      return true;
    });
    gw = await startTestGateway({ mcp: { tools_page_size: 3 } });
    await register({ alias: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] });
    await register({ alias: 'probe', command: process.execPath, args: ['--import', 'tsx', PROBE] });
    await register({ alias: 'remote', url: `http://127.0.0.1:${port}/mcp`, transport: 'streamable-http' });
    // mcp_tools limits tools only: the key still sees every resource and prompt of "everything".
    const key = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { alias: 'mcp-one', mcp_servers: ['everything'], mcp_tools: ['everything/echo'] } });
    assert.equal(key.status, 201, key.text);
    limitedKey = key.json.key;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw?.close();
    if (http && http.exitCode === null) {
      const exited = new Promise((r) => http.once('exit', r));
      http.kill('SIGTERM');
      await exited;
    }
  });

  test('resources: listed over several pages with gateway URIs, read back through the mapped URI; a template expands to a URI that routes back; unknown fields pass', async () => {
    const { client } = await open('/mcp');
    const { items: resources, pages } = await allResources(client);
    assert.ok(pages > 1, `page size 3 gives several pages, got ${pages}`);
    const uris = resources.map((r) => r.uri);
    assert.equal(new Set(uris).size, uris.length);
    const doc = 'smartflow://everything/demo://resource/static/document/architecture.md';
    assert.ok(uris.includes(doc), uris.join(','));
    assert.ok(uris.some((u) => u.startsWith('smartflow://remote/demo://')), 'the streamable http server is aggregated too');
    assert.ok(uris.every((u) => /^smartflow:\/\/(everything|probe|remote)\//.test(u)), uris.join(','));

    const read = await client.readResource({ uri: doc });
    assert.equal(read.contents[0]!.uri, doc, 'contents carry the mapped URI');
    assert.match(String((read.contents[0] as { text?: string }).text), /architecture/i);

    const { items: templates } = await allTemplates(client);
    const template = templates.find((t) => t.uriTemplate === 'smartflow://everything/demo://resource/dynamic/text/{resourceId}');
    assert.ok(template, JSON.stringify(templates));
    const expanded = template.uriTemplate.replace('{resourceId}', '7');
    const dynamic = await client.readResource({ uri: expanded });
    assert.equal(dynamic.contents[0]!.uri, expanded);
    assert.match(String((dynamic.contents[0] as { text?: string }).text), /7/);

    // Fields the gateway does not know come through: icons, annotations, _meta in lists; unknown result fields on read.
    const future = resources.find((r) => r.uri === 'smartflow://probe/probe://item/future');
    assert.ok(future, uris.join(','));
    assert.deepEqual(future.icons, [{ src: 'https://example.com/i.png' }]);
    assert.deepEqual(future.annotations, { audience: ['user'], priority: 0.5 });
    assert.deepEqual(future._meta, { 'probe/tag': 'kept' });
    const raw = await client.request({ method: 'resources/read', params: { uri: future.uri } }, loose);
    assert.equal(raw['x-future-result'], 'kept');
    assert.deepEqual((raw.contents as Array<Record<string, unknown>>)[0]!._meta, { 'probe/content': 1 });

    await assert.rejects(client.readResource({ uri: 'demo://resource/static/document/architecture.md' }), /smartflow:\/\/\{server alias\}/);
    await assert.rejects(client.readResource({ uri: 'smartflow://nosuch/x://y' }), /no MCP server "nosuch"/);
  });

  test('/mcp/{alias}: resources, templates and prompts unmapped and unprefixed', async () => {
    const { client } = await open('/mcp/everything');
    const { items: resources } = await allResources(client);
    assert.ok(resources.length > 0 && resources.every((r) => r.uri.startsWith('demo://')), JSON.stringify(resources.map((r) => r.uri)));
    const read = await client.readResource({ uri: 'demo://resource/static/document/architecture.md' });
    assert.equal(read.contents[0]!.uri, 'demo://resource/static/document/architecture.md');
    assert.ok((await allTemplates(client)).items.some((t) => t.uriTemplate === 'demo://resource/dynamic/text/{resourceId}'));
    const prompts = (await allPrompts(client)).items.map((p) => p.name);
    assert.ok(prompts.includes('args-prompt'), prompts.join(','));
    const got = await client.getPrompt({ name: 'args-prompt', arguments: { city: 'Lyon' } });
    assert.match(JSON.stringify(got.messages), /Lyon/);
  });

  test('prompts: prefixed list, get with arguments, resource links inside mapped; completion routed by prompt name and by template URI', async () => {
    const { client } = await open('/mcp');
    const names = (await allPrompts(client)).items.map((p) => p.name);
    assert.ok(names.includes('everything_args-prompt') && names.includes('probe_greeting'), names.join(','));
    assert.ok(names.every((n) => /^(everything|probe|remote)_/.test(n)), names.join(','));

    const args = await client.getPrompt({ name: 'everything_args-prompt', arguments: { city: 'Paris', state: 'IDF' } });
    assert.match(JSON.stringify(args.messages), /Paris/);
    const greeting = await client.getPrompt({ name: 'probe_greeting', arguments: { who: 'Ada' } });
    assert.equal((greeting.messages[0]!.content as { text: string }).text, 'Hello Ada');
    const link = greeting.messages[1]!.content as { type: string; uri: string };
    assert.equal(link.uri, 'smartflow://probe/probe://item/future', 'a link routes back through /mcp');
    assert.equal((await client.readResource({ uri: link.uri })).contents[0]!.uri, link.uri);

    const departments = await client.complete({ ref: { type: 'ref/prompt', name: 'everything_completable-prompt' }, argument: { name: 'department', value: 'Eng' } });
    assert.deepEqual(departments.completion.values, ['Engineering']);
    const people = await client.complete({ ref: { type: 'ref/prompt', name: 'everything_completable-prompt' }, argument: { name: 'name', value: '' }, context: { arguments: { department: 'Sales' } } });
    assert.deepEqual(people.completion.values, ['David', 'Eve', 'Frank']);
    const ids = await client.complete({ ref: { type: 'ref/resource', uri: 'smartflow://everything/demo://resource/dynamic/text/{resourceId}' }, argument: { name: 'resourceId', value: '5' } });
    assert.deepEqual(ids.completion.values, ['5']);
  });

  test('logging: setLevel reaches the servers; log messages arrive filtered by each session\'s own level, marked with the server', async () => {
    const verbose = await open('/mcp');
    const quiet = await open('/mcp');
    await verbose.client.setLoggingLevel('debug');
    await quiet.client.setLoggingLevel('error');
    await verbose.client.callTool({ name: 'probe_emit-logs', arguments: { levels: ['debug', 'info', 'error'] } });
    await until('three messages at the verbose session', () => verbose.heard.logs.length >= 3);
    assert.deepEqual(verbose.heard.logs.map((l) => l.level), ['debug', 'info', 'error']);
    assert.deepEqual(verbose.heard.logs.map((l) => l.logger), ['probe/probe-logger', 'probe/probe-logger', 'probe/probe-logger']);
    assert.equal(verbose.heard.logs[0]!.data, 'a debug message');
    await until('the error message at the quiet session', () => quiet.heard.logs.length >= 1);
    assert.deepEqual(quiet.heard.logs.map((l) => l.level), ['error']);

    // server-everything logs on its own once simulated logging is on; its first message is immediate.
    await verbose.client.callTool({ name: 'everything_toggle-simulated-logging', arguments: {} });
    try {
      await until('a message from server-everything', () => verbose.heard.logs.some((l) => l.logger === 'everything'));
    } finally {
      await verbose.client.callTool({ name: 'everything_toggle-simulated-logging', arguments: {} });
    }
  });

  test('progress: the upstream\'s progress notifications reach the client under its own token (stdio and streamable http)', async () => {
    const { client } = await open('/mcp');
    for (const alias of ['everything', 'remote']) {
      const progress: Progress[] = [];
      const result = await client.callTool({ name: `${alias}_trigger-long-running-operation`, arguments: { duration: 0.6, steps: 3 } }, undefined, { onprogress: (p) => void progress.push(p) });
      assert.match(textOf(result), /Long running operation completed/);
      assert.deepEqual(progress.map((p) => [p.progress, p.total]), [[1, 3], [2, 3], [3, 3]], alias);
    }
    // The same for a raw request with a token the client picked.
    const { client: raw } = await open('/mcp');
    const tokens: unknown[] = [];
    raw.setNotificationHandler(ProgressNotificationSchema, (n) => void tokens.push(n.params.progressToken));
    await raw.request({ method: 'tools/call', params: { name: 'everything_trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 }, _meta: { progressToken: 'my-own-token' } } }, loose);
    assert.deepEqual(tokens, ['my-own-token', 'my-own-token']);
  });

  test('progress restarts the server\'s timeout: a long call that reports lives on, a silent one times out naming the server', async () => {
    await register({ alias: 'slow', command: process.execPath, args: [EVERYTHING, 'stdio'], timeout_ms: 1500 });
    try {
      const { client } = await open('/mcp');
      const args = { duration: 3, steps: 6 };
      const progress: Progress[] = [];
      const result = await client.callTool({ name: 'slow_trigger-long-running-operation', arguments: args }, undefined, { onprogress: (p) => void progress.push(p), timeout: 30_000 });
      assert.match(textOf(result), /completed/);
      assert.equal(progress.length, 6);
      await assert.rejects(client.callTool({ name: 'slow_trigger-long-running-operation', arguments: args }, undefined, { timeout: 30_000 }), /MCP server "slow" timed out after 1500 ms/);
    } finally {
      await call(`${gw.url}/api/mcp/servers/slow`, { method: 'DELETE', headers: authHeaders() });
    }
  });

  test('cancellation: a cancelled call ends at once and the upstream request is aborted; later calls work', async () => {
    const { client } = await open('/mcp');
    const controller = new AbortController();
    const pending = client.callTool({ name: 'probe_wait-for-cancel', arguments: {} }, undefined, { signal: controller.signal, onprogress: () => controller.abort('changed my mind') });
    await assert.rejects(pending, /changed my mind/);
    const counts = await until('the upstream saw the cancellation', async () => {
      const seen = JSON.parse(textOf(await client.callTool({ name: 'probe_cancellations', arguments: {} }))) as { cancellations: number; finished: number };
      return seen.cancellations === 1 ? seen : undefined;
    });
    assert.equal(counts.finished, 0);
    const row = await until('the cancelled call in the spend log', async () => {
      const logs = await call(`${gw.url}/api/spend/logs?limit=200`, { headers: authHeaders() });
      return (logs.json.data as Array<Record<string, unknown>>).find((r) => r.model === 'probe_wait-for-cancel');
    });
    assert.equal(row.status, 499);
    assert.equal(row.error_code, 'mcp_call_cancelled');
    assert.equal(textOf(await client.callTool({ name: 'everything_echo', arguments: { message: 'still here' } })), 'Echo: still here');
  });

  test('list_changed: sessions hear about servers registered and removed, and about an upstream\'s own changes', async () => {
    const master = await open('/mcp');
    const single = await open('/mcp/probe');
    const limited = await open('/mcp', limitedKey);

    await register({ alias: 'late', command: process.execPath, args: [EVERYTHING, 'stdio'] });
    await until('tools/list_changed after a registration', () => master.heard.tools >= 1 && master.heard.resources >= 1 && master.heard.prompts >= 1);
    const names = (await allPrompts(master.client)).items.map((p) => p.name);
    assert.ok(names.includes('late_args-prompt'), names.join(','));

    // A rename is a change for the sessions of the old alias too.
    const renamedSession = await open('/mcp/late');
    const renamed = await call(`${gw.url}/api/mcp/servers/late`, { method: 'PATCH', headers: authHeaders(), body: { alias: 'later' } });
    assert.equal(renamed.status, 200, renamed.text);
    await until('list_changed after a rename', () => renamedSession.heard.tools >= 1 && master.heard.tools >= 2);

    const removed = await call(`${gw.url}/api/mcp/servers/later`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(removed.status, 200, removed.text);
    await until('tools/list_changed after a removal', () => master.heard.tools >= 3);

    // The probe adds a prompt: its own prompts/list_changed reaches sessions that include it, and the list shows it.
    const before = { master: master.heard.prompts, single: single.heard.prompts };
    await master.client.callTool({ name: 'probe_add-prompt', arguments: { name: 'fresh' } });
    await until('prompts/list_changed from the upstream', () => master.heard.prompts > before.master && single.heard.prompts > before.single);
    assert.ok((await allPrompts(master.client)).items.some((p) => p.name === 'probe_fresh'));
    assert.ok((await allPrompts(single.client)).items.some((p) => p.name === 'fresh'));

    // A key that may use neither "late" nor "probe" heard nothing about them.
    assert.deepEqual([limited.heard.tools, limited.heard.resources, limited.heard.prompts], [0, 0, 0]);
    assert.equal(single.heard.tools, 0, '/mcp/probe hears nothing about another server');
  });

  test('access: a key limited to one server sees only its resources and prompts (mcp_tools limits tools only) and is refused the other\'s, naming it', async () => {
    const { client } = await open('/mcp', limitedKey);
    const uris = (await allResources(client)).items.map((r) => r.uri);
    assert.ok(uris.length > 0 && uris.every((u) => u.startsWith('smartflow://everything/')), uris.join(','));
    const prompts = (await allPrompts(client)).items.map((p) => p.name);
    assert.ok(prompts.length > 0 && prompts.every((n) => n.startsWith('everything_')), prompts.join(','));
    assert.ok((await allTemplates(client)).items.every((t) => t.uriTemplate.startsWith('smartflow://everything/')));
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['everything_echo', 'search_tools']);

    await assert.rejects(client.readResource({ uri: 'smartflow://probe/probe://item/future' }), /may not use MCP server "probe"/);
    await assert.rejects(client.getPrompt({ name: 'probe_greeting', arguments: { who: 'x' } }), /may not use MCP server "probe"/);
    await assert.rejects(client.complete({ ref: { type: 'ref/prompt', name: 'probe_greeting' }, argument: { name: 'who', value: 'A' } }), /may not use MCP server "probe"/);
    await assert.rejects(client.readResource({ uri: 'smartflow://remote/demo://resource/static/document/architecture.md' }), /may not use MCP server "remote"/);
    assert.match(JSON.stringify((await client.readResource({ uri: 'smartflow://everything/demo://resource/static/document/architecture.md' })).contents), /architecture/i);
  });
});
