import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { chatWith, createKey, createTeam } from '../helpers/vkeys.js';
import type { SpendRecord } from '../../src/spend/spend-record.js';

/**
 * Virtual keys through a running gateway, admin side: the key is shown once and never again,
 * bad input is a 400 naming the field, only the master key administers, a key authenticates by
 * any of the three headers, revocation, expiry, model lists (key and team), budget reset with an
 * audit trail, spend summaries that agree with the spend log, and no key in the logs.
 * Budgets, concurrency, rate limits and period rollover are covered elsewhere.
 */

/** USD per million tokens = micro-USD per token. */
const PRICE = { input_cost_per_mtok: 1000, output_cost_per_mtok: 2000 };
const MODELS = ['claude-3-5-haiku', 'gpt-4o', 'gpt-4o-mini'];
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function assertError(res: Res, status: number, code: string, param?: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json?.error?.code, code, res.text);
  if (param !== undefined) assert.equal(res.json.error.param, param, res.text);
}

describe('virtual keys: admin API and authentication', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  /** Added to the wall clock: the expiry test moves time forward. */
  let offset = 0;
  /** When set, the gateway's clock stands still (several events in one millisecond). */
  let frozen: number | null = null;
  /** Every full key the gateway issued or was shown, for the log check at the end. */
  const secrets: string[] = [];

  /** With the master key; no content-type without a body (an empty JSON body is a 400 by design). */
  const admin = (path: string, options: { method?: 'GET' | 'POST' | 'PATCH'; body?: unknown } = {}) =>
    call(`${gw.url}${path}`, { headers: options.body === undefined ? { authorization: `Bearer ${MASTER_KEY}` } : authHeaders(), ...options });
  const newKey = async (body: Record<string, unknown> = {}) => {
    const created = await createKey(gw.url, body);
    secrets.push(created.key);
    return created;
  };
  const listAll = async (path: string): Promise<any[]> => {
    const res = await admin(`${path}?limit=1000`);
    assert.equal(res.status, 200, res.text);
    return res.json.data;
  };
  const modelIds = async (key: string): Promise<string[]> => {
    const res = await call(`${gw.url}/v1/models`, { headers: authHeaders(key) });
    assert.equal(res.status, 200, res.text);
    return res.json.data.map((m: { id: string }) => m.id).sort();
  };

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway(
      {
        providers: fakeProviders({ openai: upstream.url }),
        models: MODELS.map((name) => ({ name, provider: 'openai', model: `upstream-${name}`, ...PRICE })),
      },
      { now: () => frozen ?? Date.now() + offset },
    );
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('create shows the key once; list pages and GET never show the key or its hash', async () => {
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await newKey({ alias: `page-${i}`, tags: ['paging'], metadata: { n: i } }));
    for (const { key, json } of created) {
      assert.match(key, /^sk-sf-[A-Za-z0-9_-]{20,}$/);
      assert.equal(json.object, 'virtual_key');
      assert.equal(json.status, 'active');
      assert.equal(json.key_hash, undefined);
      assert.ok(json.key_preview.endsWith('…'), json.key_preview);
      assert.ok(key.startsWith(json.key_preview.slice(0, -1)) && json.key_preview.length < 16, json.key_preview);
    }
    const texts: string[] = [];
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await admin(`/api/enterprise/vkeys?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json.data.length <= 2);
      seen.push(...res.json.data.map((k: { id: string }) => k.id));
      texts.push(res.text);
      cursor = res.json.next_cursor;
      assert.ok(++pages <= 10, 'pagination does not end');
    } while (cursor);
    assert.ok(pages >= 3, `5 keys at 2 per page took ${pages} pages`);
    assert.equal(new Set(seen).size, seen.length, 'a key appeared on two pages');
    for (const { id } of created) {
      assert.ok(seen.includes(id), `${id} missing from the listing`);
      const one = await admin(`/api/enterprise/vkeys/${id}`);
      assert.equal(one.status, 200, one.text);
      assert.equal(one.json.id, id);
      assert.equal(one.json.key, undefined);
      texts.push(one.text);
    }
    for (const text of texts) {
      for (const { key } of created) {
        assert.ok(!text.includes(key), 'a listing shows a key');
        assert.ok(!text.includes(sha256(key)), 'a listing shows a key hash');
      }
    }
  });

  test('PATCH changes fields, frees a renamed alias, removes a budget; unknown ids are 404', async () => {
    const { id, json } = await newKey({ alias: 'patch-me', max_budget: 5, budget_period: 'monthly' });
    assert.equal(json.max_budget, 5);
    const patched = await admin(`/api/enterprise/vkeys/${id}`, { method: 'PATCH', body: { alias: 'patched', max_budget: null, models: ['gpt-4o-mini'], tags: ['t'] } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual([patched.json.alias, patched.json.max_budget, patched.json.budget_period], ['patched', null, 'monthly']);
    const got = await admin(`/api/enterprise/vkeys/${id}`);
    assert.deepEqual([got.json.alias, got.json.max_budget, got.json.models, got.json.tags], ['patched', null, ['gpt-4o-mini'], ['t']]);
    const budget = await admin(`/api/enterprise/vkeys/${id}/budget`);
    assert.equal(budget.json.max_budget, null, budget.text);
    await newKey({ alias: 'patch-me' });
    assertError(await admin('/api/enterprise/vkeys', { body: { alias: 'patched' } }), 400, 'invalid_request', 'alias');
    assertError(await admin(`/api/enterprise/vkeys/${id}`, { method: 'PATCH', body: { max_budget: -1 } }), 400, 'invalid_request', 'max_budget');
    assert.equal((await admin(`/api/enterprise/vkeys/${id}`)).json.max_budget, null);
    const missing = 'vk_000000000doesnotexist';
    assertError(await admin(`/api/enterprise/vkeys/${missing}`), 404, 'not_found');
    assertError(await admin(`/api/enterprise/vkeys/${missing}`, { method: 'PATCH', body: { alias: 'x' } }), 404, 'not_found');
    assertError(await admin(`/api/enterprise/vkeys/${missing}/revoke`, { method: 'POST' }), 404, 'not_found');
    assertError(await admin(`/api/enterprise/vkeys/${missing}/reset`, { method: 'POST' }), 404, 'not_found');
    assertError(await admin('/api/teams/no-such-team'), 404, 'not_found');
  });

  test('bad key input is 400 naming the field, and creates nothing', async () => {
    await newKey({ alias: 'taken' });
    const before = (await listAll('/api/enterprise/vkeys')).length;
    const audited = (await listAll('/api/audit')).length;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ max_budget: -1 }, 'max_budget'],
      [{ budget_period: 'hourly' }, 'budget_period'],
      [{ alias: 'bad alias!' }, 'alias'],
      [{ alias: 'taken' }, 'alias'],
      [{ team_id: 'no-such-team' }, 'team_id'],
      [{ colour: 'blue' }, 'colour'],
      [{ expires_at: 'next tuesday' }, 'expires_at'],
      [{ expires_at: '2030-01-01 10:00' }, 'expires_at'],
      [{ rpm: 0 }, 'rpm'],
    ];
    for (const [body, param] of cases) {
      const res = await admin('/api/enterprise/vkeys', { body });
      assertError(res, 400, 'invalid_request', param);
      assert.equal(res.json.key, undefined);
    }
    assert.equal((await listAll('/api/enterprise/vkeys')).length, before, 'a failed create left a key behind');
    assert.equal((await listAll('/api/audit')).length, audited, 'a failed create was audited');
  });

  test('bad team input is 400 naming the field, and creates nothing', async () => {
    const team = await createTeam(gw.url, { id: 'team-dup', name: 'Dup', max_budget: 10, budget_period: 'weekly' });
    assert.deepEqual([team.id, team.object, team.max_budget, team.budget_period], ['team-dup', 'team', 10, 'weekly']);
    const before = (await listAll('/api/teams')).length;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ id: 'team-dup', name: 'Again' }, 'id'],
      [{ name: 'Neg', max_budget: -0.01 }, 'max_budget'],
      [{ name: 'Period', budget_period: 'yearly' }, 'budget_period'],
      [{ id: 'bad id!', name: 'Bad' }, 'id'],
      [{ max_budget: 1 }, 'name'],
    ];
    for (const [body, param] of cases) assertError(await admin('/api/teams', { body }), 400, 'invalid_request', param);
    assert.equal((await listAll('/api/teams')).length, before, 'a failed create left a team behind');
    assertError(await admin('/api/teams/team-dup', { method: 'PATCH', body: { max_budget: -5 } }), 400, 'invalid_request', 'max_budget');
    assert.equal((await admin('/api/teams/team-dup')).json.max_budget, 10);
  });

  test('admin endpoints: no key is 401, a virtual key is 403 and changes nothing', async () => {
    const { id, key } = await newKey({ alias: 'not-an-admin' });
    const endpoints: Array<[string, 'GET' | 'POST' | 'PATCH', unknown?]> = [
      ['/api/enterprise/vkeys', 'GET'],
      ['/api/enterprise/vkeys', 'POST', {}],
      [`/api/enterprise/vkeys/${id}`, 'GET'],
      [`/api/enterprise/vkeys/${id}`, 'PATCH', { max_budget: 1000 }],
      [`/api/enterprise/vkeys/${id}/budget`, 'GET'],
      [`/api/enterprise/vkeys/${id}/reset`, 'POST', {}],
      [`/api/enterprise/vkeys/${id}/revoke`, 'POST', {}],
      ['/api/teams', 'GET'],
      ['/api/teams', 'POST', { name: 'sneaky' }],
      ['/api/audit', 'GET'],
      ['/api/spend/keys', 'GET'],
      ['/api/spend/teams', 'GET'],
      ['/api/spend/logs', 'GET'],
    ];
    const before = (await listAll('/api/teams')).length;
    for (const [path, method, body] of endpoints) {
      const json = { 'content-type': 'application/json' };
      const noKey = await call(`${gw.url}${path}`, { method, headers: json, ...(body ? { body } : {}) });
      assertError(noKey, 401, 'missing_api_key');
      const vk = await call(`${gw.url}${path}`, { method, headers: authHeaders(key), ...(body ? { body } : {}) });
      assertError(vk, 403, 'forbidden');
      assert.ok(!vk.text.includes(key));
    }
    const wrong = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders('sk-test-not-the-master') });
    assertError(wrong, 401, 'invalid_api_key');
    const after = await admin(`/api/enterprise/vkeys/${id}`);
    assert.deepEqual([after.json.status, after.json.max_budget], ['active', null], after.text);
    assert.equal((await listAll('/api/teams')).length, before);
  });

  test('a virtual key authenticates by Bearer, x-api-key and x-goog-api-key; an unknown one is 401', async () => {
    const { id, key } = await newKey({ alias: 'three-headers' });
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 };
    const sent = upstream.requests.length;
    for (const header of ['authorization', 'x-api-key', 'x-goog-api-key']) {
      const value = header === 'authorization' ? `Bearer ${key}` : key;
      const res = await call(`${gw.url}/v1/chat/completions`, { headers: { 'content-type': 'application/json', [header]: value, 'x-request-id': `hdr-${header}` }, body });
      assert.equal(res.status, 200, `${header}: ${res.text}`);
    }
    assert.equal(upstream.requests.length, sent + 3);
    for (const r of upstream.requests.slice(sent)) assert.ok(!JSON.stringify(r.headers).includes(key), 'the virtual key reached the provider');
    const rows: SpendRecord[] = (await admin(`/api/spend/logs?key=${id}`)).json.data;
    assert.deepEqual(rows.map((r) => r.id).sort(), ['hdr-authorization', 'hdr-x-api-key', 'hdr-x-goog-api-key']);

    const unknown = `sk-sf-${'Zz9'.repeat(11)}`;
    secrets.push(unknown);
    for (const headers of [authHeaders(unknown), { 'content-type': 'application/json', 'x-api-key': unknown }]) {
      const res = await call(`${gw.url}/v1/chat/completions`, { headers, body });
      assertError(res, 401, 'invalid_api_key');
      assert.ok(!res.text.includes(unknown) && !res.text.includes(unknown.slice(6, 20)), res.text);
    }
    assert.equal(upstream.requests.length, sent + 3, 'an unauthenticated request reached the provider');
  });

  test('revoke takes effect at once, is idempotent, and shows as revoked', async () => {
    const { id, key } = await newKey({ alias: 'to-revoke' });
    assert.equal((await chatWith(gw.url, key, 'gpt-4o-mini')).status, 200);
    const revoked = await admin(`/api/enterprise/vkeys/${id}/revoke`, { method: 'POST' });
    assert.equal(revoked.status, 200, revoked.text);
    assert.deepEqual([revoked.json.status, revoked.json.revoked_by], ['revoked', 'master']);
    assert.ok(revoked.json.revoked_at);
    const res = await chatWith(gw.url, key, 'gpt-4o-mini');
    assertError(res, 401, 'key_revoked');
    assert.ok(!res.text.includes(key));
    assertError(await call(`${gw.url}/v1/models`, { headers: authHeaders(key) }), 401, 'key_revoked');
    const again = await admin(`/api/enterprise/vkeys/${id}/revoke`, { method: 'POST' });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.revoked_at, revoked.json.revoked_at);
    assert.equal((await admin(`/api/enterprise/vkeys/${id}`)).json.status, 'revoked');
    const audit = (await listAll('/api/audit')).filter((e) => e.target_id === id && e.action === 'vkey.revoke');
    assert.equal(audit.length, 1, 'a second revoke was audited again');
  });

  test('a key past its expires_at is 401 key_expired and shows as expired', async () => {
    const expiresAt = new Date(Date.now() + offset + 3_600_000).toISOString();
    const { id, key, json } = await newKey({ alias: 'expiring', expires_at: expiresAt });
    assert.equal(json.expires_at, expiresAt);
    assert.equal((await chatWith(gw.url, key, 'gpt-4o-mini')).status, 200);
    offset += 2 * 3_600_000;
    assertError(await chatWith(gw.url, key, 'gpt-4o-mini'), 401, 'key_expired');
    assertError(await call(`${gw.url}/v1/models`, { headers: authHeaders(key) }), 401, 'key_expired');
    assert.equal((await admin(`/api/enterprise/vkeys/${id}`)).json.status, 'expired');
    const extended = await admin(`/api/enterprise/vkeys/${id}`, { method: 'PATCH', body: { expires_at: new Date(Date.now() + offset + 3_600_000).toISOString() } });
    assert.equal(extended.json.status, 'active', extended.text);
    assert.equal((await chatWith(gw.url, key, 'gpt-4o-mini')).status, 200);
  });

  test('model lists: the key allows names and patterns, a team narrows them, /v1/models follows', async () => {
    const { key } = await newKey({ alias: 'mini-and-claude', models: ['gpt-4o-mini', 'claude-*'] });
    const sent = upstream.requests.length;
    assertError(await chatWith(gw.url, key, 'gpt-4o'), 403, 'model_not_allowed', 'model');
    assert.equal(upstream.requests.length, sent, 'a refused model reached the provider');
    assert.equal((await chatWith(gw.url, key, 'gpt-4o-mini')).status, 200);
    assert.equal((await chatWith(gw.url, key, 'claude-3-5-haiku')).status, 200);
    assert.deepEqual(await modelIds(key), ['claude-3-5-haiku', 'gpt-4o-mini']);
    assertError(await call(`${gw.url}/v1/models/gpt-4o`, { headers: authHeaders(key) }), 404, 'model_not_found');
    const master = await call(`${gw.url}/v1/models`, { headers: authHeaders() });
    const all: string[] = master.json.data.map((m: { id: string }) => m.id);
    assert.ok(MODELS.every((m) => all.includes(m)) && all.length > 3, all.join());

    await createTeam(gw.url, { id: 'mini-only', name: 'Mini only', models: ['gpt-4o-mini'] });
    const { key: teamKey } = await newKey({ team_id: 'mini-only', models: ['gpt-4o-mini', 'claude-*'] });
    assertError(await chatWith(gw.url, teamKey, 'claude-3-5-haiku'), 403, 'model_not_allowed', 'model');
    assert.equal((await chatWith(gw.url, teamKey, 'gpt-4o-mini')).status, 200);
    assert.deepEqual(await modelIds(teamKey), ['gpt-4o-mini']);
    // Widening the team reaches the cached key at once.
    assert.equal((await admin('/api/teams/mini-only', { method: 'PATCH', body: { models: [] } })).status, 200);
    assert.equal((await chatWith(gw.url, teamKey, 'claude-3-5-haiku')).status, 200);
    assertError(await chatWith(gw.url, teamKey, 'gpt-4o'), 403, 'model_not_allowed');
  });

  test('reset returns the budget and the audit log records create, revoke and reset by master', async (t) => {
    // A stopped clock puts every event in one millisecond: the order must still be newest first.
    frozen = Date.now() + offset;
    t.after(() => {
      frozen = null;
    });
    const { id, key } = await newKey({ alias: 'audited', max_budget: 1 });
    assert.equal((await chatWith(gw.url, key, 'gpt-4o-mini')).status, 200);
    const spentBefore = (await admin(`/api/enterprise/vkeys/${id}/budget`)).json.spent;
    assert.ok(spentBefore > 0, `spent ${spentBefore}`);
    const reset = await admin(`/api/enterprise/vkeys/${id}/reset`, { method: 'POST' });
    assert.equal(reset.status, 200, reset.text);
    assert.deepEqual([reset.json.object, reset.json.key_id, reset.json.max_budget, reset.json.spent, reset.json.remaining], ['budget', id, 1, 0, 1]);
    assert.equal((await admin(`/api/enterprise/vkeys/${id}/revoke`, { method: 'POST' })).status, 200);

    const events = await listAll('/api/audit');
    const times = events.map((e) => Date.parse(e.time));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'audit is not newest first');
    const mine = events.filter((e) => e.target_id === id);
    assert.deepEqual(mine.map((e) => e.action), ['vkey.revoke', 'vkey.budget_reset', 'vkey.create']);
    for (const e of mine) assert.deepEqual([e.actor, e.target_type], ['master', 'vkey']);
    assert.equal(mine[1].details.spent_before, spentBefore);
    assert.ok(!JSON.stringify(events).includes(key));
  });

  test('spend summaries per key and per team agree with the spend log', async () => {
    await createTeam(gw.url, { id: 'spenders', name: 'Spenders' });
    const a = await newKey({ alias: 'spender-a', team_id: 'spenders' });
    const b = await newKey({ alias: 'spender-b', team_id: 'spenders' });
    for (const [key, model] of [[a.key, 'gpt-4o'], [a.key, 'gpt-4o-mini'], [b.key, 'gpt-4o']] as const) {
      assert.equal((await chatWith(gw.url, key, model, { messages: [{ role: 'user', content: `a longer prompt for ${model}` }] })).status, 200);
    }
    assert.equal((await chatWith(gw.url, MASTER_KEY, 'gpt-4o')).status, 200);

    const logs: SpendRecord[] = (await admin('/api/spend/logs?limit=1000')).json.data;
    const group = (field: 'key_id' | 'team_id') => {
      const out = new Map<string | null, { requests: number; cost: number }>();
      for (const r of logs) {
        const g = out.get(r[field]) ?? { requests: 0, cost: 0 };
        out.set(r[field], { requests: g.requests + 1, cost: g.cost + r.cost_micros });
      }
      return out;
    };
    const keys = await admin('/api/spend/keys');
    const teams = await admin('/api/spend/teams');
    assert.equal(keys.status, 200, keys.text);
    assert.equal(teams.status, 200, teams.text);
    for (const [res, field, idField] of [[keys, 'key_id', 'key_id'], [teams, 'team_id', 'team_id']] as const) {
      const expected = group(field);
      assert.equal(res.json.data.length, expected.size);
      for (const row of res.json.data) {
        const e = expected.get(row[idField]);
        assert.ok(e, `unexpected ${idField} ${row[idField]}`);
        assert.deepEqual([row.requests, row.cost_micros, row.spend], [e.requests, e.cost, e.cost / 1_000_000], `${idField} ${row[idField]}`);
      }
    }
    const rowA = keys.json.data.find((r: any) => r.key_id === a.id);
    const rowB = keys.json.data.find((r: any) => r.key_id === b.id);
    assert.deepEqual([rowA.requests, rowA.alias, rowA.team_id, rowB.requests], [2, 'spender-a', 'spenders', 1]);
    assert.ok(rowA.cost_micros > rowB.cost_micros && rowB.cost_micros > 0);
    const team = teams.json.data.find((r: any) => r.team_id === 'spenders');
    assert.deepEqual([team.name, team.requests, team.cost_micros], ['Spenders', 3, rowA.cost_micros + rowB.cost_micros]);
    assert.ok(keys.json.data.some((r: any) => r.key_id === null && r.requests >= 1), 'master-key requests are not summarised');
    assert.equal((await admin(`/api/enterprise/vkeys/${a.id}`)).json.spend, rowA.spend);
  });

  test('no full virtual key reaches the logs', () => {
    assert.ok(gw.logs.lines.length > 10, 'nothing was logged');
    assert.ok(secrets.length >= 15);
    const text = gw.logs.text;
    for (const key of secrets) {
      assert.ok(!text.includes(key), `the log contains ${key.slice(0, 10)}…`);
      assert.ok(!text.includes(key.slice(10)), `the log contains the secret part of ${key.slice(0, 10)}…`);
    }
  });
});
