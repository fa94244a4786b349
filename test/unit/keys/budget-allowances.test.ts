import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import type { AccessPolicy, BudgetRule } from '../../../src/keys/access-policy.js';
import type { AllowanceSettings } from '../../../src/keys/budget-allowances.js';
import { createPeriodClock } from '../../../src/keys/budget-period.js';
import { budgetCounters, readBudget } from '../../../src/keys/budgets.js';
import { LimitEnforcer } from '../../../src/keys/limits.js';
import { createStore } from '../../../src/storage/index.js';
import type { Store } from '../../../src/storage/types.js';
import { flushRedisPrefix, REDIS_URL } from '../../helpers/redis.js';

const clock = createPeriodClock('UTC');
const windowOf = clock.window.bind(clock);
const now = () => Date.now();

/** Only `budgets` and `rates` matter to the limit enforcer. */
function policyOf(...budgets: BudgetRule[]): AccessPolicy {
  return { budgets, rates: [] } as unknown as AccessPolicy;
}

function rule(maxMicros: number | null, id = randomUUID()): BudgetRule {
  return { scope: 'key', id, maxMicros, period: 'monthly', generation: 0 };
}

async function sqliteStore(t: TestContext): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'sf-allowance-'));
  const store = await createStore({ type: 'sqlite', path: join(dir, 'db.sqlite') });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

function enforcer(store: Store, allowances: Partial<AllowanceSettings> = {}): LimitEnforcer {
  return new LimitEnforcer({ store, now, windowOf, log: pino({ level: 'silent' }), allowances: { requests: 8, headroom: 4, syncMs: 50, idleMs: 300, ...allowances } });
}

/** The two counters behind a budget, straight from the store. */
async function counters(store: Store, r: BudgetRule): Promise<{ spent: number; held: number }> {
  const c = budgetCounters(r, windowOf(r.period, now()), now());
  return { spent: await store.getCounter(c.spentKey), held: await store.getCounter(c.heldKey) };
}

const tokens = 10;

describe('budget allowances', () => {
  test('a large budget is reserved one block at a time, not per request; a read of the budget then shows the exact spend', async (t) => {
    const store = await sqliteStore(t);
    const limits = enforcer(store, { syncMs: 60_000 });
    t.after(() => limits.close());
    const r = rule(1_000_000);
    for (let i = 0; i < 5; i++) {
      const reservation = await limits.reserve(policyOf(r), { tokens, micros: 100 });
      await limits.settle(reservation, { tokens, micros: 40 });
    }
    // One block of 8 worst cases (8 × 100) was taken; the five requests reserved and settled from it.
    assert.deepEqual(await counters(store, r), { spent: 800, held: 800 });

    await limits.flushBudget(r);
    assert.deepEqual(await counters(store, r), { spent: 200, held: 0 });
    const state = await readBudget(store, budgetCounters(r, windowOf(r.period, now()), now()));
    assert.equal(state.spentMicros, 200);
    assert.equal(state.heldMicros, 0);
    assert.equal(state.remainingMicros, 1_000_000 - 200);
  });

  test('settled spend reaches the store by the next sync, and an idle block is given back', async (t) => {
    const store = await sqliteStore(t);
    const limits = enforcer(store, { syncMs: 20, idleMs: 200 });
    t.after(() => limits.close());
    const r = rule(1_000_000);
    const held = await limits.reserve(policyOf(r), { tokens, micros: 100 });
    const done = await limits.reserve(policyOf(r), { tokens, micros: 100 });
    await limits.settle(done, { tokens, micros: 30 });
    await sleep(100);
    // 30 settled: moved from held to spent; the block (800) is still held, the request in flight inside it.
    assert.deepEqual(await counters(store, r), { spent: 800, held: 770 });
    await limits.settle(held, { tokens, micros: 70 });
    for (let i = 0; i < 100 && (await counters(store, r)).held !== 0; i++) await sleep(20);
    assert.deepEqual(await counters(store, r), { spent: 100, held: 0 });
  });

  test('the remaining budget a reservation reports counts the unused block as still available', async (t) => {
    const store = await sqliteStore(t);
    const limits = enforcer(store);
    t.after(() => limits.close());
    const r = rule(1_000_000);
    const first = await limits.reserve(policyOf(r), { tokens, micros: 100 });
    assert.equal(first.remainingMicros, 1_000_000 - 100);
    assert.equal(await limits.settle(first, { tokens, micros: 25 }), 1_000_000 - 25);
    const second = await limits.reserve(policyOf(r), { tokens, micros: 100 });
    assert.equal(second.remainingMicros, 1_000_000 - 25 - 100);
    assert.equal(await limits.settle(second, { tokens, micros: 150 }), 1_000_000 - 25 - 150, 'spend past the reservation counts too');
    await limits.close();
    assert.deepEqual(await counters(store, r), { spent: 175, held: 0 });
  });

  test('near the end of a budget every request reserves in the store, and the last of it is refused exactly', async (t) => {
    const store = await sqliteStore(t);
    // A block is 8 × 100; it is held only while 4 blocks (3,200) would be left after it.
    const limits = enforcer(store);
    t.after(() => limits.close());
    const r = rule(2_000);
    const reservation = await limits.reserve(policyOf(r), { tokens, micros: 100 });
    assert.deepEqual(await counters(store, r), { spent: 100, held: 100 }, 'the request alone is reserved');
    await limits.settle(reservation, { tokens, micros: 100 });
    const answered: number[] = [];
    for (let i = 0; i < 25; i++) {
      try {
        const res = await limits.reserve(policyOf(r), { tokens, micros: 100 });
        await limits.settle(res, { tokens, micros: 100 });
        answered.push(i);
      } catch (err) {
        assert.ok(err instanceof GatewayError && err.codeName === 'SF_ERR_BUDGET_EXCEEDED', String(err));
      }
    }
    assert.equal(answered.length, 19, 'the budget fits 20 requests of 100');
    assert.deepEqual(await counters(store, r), { spent: 2_000, held: 0 });
  });

  test('a budget without a limit counts spend without reserving anything', async (t) => {
    const store = await sqliteStore(t);
    const limits = enforcer(store, { syncMs: 60_000 });
    t.after(() => limits.close());
    const r = rule(null);
    for (let i = 0; i < 4; i++) {
      const reservation = await limits.reserve(policyOf(r), { tokens, micros: 100 });
      assert.equal(reservation.remainingMicros, null);
      assert.equal(await limits.settle(reservation, { tokens, micros: 10 }), null);
    }
    assert.deepEqual(await counters(store, r), { spent: 0, held: 0 });
    await limits.flushBudget(r);
    assert.deepEqual(await counters(store, r), { spent: 40, held: 0 });
  });

  test('a request that outlives idle_ms on a budget without a limit still has its spend written', async (t) => {
    const store = await sqliteStore(t);
    const limits = enforcer(store, { syncMs: 20, idleMs: 100 });
    t.after(() => limits.close());
    const r = rule(null);
    const slow = await limits.reserve(policyOf(r), { tokens, micros: 100 });
    await sleep(300);
    await limits.settle(slow, { tokens, micros: 10 });
    for (let i = 0; i < 50 && (await counters(store, r)).spent === 0; i++) await sleep(20);
    assert.deepEqual(await counters(store, r), { spent: 10, held: 0 });
  });

  test('the remaining budget a busy process reports follows what other processes spent, from its next sync', async (t) => {
    const store = await sqliteStore(t);
    const a = enforcer(store, { syncMs: 20, idleMs: 60_000 });
    const b = enforcer(store, { syncMs: 20, idleMs: 60_000 });
    const r = rule(1_000_000);
    await a.settle(await a.reserve(policyOf(r), { tokens, micros: 100 }), { tokens, micros: 10 });
    await b.settle(await b.reserve(policyOf(r), { tokens, micros: 100 }), { tokens, micros: 500 });
    await sleep(100);
    // B's spend (500) and its block (800, 700 of it unused) are in the store now; A reads the
    // counter back when it next writes its own settled spend.
    await a.settle(await a.reserve(policyOf(r), { tokens, micros: 100 }), { tokens, micros: 10 });
    await sleep(100);
    const next = await a.reserve(policyOf(r), { tokens, micros: 100 });
    assert.equal(next.remainingMicros, 1_000_000 - 20 - 500 - 700 - 100);
    await a.settle(next, { tokens, micros: 0 });
    await a.close();
    await b.close();
    assert.deepEqual(await counters(store, r), { spent: 520, held: 0 }, 'both blocks went back on close');
  });

  test('a sync the store refuses is logged, and closing reports that what it holds could not be written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-allowance-'));
    const store = await createStore({ type: 'sqlite', path: join(dir, 'db.sqlite') });
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const limits = new LimitEnforcer({ store, now, windowOf, log, allowances: { requests: 8, headroom: 4, syncMs: 20, idleMs: 60_000 } });
    try {
      const r = rule(1_000_000);
      const reservation = await limits.reserve(policyOf(r), { tokens, micros: 100 });
      await store.close();
      await limits.settle(reservation, { tokens, micros: 40 });
      for (let i = 0; i < 50 && lines.length === 0; i++) await sleep(20);
      assert.match(lines[0] ?? '', /could not sync budget allowances; will retry/);
      // Closing writes what it holds (the settled 40 and the unused block) and says it could not.
      await assert.rejects(limits.close(), /store is closed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a key and its team: the request draws on both blocks, and a team that is nearly spent sends it to the store', async (t) => {
    const store = await sqliteStore(t);
    const limits = enforcer(store);
    t.after(() => limits.close());
    const key = rule(1_000_000);
    const team: BudgetRule = { ...rule(1_000), scope: 'team' };
    const reservation = await limits.reserve(policyOf(key, team), { tokens, micros: 100 });
    assert.equal(reservation.draw, undefined, 'the team cannot spare a block');
    assert.equal(reservation.remainingMicros, 900);
    await limits.settle(reservation, { tokens, micros: 100 });
    await limits.close();
    assert.deepEqual(await counters(store, key), { spent: 100, held: 0 }, 'the key\'s block went back');
    assert.deepEqual(await counters(store, team), { spent: 100, held: 0 });
  });

  test('a changed limit starts a new block; the old one is given back', async (t) => {
    const store = await sqliteStore(t);
    const limits = enforcer(store, { syncMs: 20, idleMs: 100 });
    t.after(() => limits.close());
    const id = randomUUID();
    const before = await limits.reserve(policyOf(rule(1_000_000, id)), { tokens, micros: 100 });
    await limits.settle(before, { tokens, micros: 50 });
    const after = await limits.reserve(policyOf(rule(500_000, id)), { tokens, micros: 100 });
    assert.ok(after.draw, 'the new limit still leaves room for blocks');
    await limits.settle(after, { tokens, micros: 50 });
    for (let i = 0; i < 100 && (await counters(store, rule(0, id))).held !== 0; i++) await sleep(20);
    assert.deepEqual(await counters(store, rule(0, id)), { spent: 100, held: 0 });
  });

  test('two instances on one Redis under concurrency: the budget is never passed, and closing writes every settled cent', async (t) => {
    const prefix = `sf-test-allowance-${randomUUID()}:`;
    const stores = await Promise.all([0, 1].map(() => createStore({ type: 'redis', url: REDIS_URL, prefix })));
    t.after(async () => {
      for (const s of stores) await s.close();
      await flushRedisPrefix(prefix);
    });
    const instances = stores.map((s) => enforcer(s, { requests: 4, headroom: 4, syncMs: 20, idleMs: 100 }));
    const r = rule(5_000);
    // Worst case = actual, so every answered request spends all it reserved: the budget fits 500.
    const one = async (limits: LimitEnforcer): Promise<boolean> => {
      try {
        const reservation = await limits.reserve(policyOf(r), { tokens, micros: 10 });
        await sleep(Math.random() * 5);
        await limits.settle(reservation, { tokens, micros: 10 });
        return true;
      } catch (err) {
        assert.ok(err instanceof GatewayError && err.codeName === 'SF_ERR_BUDGET_EXCEEDED', String(err));
        return false;
      }
    };
    const results = await Promise.all(Array.from({ length: 700 }, (_, i) => one(instances[i % 2]!)));
    const answered = results.filter(Boolean).length;
    assert.ok(answered <= 500, `${answered} requests of 10 answered on a budget of 5,000`);
    // A block another instance holds can turn away a request or two near the end, never more than it holds.
    assert.ok(answered >= 500 - 2 * 4, `${answered} answered: blocks kept the budget from being used`);
    for (const limits of instances) await limits.close();
    assert.deepEqual(await counters(stores[0]!, r), { spent: answered * 10, held: 0 });
  });
});
