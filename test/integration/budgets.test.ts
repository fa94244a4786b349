import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { SHARED_BACKENDS } from '../helpers/shared-store.js';
import { chatWith, createKey, createTeam } from '../helpers/vkeys.js';


/**
 * Prices chosen so the arithmetic is readable. The test request ("hi", max_tokens 5) reserves
 * 12 input + 5 output tokens = 220 µUSD; the fake upstream reports 8 input + 2 output tokens,
 * so it settles at 120 µUSD.
 */
const METERED = { name: 'metered', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 };
const WORST_MICROS = 220;
const ACTUAL_MICROS = 120;

function config(fake: FakeUpstream, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { providers: fakeProviders({ openai: fake.url }), models: [METERED], logging: { level: 'warn' }, ...extra };
}

async function budgetOf(url: string, id: string): Promise<any> {
  const res = await call(`${url}/api/enterprise/vkeys/${id}/budget`, { headers: authHeaders() });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function spendLogTotal(url: string, keyId: string): Promise<{ micros: number; rows: number }> {
  const res = await call(`${url}/api/spend/logs?key=${keyId}&limit=1000`, { headers: authHeaders() });
  assert.equal(res.status, 200, res.text);
  return { micros: res.json.data.reduce((sum: number, r: any) => sum + r.cost_micros, 0), rows: res.json.data.length };
}

/** A budget refusal carries the remaining budget and, unless the budget is a lifetime one, when it resets. */
function assertBudgetRefusal(res: Res, period: 'calendar' | 'lifetime' = 'calendar'): void {
  assert.equal(res.status, 429, res.text);
  assert.equal(res.json.error.code, 'budget_exceeded');
  assert.equal(res.headers['x-should-retry'], 'false');
  assert.match(String(res.headers['x-smartflow-budget-remaining']), /^\d+\.\d{6}$/);
  if (period === 'lifetime') {
    assert.equal(res.headers['x-smartflow-budget-reset'], undefined);
    assert.equal(res.headers['retry-after'], undefined);
    return;
  }
  assert.ok(!Number.isNaN(Date.parse(String(res.headers['x-smartflow-budget-reset']))), 'X-Smartflow-Budget-Reset is an ISO time');
  assert.match(String(res.headers['retry-after']), /^\d+$/);
}

/** Fires `count` chat requests at once, spread over the given gateways in turn. */
function burst(urls: string[], key: string, count: number): Promise<Res[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => chatWith(urls[i % urls.length]!, key, 'metered')));
}

describe('hard budgets under concurrency', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeOpenAI();
  });
  after(() => fake.close());

  test('200 concurrent requests on a key whose budget fits 10: 10 answered, 190 refused with 429 and no provider call', async (t) => {
    const gw = await startTestGateway(config(fake));
    t.after(() => gw.close());
    const { id, key } = await createKey(gw.url, { max_budget: (10 * WORST_MICROS) / 1e6, budget_period: 'daily' });
    fake.reset();
    // The upstream holds every answer long enough for all 200 reservations to arrive first, even on a busy machine.
    fake.steer = { delayMs: 4000 };
    t.after(() => (fake.steer = {}));

    const results = await burst([gw.url], key, 200);
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    assert.equal(ok.length, 10);
    for (const res of refused) assertBudgetRefusal(res);
    assert.equal(fake.requests.length, 10, 'refused requests never reached the provider');

    const budget = await budgetOf(gw.url, id);
    assert.equal(budget.reserved, 0, 'every reservation was settled');
    assert.equal(budget.spent, (10 * ACTUAL_MICROS) / 1e6);
    const logged = await spendLogTotal(gw.url, id);
    assert.equal(logged.rows, 200, 'refused requests are in the spend log too');
    assert.ok(logged.micros <= 10 * WORST_MICROS, `recorded spend ${logged.micros} µUSD exceeds the budget`);
    assert.equal(logged.micros, 10 * ACTUAL_MICROS);
  });

  for (const backend of SHARED_BACKENDS) {
    test(`the same with two gateway instances sharing one ${backend.name}`, async (t) => {
      const { store, cleanup } = backend.fresh('budget');
      const a = await startTestGateway(config(fake, { store }));
      const b = await startTestGateway(config(fake, { store }));
      t.after(async () => {
        await a.close();
        await b.close();
        await cleanup();
      });
      const { id, key } = await createKey(a.url, { max_budget: (10 * WORST_MICROS) / 1e6, budget_period: 'monthly' });
      fake.reset();
      fake.steer = { delayMs: 4000 };
      t.after(() => (fake.steer = {}));

      // One request through each instance first, held at the slow upstream, so both instances hold
      // a reservation before the burst (on a busy machine one instance could otherwise take all ten).
      const firstA = chatWith(a.url, key, 'metered');
      const firstB = chatWith(b.url, key, 'metered');
      for (let i = 0; i < 200 && fake.requests.length < 2; i++) await sleep(10);
      const rest = await burst([a.url, b.url], key, 198);
      const results = [await firstA, await firstB, ...rest];
      const ok = results.filter((r) => r.status === 200);
      assert.equal(ok.length, 10);
      for (const res of results.filter((r) => r.status !== 200)) assertBudgetRefusal(res);
      assert.equal(fake.requests.length, 10);
      const viaA = results.filter((r, i) => i % 2 === 0 && r.status === 200).length;
      assert.ok(viaA > 0 && viaA < 10, `both instances answered some requests (A answered ${viaA})`);

      const budget = await budgetOf(b.url, id);
      assert.equal(budget.reserved, 0);
      assert.equal(budget.spent, (10 * ACTUAL_MICROS) / 1e6);
      await b.gateway.spendLog.flush();
      const logged = await spendLogTotal(a.url, id);
      assert.ok(logged.micros <= 10 * WORST_MICROS);
      assert.equal(logged.micros, 10 * ACTUAL_MICROS);
    });
  }

  test('without a slow upstream, settled requests free their reservation: spend still never passes the budget', async (t) => {
    const gw = await startTestGateway(config(fake));
    t.after(() => gw.close());
    const max = 10 * WORST_MICROS;
    const { id, key } = await createKey(gw.url, { max_budget: max / 1e6 });
    fake.reset();
    const results = await burst([gw.url], key, 200);
    const ok = results.filter((r) => r.status === 200).length;
    assert.ok(ok >= 10, `at least the 10 worst cases fit (got ${ok})`);
    for (const res of results.filter((r) => r.status !== 200)) assert.equal(res.json.error.code, 'budget_exceeded');
    assert.equal(fake.requests.length, ok);
    const budget = await budgetOf(gw.url, id);
    assert.equal(budget.spent, (ok * ACTUAL_MICROS) / 1e6);
    assert.ok(ok * ACTUAL_MICROS <= max);
  });
});

/** Two gateways sharing a fresh store of `backend` (Redis by default), with the given budget allowance settings; closed and cleaned up after the test. */
async function twoGateways(t: TestContext, fake: FakeUpstream, allowance: Record<string, number>, backend = SHARED_BACKENDS[0]!): Promise<[TestGateway, TestGateway]> {
  const { store, cleanup } = backend.fresh('allowance');
  const extra = { store, budgets: { allowance } };
  const a = await startTestGateway(config(fake, extra));
  const b = await startTestGateway(config(fake, extra));
  t.after(async () => {
    await a.close();
    await b.close();
    await cleanup();
  });
  return [a, b];
}

describe('budget allowances (blocks of a budget served in memory)', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeOpenAI();
  });
  after(() => fake.close());

  for (const backend of SHARED_BACKENDS) {
    test(`two instances on one ${backend.name}, a budget of 100 worst cases, 200 concurrent requests: never passed, every block written back`, async (t) => {
      // Blocks of 4 worst cases (880 µUSD), held while 4 blocks would be left: about the first 80 % of the budget.
      const [a, b] = await twoGateways(t, fake, { requests: 4, headroom: 4, sync_ms: 50, idle_ms: 300 }, backend);
      const max = 100 * WORST_MICROS;
      const { id, key } = await createKey(a.url, { max_budget: max / 1e6, budget_period: 'monthly' });
      fake.reset();
      fake.steer = { delayMs: 300 };
      t.after(() => (fake.steer = {}));
      const results = await burst([a.url, b.url], key, 200);
      fake.steer = {};
      const answered = results.filter((r) => r.status === 200).length;
      for (const res of results.filter((r) => r.status !== 200)) assertBudgetRefusal(res);
      assert.equal(fake.requests.length, answered, 'refused requests never reached the provider');
      assert.ok(answered >= 100, `the budget fits at least 100 worst cases, ${answered} were answered`);
      assert.ok(answered * ACTUAL_MICROS <= max, `${answered} answered at ${ACTUAL_MICROS} µUSD passes the budget of ${max}`);

      // Each instance's budget view writes what it holds first; the other's blocks go back after idle_ms.
      let budget = await budgetOf(b.url, id);
      for (let i = 0; i < 100 && budget.reserved !== 0; i++) {
        await sleep(50);
        budget = await budgetOf(b.url, id);
      }
      assert.equal(budget.reserved, 0, 'every block went back');
      assert.equal(Math.round(budget.spent * 1e6), answered * ACTUAL_MICROS);
    });
  }

  test('another instance sees a block as reserved until it goes back; the instance that holds it reports exact figures at once', async (t) => {
    const [a, b] = await twoGateways(t, fake, { sync_ms: 50, idle_ms: 1000 });
    const { id, key } = await createKey(a.url, { max_budget: 1 });
    fake.reset();
    for (let i = 0; i < 3; i++) assert.equal((await chatWith(a.url, key, 'metered')).status, 200);
    await sleep(150);
    // A block of 64 worst cases is held by A: B sees it as reserved, spend already synced.
    const seenByB = await budgetOf(b.url, id);
    assert.equal(Math.round(seenByB.reserved * 1e6), 64 * WORST_MICROS - 3 * ACTUAL_MICROS);
    assert.equal(Math.round(seenByB.spent * 1e6), 3 * ACTUAL_MICROS);
    // A's own view gives its block back first.
    const seenByA = await budgetOf(a.url, id);
    assert.equal(seenByA.reserved, 0);
    assert.equal(Math.round(seenByA.spent * 1e6), 3 * ACTUAL_MICROS);
    assert.equal(Math.round(seenByA.remaining * 1e6), 1_000_000 - 3 * ACTUAL_MICROS);
  });

  test('with allowance.requests 0 every request reserves in the store: another instance sees nothing reserved after the answers', async (t) => {
    const [a, b] = await twoGateways(t, fake, { requests: 0 });
    const { id, key } = await createKey(a.url, { max_budget: 1 });
    for (let i = 0; i < 3; i++) assert.equal((await chatWith(a.url, key, 'metered')).status, 200);
    const seenByB = await budgetOf(b.url, id);
    assert.equal(seenByB.reserved, 0);
    assert.equal(Math.round(seenByB.spent * 1e6), 3 * ACTUAL_MICROS);
  });
});

describe('budget headers, periods and teams', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeOpenAI();
  });
  after(() => fake.close());

  test('every answer carries X-Smartflow-Budget-Remaining: after settlement for JSON, after reservation for streams', async (t) => {
    const gw = await startTestGateway(config(fake));
    t.after(() => gw.close());
    const max = 100 * WORST_MICROS;
    const { id, key } = await createKey(gw.url, { max_budget: max / 1e6 });

    const first = await chatWith(gw.url, key, 'metered');
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-smartflow-budget-remaining'], ((max - ACTUAL_MICROS) / 1e6).toFixed(6));

    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: authHeaders(key),
      body: JSON.stringify({ model: 'metered', stream: true, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-smartflow-budget-remaining'], ((max - ACTUAL_MICROS - WORST_MICROS) / 1e6).toFixed(6));
    const text = await res.body.text();
    assert.match(text, /data: \[DONE\]/);
    // The stream settles when it ends; the budget then shows both requests at their actual cost.
    let budget = await budgetOf(gw.url, id);
    for (let i = 0; i < 50 && budget.reserved !== 0; i++) {
      await sleep(10);
      budget = await budgetOf(gw.url, id);
    }
    assert.equal(budget.reserved, 0);
    assert.equal(budget.spent, (2 * ACTUAL_MICROS) / 1e6);
  });

  test('a stream the client abandons before usage arrives is still charged (input estimate plus frames seen)', async (t) => {
    const gw = await startTestGateway(config(fake));
    t.after(() => gw.close());
    const { id, key } = await createKey(gw.url, { max_budget: 1 });
    fake.steer = { chunkDelayMs: 100 };
    t.after(() => (fake.steer = {}));
    const controller = new AbortController();
    const res = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: authHeaders(key),
      body: JSON.stringify({ model: 'metered', stream: true, messages: [{ role: 'user', content: 'a longer question to answer slowly' }], max_tokens: 50 }),
      signal: controller.signal,
    });
    assert.equal(res.statusCode, 200);
    for await (const _chunk of res.body) {
      controller.abort();
      break;
    }
    let budget = await budgetOf(gw.url, id);
    for (let i = 0; i < 100 && budget.reserved !== 0; i++) {
      await sleep(20);
      budget = await budgetOf(gw.url, id);
    }
    assert.equal(budget.reserved, 0, 'the reservation was settled after the abort');
    assert.ok(budget.spent > 0, 'an abandoned stream is not free');
    assert.ok(budget.spent < 1, 'but it is charged far less than the worst case');
  });

  test('daily periods roll over at midnight UTC with a controllable clock; the refusal says when', async (t) => {
    let clock = Date.parse('2026-03-10T23:58:00Z');
    const gw = await startTestGateway(config(fake), { now: () => clock });
    t.after(() => gw.close());
    // Room for the 2 settled requests (240) but not a third worst case on top (240 + 220 > 440).
    const { id, key } = await createKey(gw.url, { max_budget: (2 * WORST_MICROS) / 1e6, budget_period: 'daily' });
    assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
    assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
    const refused = await chatWith(gw.url, key, 'metered');
    assertBudgetRefusal(refused);
    assert.equal(refused.headers['x-smartflow-budget-reset'], '2026-03-11T00:00:00.000Z');
    assert.equal(refused.headers['retry-after'], '120');
    assert.equal(refused.headers['x-smartflow-budget-remaining'], ((2 * WORST_MICROS - 2 * ACTUAL_MICROS) / 1e6).toFixed(6));
    assert.match(refused.json.error.message, /max_tokens/);

    let budget = await budgetOf(gw.url, id);
    assert.equal(budget.period_start, '2026-03-10T00:00:00.000Z');
    assert.equal(budget.resets_at, '2026-03-11T00:00:00.000Z');

    clock = Date.parse('2026-03-11T00:00:30Z');
    assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
    budget = await budgetOf(gw.url, id);
    assert.equal(budget.period_start, '2026-03-11T00:00:00.000Z');
    assert.equal(budget.spent, ACTUAL_MICROS / 1e6);
  });

  test('periods follow the configured time zone (weekly from Monday 00:00 in New York)', async (t) => {
    // Sunday 2026-03-15 23:59 in New York (EDT, UTC-4) is 03:59 UTC on the Monday.
    let clock = Date.parse('2026-03-16T03:59:00Z');
    const gw = await startTestGateway(config(fake, { budgets: { timezone: 'America/New_York' } }), { now: () => clock });
    t.after(() => gw.close());
    const { id, key } = await createKey(gw.url, { max_budget: WORST_MICROS / 1e6, budget_period: 'weekly' });
    assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
    const refused = await chatWith(gw.url, key, 'metered');
    assertBudgetRefusal(refused);
    assert.equal(refused.headers['x-smartflow-budget-reset'], '2026-03-16T04:00:00.000Z');
    assert.equal((await budgetOf(gw.url, id)).period_start, '2026-03-09T04:00:00.000Z');
    clock = Date.parse('2026-03-16T04:00:00Z');
    assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
  });

  test('a key in a team is limited by both budgets: the team budget is shared, the tighter one refuses', async (t) => {
    const gw = await startTestGateway(config(fake));
    t.after(() => gw.close());
    const team = await createTeam(gw.url, { name: 'Search', max_budget: (2 * WORST_MICROS) / 1e6, budget_period: 'monthly' });
    const a = await createKey(gw.url, { team_id: team.id, max_budget: 1 });
    const b = await createKey(gw.url, { team_id: team.id, max_budget: 1 });
    const first = await chatWith(gw.url, a.key, 'metered');
    assert.equal(first.status, 200);
    // The tightest budget that applied is the team's.
    assert.equal(first.headers['x-smartflow-budget-remaining'], ((2 * WORST_MICROS - ACTUAL_MICROS) / 1e6).toFixed(6));
    assert.equal((await chatWith(gw.url, b.key, 'metered')).status, 200);
    const refused = await chatWith(gw.url, a.key, 'metered');
    assertBudgetRefusal(refused);
    assert.match(refused.json.error.message, /team "[^"]+"/);

    const keyBudget = await budgetOf(gw.url, a.id);
    assert.equal(keyBudget.spent, ACTUAL_MICROS / 1e6);
    assert.equal(keyBudget.team.spent, (2 * ACTUAL_MICROS) / 1e6);

    // Raising the team budget applies at once (the cached key sees the team change).
    const patched = await call(`${gw.url}/api/teams/${team.id}`, { method: 'PATCH', headers: authHeaders(), body: { max_budget: 1 } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((await chatWith(gw.url, a.key, 'metered')).status, 200);

    // A key whose own budget is tighter than the team's is refused by its own.
    const tight = await createKey(gw.url, { team_id: team.id, max_budget: WORST_MICROS / 1e6 });
    assert.equal((await chatWith(gw.url, tight.key, 'metered')).status, 200);
    const own = await chatWith(gw.url, tight.key, 'metered');
    assertBudgetRefusal(own, 'lifetime');
    assert.match(own.json.error.message, /^This key/);
  });

  test('reset zeroes the period at once and is audited with who and when', async (t) => {
    const gw = await startTestGateway(config(fake));
    t.after(() => gw.close());
    const { id, key } = await createKey(gw.url, { max_budget: WORST_MICROS / 1e6, budget_period: 'daily' });
    assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
    assertBudgetRefusal(await chatWith(gw.url, key, 'metered'));
    // Clients that always send a JSON content type may send no body with an action.
    const reset = await call(`${gw.url}/api/enterprise/vkeys/${id}/reset`, { method: 'POST', headers: authHeaders(), body: '' });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.json.spent, 0);
    assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
    const audit = await call(`${gw.url}/api/audit?limit=5`, { headers: authHeaders() });
    const entry = audit.json.data.find((e: any) => e.action === 'vkey.budget_reset');
    assert.ok(entry, audit.text);
    assert.equal(entry.actor, 'master');
    assert.equal(entry.target_id, id);
    assert.equal(entry.details.spent_before, ACTUAL_MICROS / 1e6);
    assert.ok(Math.abs(Date.parse(entry.time) - Date.now()) < 60_000);
  });
});

describe('rate limits', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeOpenAI();
  });
  after(() => fake.close());

  test('rpm: the 4th request in a minute gets 429 with the OpenAI rate-limit headers; the next minute is open again', async (t) => {
    let clock = Date.parse('2026-05-01T10:00:10Z');
    const gw = await startTestGateway(config(fake), { now: () => clock });
    t.after(() => gw.close());
    const { key } = await createKey(gw.url, { rpm: 3 });
    const remaining: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await chatWith(gw.url, key, 'metered');
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-ratelimit-limit-requests'], '3');
      remaining.push(res.headers['x-ratelimit-remaining-requests']);
    }
    assert.deepEqual(remaining, ['2', '1', '0']);
    fake.reset();
    const limited = await chatWith(gw.url, key, 'metered');
    assert.equal(limited.status, 429);
    assert.equal(limited.json.error.code, 'rate_limit_exceeded');
    assert.equal(limited.headers['x-ratelimit-limit-requests'], '3');
    assert.equal(limited.headers['x-ratelimit-remaining-requests'], '0');
    assert.equal(limited.headers['retry-after'], '50');
    assert.equal(fake.requests.length, 0);
    clock += 50_000;
    assert.equal((await chatWith(gw.url, key, 'metered')).status, 200);
  });

  test('tpm: requests reserve input plus max_tokens and settle to actual tokens', async (t) => {
    const clock = Date.parse('2026-05-01T10:00:00Z');
    const gw = await startTestGateway(config(fake), { now: () => clock });
    t.after(() => gw.close());
    // Each request reserves 12 + 5 = 17 tokens and settles to 8 + 2 = 10.
    const { key } = await createKey(gw.url, { tpm: 40 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await chatWith(gw.url, key, 'metered')).status);
    // 10, 20, 30 settled; the 4th needs 30 + 17 > 40.
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const limited = await chatWith(gw.url, key, 'metered');
    assert.equal(limited.headers['x-ratelimit-limit-tokens'], '40');
    assert.equal(limited.headers['x-ratelimit-remaining-tokens'], '10');
    const huge = await chatWith(gw.url, key, 'metered', { max_tokens: 1000 });
    assert.equal(huge.status, 429);
    assert.match(huge.json.error.message, /more than the 40 tokens per minute/);
  });

  test('team rpm is shared by the team\'s keys', async (t) => {
    const gw = await startTestGateway(config(fake), { now: () => Date.parse('2026-05-01T10:00:00Z') });
    t.after(() => gw.close());
    const team = await createTeam(gw.url, { name: 'Ops', rpm: 2 });
    const a = await createKey(gw.url, { team_id: team.id });
    const b = await createKey(gw.url, { team_id: team.id });
    assert.equal((await chatWith(gw.url, a.key, 'metered')).status, 200);
    assert.equal((await chatWith(gw.url, b.key, 'metered')).status, 200);
    const limited = await chatWith(gw.url, a.key, 'metered');
    assert.equal(limited.status, 429);
    assert.match(limited.json.error.message, /team/);
  });
});

for (const backend of SHARED_BACKENDS) {
  describe(`revocation across instances (${backend.name})`, () => {
    let fake: FakeUpstream;
    let a: TestGateway;
    let b: TestGateway;
    const shared = backend.fresh('revoke');
    before(async () => {
      fake = await startFakeOpenAI();
      a = await startTestGateway(config(fake, { store: shared.store }));
      b = await startTestGateway(config(fake, { store: shared.store }));
    });
    after(async () => {
      await a.close();
      await b.close();
      await fake.close();
      await shared.cleanup();
    });

    test('a key revoked on one instance is refused by another (which had it cached) within one second', async () => {
      const { id, key } = await createKey(a.url, {});
      assert.equal((await chatWith(b.url, key, 'metered')).status, 200);
      const revokedAt = performance.now();
      const revoke = await call(`${a.url}/api/enterprise/vkeys/${id}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${MASTER_KEY}` } });
      assert.equal(revoke.status, 200, revoke.text);
      let res = await chatWith(b.url, key, 'metered');
      while (res.status === 200 && performance.now() - revokedAt < 1000) {
        await sleep(5);
        res = await chatWith(b.url, key, 'metered');
      }
      assert.equal(res.status, 401, `still accepted ${Math.round(performance.now() - revokedAt)} ms after the revoke`);
      assert.equal(res.json.error.code, 'key_revoked');
    });

    test('a budget reset on one instance is seen by the other', async () => {
      const { id, key } = await createKey(a.url, { max_budget: WORST_MICROS / 1e6 });
      assert.equal((await chatWith(b.url, key, 'metered')).status, 200);
      assertBudgetRefusal(await chatWith(b.url, key, 'metered'), 'lifetime');
      await call(`${a.url}/api/enterprise/vkeys/${id}/reset`, { method: 'POST', headers: { authorization: `Bearer ${MASTER_KEY}` } });
      let res = await chatWith(b.url, key, 'metered');
      for (let i = 0; i < 100 && res.status !== 200; i++) {
        await sleep(10);
        res = await chatWith(b.url, key, 'metered');
      }
      assert.equal(res.status, 200);
    });
  });
}
