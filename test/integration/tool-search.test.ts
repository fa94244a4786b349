import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const FILESYSTEM = resolve('node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');

interface Hit {
  server: string;
  server_id: string;
  tool: string;
  name: string;
  description: string;
  score: number;
  matched: string[];
}

const textOf = (result: Record<string, unknown>) => (result.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? '').join('');

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('tool search over real MCP servers (server-everything, server-filesystem over stdio)', () => {
  let gw: TestGateway;
  let dir: string;
  let limitedKey: string;
  const clients: Client[] = [];

  const search = async (q: string, key = MASTER_KEY, k = 5) => call(`${gw.url}/api/mcp/tools/search?q=${encodeURIComponent(q)}&k=${k}`, { headers: authHeaders(key) });
  const register = async (alias: string, args: string[]) => {
    const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias, command: process.execPath, args } });
    assert.equal(res.status, 201, res.text);
  };
  const open = async (path: string, key = MASTER_KEY) => {
    const client = new Client({ name: 'toolsearch-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}${path}`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    clients.push(client);
    return client;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sf-toolsearch-'));
    await writeFile(join(dir, 'hello.txt'), 'hello from tool search\n');
    gw = await startTestGateway();
    await register('everything', [EVERYTHING, 'stdio']);
    await register('files', [FILESYSTEM, dir]);
    const key = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { alias: 'search-limited', mcp_servers: ['everything'] } });
    assert.equal(key.status, 201, key.text);
    limitedKey = key.json.key;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('"read a file" finds a filesystem read tool first; results carry server, id, prefixed name, score and matched words', async () => {
    const res = await search('read a file');
    assert.equal(res.status, 200, res.text);
    const hits = res.json.data as Hit[];
    assert.equal(hits.length, 5);
    assert.equal(hits[0]!.server, 'files', JSON.stringify(hits));
    assert.match(hits[0]!.tool, /^read_/);
    assert.equal(hits[0]!.name, `files_${hits[0]!.tool}`);
    assert.match(hits[0]!.server_id, /^mcp_/);
    assert.deepEqual([...hits[0]!.matched].sort(), ['file', 'read']);
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score, 'best first');

    // By meaning, not only shared words: everything's echo tool for "repeat my message back".
    const echo = await search('repeat my message back to me', MASTER_KEY, 3);
    assert.equal((echo.json.data as Hit[])[0]!.name, 'everything_echo', echo.text);
  });

  test('a key limited to one server never sees the other server\'s tools', async () => {
    const res = await search('read a file', limitedKey, 20);
    assert.equal(res.status, 200, res.text);
    const hits = res.json.data as Hit[];
    assert.ok(hits.length > 0);
    assert.ok(hits.every((h) => h.server === 'everything'), JSON.stringify(hits.map((h) => h.name)));
  });

  test('the index follows the registry: a server added is searchable, removed is gone, a rename shows the new alias', async () => {
    const other = await mkdtemp(join(tmpdir(), 'sf-toolsearch-2-'));
    try {
      await register('archive', [FILESYSTEM, other]);
      await until('the new server in search results', async () => {
        const hits = (await search('list directory', MASTER_KEY, 50)).json.data as Hit[];
        return hits.some((h) => h.server === 'archive') ? true : undefined;
      });
      const renamed = await call(`${gw.url}/api/mcp/servers/archive`, { method: 'PATCH', headers: authHeaders(), body: { alias: 'vault' } });
      assert.equal(renamed.status, 200, renamed.text);
      await until('the renamed alias', async () => {
        const hits = (await search('list directory', MASTER_KEY, 50)).json.data as Hit[];
        return hits.some((h) => h.name.startsWith('vault_')) && !hits.some((h) => h.server === 'archive') ? true : undefined;
      });
      const removed = await call(`${gw.url}/api/mcp/servers/vault`, { method: 'DELETE', headers: authHeaders() });
      assert.equal(removed.status, 200, removed.text);
      await until('the removed server gone', async () => {
        const hits = (await search('list directory', MASTER_KEY, 100)).json.data as Hit[];
        return hits.some((h) => h.server === 'vault') ? undefined : true;
      });
      const index = await call(`${gw.url}/api/mcp/tools/index`, { headers: authHeaders() });
      assert.equal(index.json.servers, 2, index.text);
      assert.deepEqual((index.json.data as Array<{ server: string }>).map((s) => s.server), ['everything', 'files']);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  test('admin: the index view and reindex (all, one server); keys that are not admin are refused', async () => {
    const index = await call(`${gw.url}/api/mcp/tools/index`, { headers: authHeaders() });
    assert.equal(index.status, 200, index.text);
    assert.equal(index.json.embedding_model, 'hashed-ngram-v1-512');
    assert.equal(index.json.dimensions, 512);
    assert.deepEqual(index.json.pending, []);
    const files = (index.json.data as Array<{ server: string; tools: number; last_indexed_at: number }>).find((s) => s.server === 'files')!;
    assert.ok(files.tools > 5 && files.last_indexed_at > 0, index.text);
    assert.equal(index.json.tools, (index.json.data as Array<{ tools: number }>).reduce((n, s) => n + s.tools, 0));

    const one = await call(`${gw.url}/api/mcp/tools/reindex?server=files`, { method: 'POST', headers: { authorization: `Bearer ${MASTER_KEY}` } });
    assert.equal(one.status, 200, one.text);
    const after = (one.json.data as Array<{ server: string; last_indexed_at: number }>).find((s) => s.server === 'files')!;
    assert.ok(after.last_indexed_at >= files.last_indexed_at);
    const all = await call(`${gw.url}/api/mcp/tools/reindex`, { method: 'POST', headers: { authorization: `Bearer ${MASTER_KEY}` } });
    assert.equal(all.status, 200, all.text);
    assert.equal((await call(`${gw.url}/api/mcp/tools/reindex?server=nosuch`, { method: 'POST', headers: { authorization: `Bearer ${MASTER_KEY}` } })).status, 404);
    assert.equal((await call(`${gw.url}/api/mcp/tools/index`, { headers: authHeaders(limitedKey) })).status, 403);
    assert.equal((await call(`${gw.url}/api/mcp/tools/reindex`, { method: 'POST', headers: { authorization: `Bearer ${limitedKey}` } })).status, 403);
    assert.equal((await call(`${gw.url}/api/mcp/tools/search?q=file`)).status, 401);
  });

  test('bad input is 400 invalid_request: empty or missing q, k outside 1-100 or not a number, q over 2,000 characters', async () => {
    const bad = async (query: string, param: string) => {
      const res = await call(`${gw.url}/api/mcp/tools/search?${query}`, { headers: authHeaders() });
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.json.error.code, 'invalid_request', res.text);
      assert.equal(res.json.error.param, param, res.text);
    };
    await bad('q=', 'q');
    await bad('q=%20%20', 'q');
    await bad('k=5', 'q');
    await bad('q=file&k=0', 'k');
    await bad('q=file&k=101', 'k');
    await bad('q=file&k=ten', 'k');
    await bad(`q=${'a'.repeat(2001)}`, 'q');
    assert.equal((await search('a'.repeat(2000), MASTER_KEY, 100)).status, 200);
  });

  test('/mcp lists search_tools next to every tool; an SDK client finds and calls a tool by intent', async () => {
    const client = await open('/mcp');
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor });
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    assert.ok(names.includes('search_tools') && names.includes('files_read_text_file'), names.join(','));
    assert.ok(!names.includes('call_tool'), 'call_tool only in toolset=search');

    const found = await client.callTool({ name: 'search_tools', arguments: { query: 'read a file', k: 3 } });
    const results = (found.structuredContent as { results: Hit[] }).results;
    assert.equal(results.length, 3);
    assert.equal(results[0]!.server, 'files');
    assert.deepEqual(JSON.parse(textOf(found)).results, results);
    const invalid = await client.callTool({ name: 'search_tools', arguments: { query: '', k: 500 } });
    assert.equal(invalid.isError, true);
    assert.match(textOf(invalid), /query/);

    // /mcp/{alias} serves one server: no cross-server meta-tool there.
    const one = await open('/mcp/files');
    assert.ok(!(await one.listTools()).tools.some((t) => t.name === 'search_tools'));
  });

  test('/mcp?toolset=search offers only search_tools and call_tool; call_tool routes with the caller\'s access', async () => {
    const client = await open('/mcp?toolset=search');
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['search_tools', 'call_tool']);
    const found = await client.callTool({ name: 'search_tools', arguments: { query: 'read the text of a file' } });
    const target = (found.structuredContent as { results: Hit[] }).results.find((h) => h.tool === 'read_text_file')!;
    assert.ok(target, textOf(found));
    const read = await client.callTool({ name: 'call_tool', arguments: { name: target.name, arguments: { path: join(dir, 'hello.txt') } } });
    assert.match(textOf(read), /hello from tool search/);

    const limited = await open('/mcp?toolset=search', limitedKey);
    const theirs = (await limited.callTool({ name: 'search_tools', arguments: { query: 'read a file', k: 50 } })).structuredContent as { results: Hit[] };
    assert.ok(theirs.results.every((h) => h.server === 'everything'));
    await assert.rejects(limited.callTool({ name: 'call_tool', arguments: { name: 'files_read_text_file', arguments: { path: join(dir, 'hello.txt') } } }), /may not use MCP server "files"/);
    assert.equal(textOf(await limited.callTool({ name: 'call_tool', arguments: { name: 'everything_echo', arguments: { message: 'via search' } } })), 'Echo: via search');

    const badToolset = await call(`${gw.url}/mcp?toolset=tiny`, {
      headers: { ...authHeaders(), accept: 'application/json, text/event-stream' },
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } },
    });
    assert.equal(badToolset.status, 400, badToolset.text);
  });
});

describe('tool search with an embedding model of the gateway (toolsearch.embedding_model, through the provider layer)', () => {
  let gw: TestGateway;
  let upstream: FakeUpstream;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sf-toolsearch-model-'));
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({
      providers: fakeProviders({ openai: upstream.url }),
      // The fake answers words-* models with bag-of-words vectors.
      models: [{ name: 'tool-embedder', provider: 'openai', model: 'words-embed', mode: 'embedding', input_cost_per_mtok: 1 }],
      toolsearch: { embedding_model: 'tool-embedder', dimensions: 256 },
    });
    const res = await call(`${gw.url}/api/mcp/servers`, { headers: authHeaders(), body: { alias: 'files', command: process.execPath, args: [FILESYSTEM, dir] } });
    assert.equal(res.status, 201, res.text);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('tools and queries are embedded by the model (batched), the index names it, and a reindex embeds nothing again', async () => {
    // Two searches at once before anything is indexed: both wait for the first build.
    const [res, other] = await Promise.all(['read a file', 'list a directory'].map((q) => call(`${gw.url}/api/mcp/tools/search?q=${encodeURIComponent(q)}&k=3`, { headers: authHeaders() })));
    assert.equal(res!.status, 200, res!.text);
    assert.equal(res!.json.data[0].server, 'files');
    assert.equal(other!.json.data.length, 3, other!.text);
    const calls = upstream.requests.filter((r) => r.url.startsWith('/v1/embeddings'));
    assert.equal(calls.length, 3, 'one batch of tools, one per query');
    assert.equal(calls[0]!.body.model, 'words-embed');
    assert.equal(calls[0]!.body.dimensions, 256);
    assert.ok((calls[0]!.body.input as string[]).some((t) => t.startsWith('read_text_file.')), JSON.stringify(calls[0]!.body.input).slice(0, 300));
    assert.deepEqual(calls.slice(1).map((c) => c.body.input).sort(), [['list a directory'], ['read a file']]);
    // The model's calls cost money whoever searched: each is a spend row of the index, priced.
    await gw.gateway.spendLog.flush();
    const rows = (await gw.gateway.store.querySpend({ limit: 50 })).rows.filter((r) => r.principal === 'system:toolsearch');
    assert.equal(rows.length, 3, 'one row per embedding call');
    assert.ok(rows.every((r) => r.operation === 'embeddings' && r.model === 'tool-embedder' && r.status === 200 && r.input_tokens > 0 && r.cost_micros > 0), JSON.stringify(rows));

    const index = await call(`${gw.url}/api/mcp/tools/index`, { headers: authHeaders() });
    assert.equal(index.json.embedding_model, 'model:tool-embedder:256');
    assert.equal(index.json.dimensions, 256);
    upstream.requests.length = 0;
    const again = await call(`${gw.url}/api/mcp/tools/reindex`, { method: 'POST', headers: { authorization: `Bearer ${MASTER_KEY}` } });
    assert.equal(again.status, 200, again.text);
    assert.equal(upstream.requests.filter((r) => r.url.startsWith('/v1/embeddings')).length, 0, 'stored vectors reused');
  });

  test('when the model fails, search still answers by words', async () => {
    upstream.steer.status = 500;
    try {
      const res = await call(`${gw.url}/api/mcp/tools/search?q=${encodeURIComponent('list directory')}&k=3`, { headers: authHeaders() });
      assert.equal(res.status, 200, res.text);
      assert.match(res.json.data[0].tool, /list_directory/);
    } finally {
      delete upstream.steer.status;
    }
  });
});
