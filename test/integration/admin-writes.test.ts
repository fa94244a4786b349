import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';
import { chatWith, createKey, createTeam } from '../helpers/vkeys.js';

/** 12 input + 5 output tokens reserved, 8 + 2 reported by the fake: 220 µUSD worst case, 120 actual. */
const METERED = { name: 'metered', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 };
const RUNS = 30;

const admin = (url: string, path: string, method: 'GET' | 'POST' | 'PATCH' = 'GET', body?: unknown, headers: Record<string, string> = {}) =>
  call(`${url}${path}`, { method, headers: { ...authHeaders(), ...headers }, ...(body === undefined ? {} : { body }) });

/**
 * Admin writes are compare-and-set: two admins (or an admin and a sync job) changing one key or
 * team at the same moment each see their change land; neither silently undoes the other.
 * Run against SQLite (one instance) and Redis (two instances sharing the store).
 */
for (const backend of ['sqlite', 'redis'] as const) {
  describe(`concurrent admin writes on ${backend}`, () => {
    const prefix = `sf-it:${randomUUID()}:`;
    let fake: FakeUpstream;
    let a: TestGateway;
    let b: TestGateway;

    before(async () => {
      fake = await startFakeOpenAI();
      const config = {
        providers: fakeProviders({ openai: fake.url }),
        models: [METERED],
        logging: { level: 'warn' },
        ...(backend === 'redis' ? { store: { type: 'redis', url: REDIS_URL, prefix } } : {}),
      };
      a = await startTestGateway(config);
      b = backend === 'redis' ? await startTestGateway(config) : a;
    });

    after(async () => {
      await a?.close();
      if (b !== a) await b?.close();
      await fake.close();
      if (backend === 'redis') await flushRedisPrefix(prefix);
    });

    test(`PATCH racing revoke, ${RUNS} runs: the key ends revoked and the PATCH's change is kept`, async () => {
      for (let run = 0; run < RUNS; run++) {
        const { id } = await createKey(a.url, { alias: `race-${backend}-${run}` });
        const [patched, revoked] = await Promise.all([
          admin(a.url, `/api/enterprise/vkeys/${id}`, 'PATCH', { metadata: { run } }),
          admin(b.url, `/api/enterprise/vkeys/${id}/revoke`, 'POST'),
        ]);
        assert.equal(patched.status, 200, patched.text);
        assert.equal(revoked.status, 200, revoked.text);
        assert.equal(revoked.json.status, 'revoked');
        const final = await admin(a.url, `/api/enterprise/vkeys/${id}`);
        assert.equal(final.json.status, 'revoked', `run ${run}: a concurrent PATCH brought a revoked key back`);
        assert.deepEqual(final.json.metadata, { run }, `run ${run}: the revoke undid the PATCH`);
        assert.equal(final.json.version, 3, 'created, patched, revoked: three writes');
      }
    });

    test('a revoked key stays refused after a racing PATCH, on every instance', async () => {
      const { id, key } = await createKey(a.url, {});
      assert.equal((await chatWith(b.url, key, 'metered')).status, 200);
      await Promise.all([admin(b.url, `/api/enterprise/vkeys/${id}`, 'PATCH', { rpm: 1000 }), admin(a.url, `/api/enterprise/vkeys/${id}/revoke`, 'POST')]);
      for (const gw of [a, b]) {
        const res = await chatWith(gw.url, key, 'metered');
        assert.equal(res.status, 401, res.text);
        assert.equal(res.json.error.code, 'key_revoked');
      }
    });

    test('20 concurrent budget resets all land (the version moves by 20)', async () => {
      const { id } = await createKey(a.url, { max_budget: 1 });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => admin(i % 2 ? a.url : b.url, `/api/enterprise/vkeys/${id}/reset`, 'POST')));
      for (const res of results) assert.equal(res.status, 200, res.text);
      assert.equal((await admin(a.url, `/api/enterprise/vkeys/${id}`)).json.version, 21);
    });

    test(`reset racing PATCH, ${RUNS / 3} runs: the spent budget stays reset and the PATCH lands`, async () => {
      for (let run = 0; run < RUNS / 3; run++) {
        // Room for exactly one request: after it, the key is out of budget until reset.
        const { id, key } = await createKey(a.url, { max_budget: 0.00025 });
        assert.equal((await chatWith(a.url, key, 'metered')).status, 200);
        assert.equal((await chatWith(a.url, key, 'metered')).status, 429);
        const [reset, patched] = await Promise.all([
          admin(b.url, `/api/enterprise/vkeys/${id}/reset`, 'POST'),
          admin(a.url, `/api/enterprise/vkeys/${id}`, 'PATCH', { tags: [`run-${run}`] }),
        ]);
        assert.equal(reset.status, 200, reset.text);
        assert.equal(patched.status, 200, patched.text);
        const budget = await admin(a.url, `/api/enterprise/vkeys/${id}/budget`);
        assert.equal(budget.json.spent, 0, `run ${run}: the PATCH wrote back the old budget generation`);
        assert.deepEqual((await admin(b.url, `/api/enterprise/vkeys/${id}`)).json.tags, [`run-${run}`]);
      }
    });

    test(`team PATCH racing team reset, ${RUNS / 3} runs: both land`, async () => {
      for (let run = 0; run < RUNS / 3; run++) {
        const team = await createTeam(a.url, { name: `t-${run}`, max_budget: 1 });
        const [patched, reset] = await Promise.all([
          admin(a.url, `/api/teams/${team.id}`, 'PATCH', { rpm: 100 + run }),
          admin(b.url, `/api/teams/${team.id}/reset`, 'POST'),
        ]);
        assert.equal(patched.status, 200, patched.text);
        assert.equal(reset.status, 200, reset.text);
        const final = await admin(b.url, `/api/teams/${team.id}`);
        assert.equal(final.json.rpm, 100 + run);
        assert.equal(final.json.version, 3, `run ${run}: one of the two writes was lost`);
      }
    });

    test('If-Match makes a write conditional: a stale version is 409, the current one writes, a malformed one is 400', async () => {
      const { id } = await createKey(a.url, {});
      const read = await admin(a.url, `/api/enterprise/vkeys/${id}`);
      assert.equal(read.headers.etag, '"1"');
      const first = await admin(a.url, `/api/enterprise/vkeys/${id}`, 'PATCH', { rpm: 10 }, { 'if-match': read.headers.etag as string });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.headers.etag, '"2"');
      const stale = await admin(b.url, `/api/enterprise/vkeys/${id}`, 'PATCH', { rpm: 20 }, { 'if-match': '"1"' });
      assert.equal(stale.status, 409, stale.text);
      assert.equal(stale.json.error.code, 'conflict');
      assert.equal((await admin(a.url, `/api/enterprise/vkeys/${id}`)).json.rpm, 10, 'the refused write changed nothing');
      const bad = await admin(a.url, `/api/enterprise/vkeys/${id}`, 'PATCH', { rpm: 30 }, { 'if-match': 'yesterday' });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json.error.param, 'If-Match');
      const revokeStale = await admin(a.url, `/api/enterprise/vkeys/${id}/revoke`, 'POST', undefined, { 'if-match': '"1"' });
      assert.equal(revokeStale.status, 409);
      const team = await createTeam(a.url, { name: 'if-match' });
      const teamStale = await admin(b.url, `/api/teams/${team.id}`, 'PATCH', { rpm: 5 }, { 'if-match': 'W/"7"' });
      assert.equal(teamStale.status, 409, teamStale.text);
    });
  });
}
