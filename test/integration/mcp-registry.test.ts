import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { call, type Res } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';

const HEADER_SECRET = 'Bearer sk-upstream-mcp-header-7f3a9c';
const ENV_SECRET = 'ghp_envsecret_51d0e2b8';

const config = {
  logging: { level: 'info' },
  mcp: { stdio_allowed_commands: ['npx', 'node'] },
  mcp_servers: [
    { alias: 'cfg-files', command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'], env: { CFG_TOKEN: 'cfg-secret-value-93b1' } },
    { alias: 'cfg-remote', url: 'https://mcp.example.com/mcp', headers: { authorization: 'Bearer cfg-header-secret-22aa' } },
  ],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The MCP server registry through the admin API, on SQLite (one instance) and on Redis (two
 * instances sharing the store, every write on one checked on the other).
 */
for (const backend of ['sqlite', 'redis'] as const) {
  describe(`MCP server registry on ${backend}`, () => {
    const prefix = `sf-it-mcp:${randomUUID()}:`;
    let a: TestGateway;
    let b: TestGateway;
    before(async () => {
      const full = { ...config, ...(backend === 'redis' ? { store: { type: 'redis', url: REDIS_URL, prefix } } : {}) };
      a = await startTestGateway(full);
      b = backend === 'redis' ? await startTestGateway(full) : a;
    });
    after(async () => {
      await a.close();
      if (b !== a) await b.close();
      if (backend === 'redis') await flushRedisPrefix(prefix);
    });

    const api = (gw: TestGateway, path = '', options: { method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'; body?: unknown; headers?: Record<string, string> } = {}): Promise<Res> =>
      call(`${gw.url}/api/mcp/servers${path}`, { method: options.method ?? (options.body === undefined ? 'GET' : 'POST'), headers: { ...authHeaders(), ...options.headers }, ...(options.body === undefined ? {} : { body: options.body }) });
    /** Polls another instance until `ok` holds (at most 1 s: the registry promises "within a second"). */
    const eventually = async (fn: () => Promise<Res>, ok: (res: Res) => boolean): Promise<Res> => {
      const deadline = Date.now() + 1000;
      let res = await fn();
      while (!ok(res) && Date.now() < deadline) {
        await sleep(10);
        res = await fn();
      }
      return res;
    };

    test('create, read, update and delete; every view says its source; a new server is served by the other instance within a second', async () => {
      const created = await api(a, '', { body: { alias: 'files', command: 'node', args: ['server.js', '--root', '/srv'], cwd: '/srv', description: 'files', allowed_tools: ['read_*'], denied_tools: ['write_file'] } });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.headers.etag, '"1"');
      assert.match(created.json.id, /^mcp_[0-9a-z]{19}$/);
      assert.equal(created.json.source, 'api');
      assert.equal(created.json.transport, 'stdio', 'a command makes it stdio');
      assert.equal(created.json.timeout_ms, 60000);
      assert.deepEqual(created.json.args, ['server.js', '--root', '/srv']);

      const http = await api(a, '', { body: { alias: 'remote', url: 'https://mcp.example.org/mcp' } });
      assert.equal(http.status, 201, http.text);
      assert.equal(http.json.transport, 'auto', 'a URL without a transport is auto');

      const onB = await eventually(() => api(b, '/files'), (r) => r.status === 200);
      assert.equal(onB.status, 200, onB.text);
      assert.equal(onB.json.id, created.json.id);
      assert.equal(onB.headers.etag, '"1"');
      assert.equal((await api(b, `/${created.json.id}`)).json.alias, 'files', 'lookup by id');

      const list = await api(b);
      const sources = Object.fromEntries(list.json.data.map((s: { alias: string; source: string }) => [s.alias, s.source]));
      assert.equal(sources['cfg-files'], 'config');
      assert.equal(sources['cfg-remote'], 'config');
      assert.equal(sources.files, 'api');
      assert.equal(sources.remote, 'api');

      const patched = await api(b, '/files', { method: 'PATCH', body: { description: 'the files', timeout_ms: 5000, cwd: null } });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.headers.etag, '"2"');
      assert.equal(patched.json.description, 'the files');
      assert.equal(patched.json.cwd, null);
      assert.equal((await eventually(() => api(a, '/files'), (r) => r.json?.timeout_ms === 5000)).json.timeout_ms, 5000);

      const deleted = await api(a, '/remote', { method: 'DELETE' });
      assert.equal(deleted.status, 200, deleted.text);
      assert.deepEqual(deleted.json, { object: 'mcp_server', id: http.json.id, alias: 'remote', deleted: true });
      assert.equal((await eventually(() => api(b, '/remote'), (r) => r.status === 404)).status, 404);
      assert.equal((await api(a, '/remote', { method: 'DELETE' })).status, 404);
      assert.equal((await api(a, '/no-such', { method: 'PATCH', body: { description: 'x' } })).status, 404);
      assert.equal((await api(a, '/mcp_nope')).status, 404);

      const audit = await call(`${a.url}/api/audit?limit=20`, { headers: authHeaders() });
      const actions = audit.json.data.map((e: { action: string }) => e.action);
      for (const action of ['mcp_server.create', 'mcp_server.update', 'mcp_server.delete']) assert.ok(actions.includes(action), `${action} in ${actions.join(',')}`);
    });

    test('invalid definitions get 400 naming the field', async () => {
      const cases: Array<[unknown, string]> = [
        [{ alias: 'x', command: 'node', colour: 'red' }, 'colour'],
        [{ alias: 'Bad_Alias', command: 'node' }, 'alias'],
        [{ alias: '-dash', command: 'node' }, 'alias'],
        [{ alias: 'a'.repeat(33), command: 'node' }, 'alias'],
        [{ command: 'node' }, 'alias'],
        [{ alias: 'x', transport: 'websocket', url: 'https://x.example' }, 'transport'],
        [{ alias: 'x', transport: 'stdio' }, 'command'],
        [{ alias: 'x', transport: 'stdio', command: 'node', url: 'https://x.example' }, 'url'],
        [{ alias: 'x', transport: 'sse' }, 'url'],
        [{ alias: 'x' }, 'url'],
        [{ alias: 'x', url: 'ftp://x.example' }, 'url'],
        [{ alias: 'x', transport: 'streamable-http', url: 'https://x.example', command: 'node' }, 'command'],
        [{ alias: 'x', url: 'https://x.example', env: { A: 'b' } }, 'env'],
        [{ alias: 'x', url: 'https://x.example', timeout_ms: 10 }, 'timeout_ms'],
        [{ alias: 'x', url: 'https://x.example', timeout_ms: 600_001 }, 'timeout_ms'],
        [{ alias: 'x', url: 'https://x.example', allowed_tools: ['bad tool'] }, 'allowed_tools[0]'],
        [{ alias: 'x', url: 'https://x.example', headers: { 'mcp-session-id': 'x' } }, 'headers.mcp-session-id'],
        [{ alias: 'x', command: 'node', env: { 'BAD-NAME': 'x' } }, 'env.BAD-NAME'],
      ];
      for (const [body, param] of cases) {
        const res = await api(a, '', { body });
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
        assert.equal(res.json.error.param, param, `${JSON.stringify(body)}: ${res.text}`);
      }
      const created = await api(a, '', { body: { alias: 'valid-one', url: 'https://x.example/mcp', transport: 'sse' } });
      assert.equal(created.status, 201, created.text);
      const patches: Array<[unknown, string]> = [
        [{ colour: 'red' }, 'colour'],
        [{ transport: 'stdio' }, 'command'],
        [{ url: null }, 'url'],
        [{ alias: 'Nope' }, 'alias'],
        [{ headers: { 'X-Kept': '[REDACTED]' } }, 'headers.X-Kept'],
      ];
      for (const [body, param] of patches) {
        const res = await api(a, '/valid-one', { method: 'PATCH', body });
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
        assert.equal(res.json.error.param, param, `${JSON.stringify(body)}: ${res.text}`);
      }
      const toStdio = await api(a, '/valid-one', { method: 'PATCH', body: { transport: 'stdio', command: 'npx', url: null } });
      assert.equal(toStdio.status, 200, toStdio.text);
      assert.equal(toStdio.json.transport, 'stdio');
    });

    test('20 concurrent creates of one alias (spread over the instances): exactly one 201', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => api(i % 2 ? b : a, '', { body: { alias: 'contested', url: `https://x.example/${i}` } })));
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join(','));
      for (const r of results.filter((r) => r.status !== 201)) {
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.param, 'alias');
      }
      const winner = results.find((r) => r.status === 201)!;
      assert.equal((await api(a, '/contested')).json.id, winner.json.id);
    });

    test('a rename keeps the id, frees the old alias and takes the new one', async () => {
      const created = await api(a, '', { body: { alias: 'before-name', url: 'https://x.example/mcp' } });
      const id = created.json.id;
      const renamed = await api(b, '/before-name', { method: 'PATCH', body: { alias: 'after-name' } });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal(renamed.json.id, id);
      assert.equal((await api(b, `/${id}`)).json.alias, 'after-name');
      assert.equal((await eventually(() => api(a, '/before-name'), (r) => r.status === 404)).status, 404);
      assert.equal((await eventually(() => api(a, `/${id}`), (r) => r.json?.alias === 'after-name')).json.alias, 'after-name');
      const reuse = await api(a, '', { body: { alias: 'before-name', url: 'https://y.example/mcp' } });
      assert.equal(reuse.status, 201, reuse.text);
      assert.notEqual(reuse.json.id, id);
      const taken = await api(a, `/${id}`, { method: 'PATCH', body: { alias: 'before-name' } });
      assert.equal(taken.status, 400, taken.text);
      assert.equal(taken.json.error.param, 'alias');
      const toConfig = await api(a, `/${id}`, { method: 'PATCH', body: { alias: 'cfg-files' } });
      assert.equal(toConfig.status, 400, toConfig.text);
      assert.equal(toConfig.json.error.param, 'alias');
      assert.equal((await api(a, `/${id}`, { method: 'PATCH', body: { alias: 'after-name', description: 'same alias is no rename' } })).status, 200);
    });

    test('a PATCH (with a rename) racing a DELETE: the server is gone and both aliases are free afterwards', async () => {
      for (let i = 0; i < 8; i++) {
        const created = await api(a, '', { body: { alias: `racer-${i}`, url: 'https://x.example/mcp' } });
        assert.equal(created.status, 201, created.text);
        const [patch, del] = await Promise.all([
          api(b, `/${created.json.id}`, { method: 'PATCH', body: { alias: `renamed-${i}`, description: 'racing' } }),
          api(a, `/${created.json.id}`, { method: 'DELETE' }),
        ]);
        assert.equal(del.status, 200, del.text);
        assert.ok(patch.status === 200 || patch.status === 404, `PATCH: ${patch.status} ${patch.text}`);
        assert.equal((await api(a, `/${created.json.id}`)).status, 404);
        for (const alias of [`racer-${i}`, `renamed-${i}`]) {
          const again = await api(a, '', { body: { alias, url: 'https://x.example/mcp' } });
          assert.equal(again.status, 201, `${alias} is free again: ${again.text}`);
        }
      }
    });

    test('If-Match: a write against an old version is 409, against the current one it lands', async () => {
      const created = await api(a, '', { body: { alias: 'versioned', url: 'https://x.example/mcp' } });
      assert.equal(created.headers.etag, '"1"');
      const first = await api(b, '/versioned', { method: 'PATCH', body: { description: 'one' }, headers: { 'if-match': '"1"' } });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.headers.etag, '"2"');
      const stale = await api(a, '/versioned', { method: 'PATCH', body: { description: 'two' }, headers: { 'if-match': '"1"' } });
      assert.equal(stale.status, 409, stale.text);
      assert.equal(stale.json.error.code, 'conflict');
      assert.equal((await api(a, '/versioned', { method: 'DELETE', headers: { 'if-match': '"1"' } })).status, 409);
      assert.equal((await api(a, '/versioned', { method: 'PATCH', body: { description: 'x' }, headers: { 'if-match': 'nonsense' } })).json.error.param, 'If-Match');
      assert.equal((await api(a, '/versioned', { method: 'DELETE', headers: { 'if-match': '"2"' } })).status, 200);
    });

    test('servers from smartflow.yaml are read-only through the API, and their aliases are taken', async () => {
      const cfg = await api(a, '/cfg-files');
      assert.equal(cfg.status, 200, cfg.text);
      assert.equal(cfg.json.source, 'config');
      assert.equal(cfg.json.id, 'mcp_cfg_cfg-files');
      assert.equal(cfg.headers.etag, undefined);
      assert.deepEqual(cfg.json.env, { CFG_TOKEN: '[REDACTED]' });
      for (const method of ['PATCH', 'DELETE'] as const) {
        const res = await api(a, '/cfg-files', { method, ...(method === 'PATCH' ? { body: { description: 'x' } } : {}) });
        assert.equal(res.status, 400, res.text);
        assert.match(res.json.error.message, /smartflow\.yaml/);
      }
      const dup = await api(a, '', { body: { alias: 'cfg-remote', url: 'https://x.example/mcp' } });
      assert.equal(dup.status, 400, dup.text);
      assert.equal(dup.json.error.param, 'alias');
    });

    // A start-up check, the same for every store: run once.
    if (backend === 'sqlite') test('mcp.stdio_allowed_commands: a server in the config that breaks it stops the start', async () => {
      await assert.rejects(
        startTestGateway({ mcp: { stdio_allowed_commands: ['npx'] }, mcp_servers: [{ alias: 'sh', command: 'bash' }] }),
        /mcp_servers\[0\]\.command: "bash" is not in mcp\.stdio_allowed_commands/,
      );
    });

    test('mcp.stdio_allowed_commands: any other command is refused with 400 naming command', async () => {
      const refused = await api(a, '', { body: { alias: 'shell', command: 'bash', args: ['-c', 'id'] } });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.error.param, 'command');
      assert.match(refused.json.error.message, /stdio_allowed_commands/);
      const ok = await api(a, '', { body: { alias: 'allowed', command: 'npx', args: ['-y', 'some-server'] } });
      assert.equal(ok.status, 201, ok.text);
      const patched = await api(a, '/allowed', { method: 'PATCH', body: { command: '/bin/sh' } });
      assert.equal(patched.status, 400, patched.text);
      assert.equal(patched.json.error.param, 'command');
      const viaUrl = await api(a, '', { body: { alias: 'url-ok', url: 'https://x.example/mcp' } });
      assert.equal(viaUrl.status, 201, 'the allow-list is about commands only');
    });

    test('header and env values: never in responses or logs, encrypted in the store, in clear for the gateway on every instance', async () => {
      const created = await api(a, '', { body: { alias: 'secretive', command: 'node', env: { API_TOKEN: ENV_SECRET, PLAIN: 'x' } } });
      assert.equal(created.status, 201, created.text);
      const http = await api(a, '', { body: { alias: 'secretive-http', url: 'https://x.example/mcp', headers: { Authorization: HEADER_SECRET } } });
      assert.equal(http.status, 201, http.text);
      assert.deepEqual(created.json.env, { API_TOKEN: '[REDACTED]', PLAIN: '[REDACTED]' });
      assert.deepEqual(http.json.headers, { Authorization: '[REDACTED]' });

      const id = http.json.id;
      const stored = JSON.stringify(await a.gateway.store.getDoc('mcp_servers', id));
      assert.ok(!stored.includes(HEADER_SECRET) && !stored.includes('sk-upstream-mcp'), `no plaintext in the store: ${stored}`);
      assert.match(stored, /"Authorization":"enc:v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+"/);
      const storedEnv = JSON.stringify(await a.gateway.store.getDoc('mcp_servers', created.json.id));
      assert.ok(!storedEnv.includes(ENV_SECRET), storedEnv);

      await eventually(() => api(b, '/secretive-http'), (r) => r.status === 200);
      assert.equal(b.gateway.mcpServers.require('secretive-http').server.headers.Authorization, HEADER_SECRET);
      assert.equal(b.gateway.mcpServers.require(created.json.id).server.env.API_TOKEN, ENV_SECRET);

      // "[REDACTED]" sent back keeps the stored value; a new name gets its own.
      const patched = await api(a, '/secretive-http', { method: 'PATCH', body: { headers: { Authorization: '[REDACTED]', 'X-Extra': 'extra-secret-value-1' } } });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual(patched.json.headers, { Authorization: '[REDACTED]', 'X-Extra': '[REDACTED]' });
      const after = await eventually(() => api(b, '/secretive-http'), (r) => r.json?.headers?.['X-Extra'] !== undefined);
      assert.equal(after.status, 200);
      assert.deepEqual(b.gateway.mcpServers.require('secretive-http').server.headers, { Authorization: HEADER_SECRET, 'X-Extra': 'extra-secret-value-1' });

      const everything = [created.text, http.text, patched.text, (await api(a)).text, (await api(b)).text, (await api(a, `/${id}`)).text, (await call(`${a.url}/api/audit?limit=100`, { headers: authHeaders() })).text, a.logs.text, b.logs.text];
      for (const secret of [HEADER_SECRET, ENV_SECRET, 'extra-secret-value-1', 'cfg-secret-value-93b1', 'cfg-header-secret-22aa']) {
        for (const text of everything) assert.ok(!text.includes(secret), `"${secret}" leaked`);
      }
    });

    // Needs a store two gateways with different keys share.
    if (backend === 'redis') test('values sealed under another secrets key are named as unreadable, never shown, and the server stays manageable', async () => {
      const created = await api(a, '', { body: { alias: 'rekeyed', url: 'https://x.example/mcp', headers: { 'X-Token': 'rekeyed-secret-1' } } });
      assert.equal(created.status, 201, created.text);
      const c = await startTestGateway({ ...config, store: { type: 'redis', url: REDIS_URL, prefix }, secrets: { key: 'cd'.repeat(32) } });
      try {
        const seen = await api(c, '/rekeyed');
        assert.equal(seen.status, 200, seen.text);
        assert.deepEqual(seen.json.headers, { 'X-Token': '[REDACTED]' });
        assert.deepEqual(seen.json.unreadable_secrets, ['headers.X-Token']);
        assert.deepEqual(c.gateway.mcpServers.require('rekeyed').server.headers, {});
        assert.match(c.logs.text, /MCP server secrets did not decrypt/);
        assert.ok(!c.logs.text.includes('rekeyed-secret-1'));
        const fixed = await api(c, '/rekeyed', { method: 'PATCH', body: { headers: { 'X-Token': 'rekeyed-secret-2' } } });
        assert.equal(fixed.status, 200, fixed.text);
        assert.equal(fixed.json.unreadable_secrets, undefined);
        assert.equal(c.gateway.mcpServers.require('rekeyed').server.headers['X-Token'], 'rekeyed-secret-2');
      } finally {
        await c.close();
      }
    });

    test('only admins reach the registry', async () => {
      assert.equal((await call(`${a.url}/api/mcp/servers`)).status, 401);
      const key = await call(`${a.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: {} });
      assert.equal((await call(`${a.url}/api/mcp/servers`, { headers: authHeaders(key.json.key) })).status, 403);
      assert.equal((await call(`${a.url}/api/mcp/servers`, { headers: authHeaders(key.json.key), body: { alias: 'sneaky', command: 'npx' } })).status, 403);
    });
  });
}

describe('MCP access fields on virtual keys and teams', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ logging: { level: 'warn' } });
  });
  after(() => gw.close());
  const admin = (path: string, method: 'GET' | 'POST' | 'PATCH', body?: unknown) => call(`${gw.url}${path}`, { method, headers: authHeaders(), ...(body === undefined ? {} : { body }) });

  test('the admin API takes, shows and checks mcp_servers and mcp_tools; the key policy applies them, by id across a rename', async () => {
    const server = await admin('/api/mcp/servers', 'POST', { alias: 'tickets', url: 'https://x.example/mcp' });
    assert.equal(server.status, 201, server.text);
    const plain = await admin('/api/enterprise/vkeys', 'POST', {});
    assert.deepEqual([plain.json.mcp_servers, plain.json.mcp_tools], [[], []], 'no MCP access by default');

    const team = await admin('/api/teams', 'POST', { name: 'support', mcp_servers: ['*'], mcp_tools: ['*/list_*', 'tickets/get_ticket'] });
    assert.equal(team.status, 201, team.text);
    assert.deepEqual(team.json.mcp_servers, ['*']);
    const created = await admin('/api/enterprise/vkeys', 'POST', { team_id: team.json.id, mcp_servers: [server.json.id], mcp_tools: [`${server.json.id}/*`] });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json.mcp_servers, [server.json.id]);
    assert.deepEqual(created.json.mcp_tools, [`${server.json.id}/*`]);

    for (const [path, body, param] of [
      ['/api/enterprise/vkeys', { mcp_servers: ['Not An Alias'] }, 'mcp_servers[0]'],
      ['/api/enterprise/vkeys', { mcp_tools: ['no-slash'] }, 'mcp_tools[0]'],
      ['/api/teams', { name: 'x', mcp_tools: ['a/b c'] }, 'mcp_tools[0]'],
    ] as const) {
      const res = await admin(path, 'POST', body);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error.param, param);
    }

    await admin(`/api/mcp/servers/tickets`, 'PATCH', { alias: 'tickets-v2' });
    const ref = gw.gateway.mcpServers.require(server.json.id).server;
    assert.equal(ref.alias, 'tickets-v2');
    let policy = (await gw.gateway.access.resolver.resolve(created.json.key)).policy!;
    assert.equal(policy.allowMcpServer(ref), true, 'listed by id: a rename keeps access');
    assert.equal(policy.allowMcpTool(ref, 'list_tickets'), true);
    assert.equal(policy.allowMcpTool(ref, 'close_ticket'), false, 'the team allows list_* and tickets/get_ticket only');
    assert.equal(policy.allowMcpTool(ref, 'get_ticket'), false, 'the team named it by its old alias');

    const patched = await admin(`/api/enterprise/vkeys/${created.json.id}`, 'PATCH', { mcp_servers: [] });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.json.mcp_servers, []);
    const teamPatched = await admin(`/api/teams/${team.json.id}`, 'PATCH', { mcp_tools: [] });
    assert.deepEqual(teamPatched.json.mcp_tools, []);
    policy = (await gw.gateway.access.resolver.resolve(created.json.key)).policy!;
    assert.equal(policy.allowMcpServer(ref), false);
  });
});
