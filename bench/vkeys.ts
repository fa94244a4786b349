import { Redis } from 'ioredis';
import pg from 'pg';
import { request } from 'undici';
import type { HttpTarget } from './measure.js';
import type { PairedScenarioResult } from './scenario.js';

/**
 * What the virtual-key rows of the benchmark need besides load: a budgeted key created through
 * the admin API, a check that requests with it really go through the budget stage, the key's
 * budget after the run (every reservation settled, spend counted), and Redis set-up and clean-up.
 */

/** The budget the bench key gets: far more than the run can spend, so no request is refused. */
export const BENCH_KEY_BUDGET = { max_budget: 1_000_000, budget_period: 'monthly' } as const;

/** The key's budget as GET /api/enterprise/vkeys/{id}/budget reports it (USD). */
export interface KeyBudget {
  max_budget: number | null;
  spent: number;
  reserved: number;
  remaining: number | null;
  budget_period: string;
}

/** The stores the virtual-key rows run on. */
export type BenchStore = 'sqlite' | 'redis' | 'postgres' | 'postgres+redis';

export const BENCH_STORE_NAMES: Record<BenchStore, string> = { sqlite: 'SQLite', redis: 'Redis', postgres: 'PostgreSQL', 'postgres+redis': 'PostgreSQL + Redis' };

/** A paired master-key / virtual-key scenario, with what the key's budget showed afterwards. */
export interface VkeyScenarioResult extends PairedScenarioResult {
  store: BenchStore;
  budgetAfter: KeyBudget;
  profile?: string;
}

/** A virtual-key scenario that could not run (Redis or PostgreSQL not reachable). */
export interface VkeyScenarioSkipped {
  name: string;
  description: string;
  store: BenchStore;
  skipped: string;
}

async function postJson(url: string, masterKey: string, body: unknown): Promise<{ status: number; json: any; text: string }> {
  const res = await request(url, { method: 'POST', headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text };
}

/** Creates a budgeted virtual key with the master key, through the admin API; returns its id and the key. */
export async function createBudgetedKey(gatewayUrl: string, masterKey: string): Promise<{ id: string; key: string }> {
  const res = await postJson(`${gatewayUrl}/api/enterprise/vkeys`, masterKey, { alias: 'bench', ...BENCH_KEY_BUDGET });
  if (res.status !== 201 || typeof res.json?.key !== 'string' || !res.json.key.startsWith('sk-sf-')) {
    throw new Error(`creating a virtual key answered ${res.status}: ${res.text.slice(0, 300)}`);
  }
  return { id: String(res.json.id), key: res.json.key as string };
}

export async function keyBudget(gatewayUrl: string, masterKey: string, id: string): Promise<KeyBudget> {
  const res = await request(`${gatewayUrl}/api/enterprise/vkeys/${encodeURIComponent(id)}/budget`, { headers: { authorization: `Bearer ${masterKey}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`reading the key's budget answered ${res.statusCode}: ${text.slice(0, 300)}`);
  const b = JSON.parse(text) as KeyBudget;
  return { max_budget: b.max_budget, spent: b.spent, reserved: b.reserved, remaining: b.remaining, budget_period: b.budget_period };
}

/**
 * One completion with each credential: both must be answered with usage, and only the virtual
 * key's answer may carry X-Smartflow-Budget-Remaining (proof the reservation and settlement ran).
 */
export async function checkBudgetPath(master: HttpTarget, vkey: HttpTarget): Promise<{ referenceRequests: number; subjectRequests: number }> {
  const send = async (t: HttpTarget) => {
    const res = await request(t.url + t.path, { method: 'POST', headers: t.headers, body: t.body });
    const text = await res.body.text();
    if (res.statusCode !== 200 || !text.includes('"usage"')) throw new Error(`${t.url}: chat completion answered ${res.statusCode}: ${text.slice(0, 300)}`);
    return res.headers['x-smartflow-budget-remaining'];
  };
  if ((await send(master)) !== undefined) throw new Error('the master key was answered with a budget header: the reference is not unlimited');
  const remaining = await send(vkey);
  if (typeof remaining !== 'string' || !/^\d+\.\d{6}$/.test(remaining)) throw new Error(`the virtual key's answer carries no X-Smartflow-Budget-Remaining (got ${String(remaining)}): the budget stage did not run`);
  return { referenceRequests: 1, subjectRequests: 1 };
}

/**
 * After the run, with nothing in flight: every reservation settled, and spend counted for the
 * requests sent (the model has a price). Throws when not, since the rows would not measure a budget.
 */
export function checkBudgetAfter(budget: KeyBudget, requests: number): void {
  if (budget.reserved !== 0) throw new Error(`the bench key still holds $${budget.reserved} reserved after the run: settlements were lost`);
  if (!(budget.spent > 0)) throw new Error(`the bench key spent $${budget.spent} over ${requests} requests: the model has no price, so the budget path was not exercised`);
}

/** The Redis URL without credentials, for log lines. */
export function redactedRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/** Null when Redis answers PING within a second or two, else why not. */
export async function redisProblem(url: string): Promise<string | null> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    redis.disconnect();
  }
}

/** Null when PostgreSQL answers within a few seconds, else why not. */
export async function postgresProblem(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops a schema a bench gateway created. */
export async function dropPostgresSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Deletes every key under `prefix` (as test/integration/budgets.test.ts does); returns how many went. */
export async function flushRedisPrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[\\*?[\]]/g, '\\$&')}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
