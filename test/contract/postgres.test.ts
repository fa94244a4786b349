import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import pg from 'pg';
import { after, describe, test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { createStore } from '../../src/storage/index.js';
import { DAY_MS, dayStart, rollUp } from '../../src/spend/spend-rollup.js';
import { MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { createPostgresStore } from '../../src/storage/postgres/postgres-store.js';
import { dropSchemas, POSTGRES_URL, testSchema } from '../helpers/postgres.js';
import { spendRecord } from './spend-fixture.js';
import { storageContract } from './storage.contract.js';

const schemas = new Set<string>();
const schemaFor = (label: string): string => {
  const name = testSchema(label);
  schemas.add(name);
  return name;
};
after(() => dropSchemas(schemas));

// One schema for the suite's shared tests and one per scope, like the other backends' files and prefixes.
const shared = schemaFor('contract');
const scoped = new Map<string, string>();
// A controllable clock: the store decides expiry by the gateway's clock, so tests move it instead of sleeping.
let clock = Date.now();
storageContract(
  'postgres',
  (scope) => {
    let schema = shared;
    if (scope !== undefined) {
      if (!scoped.has(scope)) scoped.set(scope, schemaFor(scope.replace(/[^a-z0-9_]/g, '_')));
      schema = scoped.get(scope)!;
    }
    return createPostgresStore(POSTGRES_URL, { schema, now: () => clock });
  },
  {
    advanceClock: async (ms) => {
      clock += ms;
    },
  },
);

describe('postgres store specifics', () => {
  test('gateways starting at once migrate the schema once; createStore picks postgres', async (t) => {
    const schema = schemaFor('migrate');
    const stores = await Promise.all(Array.from({ length: 4 }, () => createStore({ type: 'postgres', url: POSTGRES_URL, schema })));
    t.after(() => Promise.all(stores.map((s) => s.close())));
    assert.deepEqual(
      stores.map((s) => s.kind),
      ['postgres', 'postgres', 'postgres', 'postgres'],
    );
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    t.after(() => client.end());
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM "${schema}".sf_schema_migrations ORDER BY version`);
    assert.deepEqual(
      rows.map((r) => r.version),
      MIGRATIONS.map((m) => m.version),
    );
    await stores[0]!.putDoc('c', 'x', { n: 1 });
    assert.deepEqual(await stores[3]!.getDoc('c', 'x'), { n: 1 });
  });

  test('migration 3 adds the existing spend log to the rollups; rows inserted by anyone later (an earlier gateway version, an operator) go in too', async (t) => {
    const schema = schemaFor('rollup_upgrade');
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    t.after(() => admin.end());
    // A schema as a gateway of the previous version left it: migrations 1 and 2, and a spend log.
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.query(`SET search_path TO "${schema}"`);
    await admin.query('CREATE TABLE sf_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
    for (const step of MIGRATIONS.filter((m) => m.version <= 2)) {
      await admin.query(step.sql);
      await admin.query('INSERT INTO sf_schema_migrations (version, name) VALUES ($1, $2)', [step.version, step.name]);
    }
    const first = dayStart(Date.now()) - 4 * DAY_MS;
    const rows = Array.from({ length: 600 }, (_, i) =>
      spendRecord({ id: `old-${i}`, time: first + i * 500_000, key_id: [null, '', 'k-a'][i % 3]!, team_id: i % 4 === 0 ? null : 't', model: i % 2 ? 'm-1' : 'm-2', status: i % 7 === 0 ? 500 : 200, cost_micros: i, input_tokens: 2 * i }),
    );
    const insert = (into: string, r: (typeof rows)[number]) =>
      admin.query(
        `INSERT INTO ${into} (id, time, principal, key_id, team_id, model, operation, stream, input_tokens, cached_input_tokens, output_tokens, cost_micros, latency_ms, status)
         VALUES ($1, $2, $3, $4, $5, $6, 'chat', false, $7, $8, $9, $10, 1, $11)`,
        [r.id, r.time, r.principal, r.key_id, r.team_id, r.model, r.input_tokens, r.cached_input_tokens, r.output_tokens, r.cost_micros, r.status],
      );
    for (const r of rows) await insert('spend_log', r);
    await admin.query('RESET search_path');

    const store = await createPostgresStore(POSTGRES_URL, { schema });
    t.after(() => store.close());
    const scanned = async () => (await store.scanSpendRollups({ limit: 1_000 })).items;
    const byGroup = (list: ReturnType<typeof rollUp>) => list.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(byGroup(await scanned()), byGroup(rollUp(rows)), 'the backfill');
    // An insert from a session whose search_path does not name the schema.
    const late = spendRecord({ id: 'late', time: first + DAY_MS + 5, key_id: 'k-a', team_id: 't', model: 'm-1', cost_micros: 1_000_000 });
    await insert(`"${schema}".spend_log`, late);
    assert.deepEqual(byGroup(await scanned()), byGroup(rollUp([...rows, late])), 'the trigger');
    const totals = new Map<string | null, [number, number, number]>();
    for (const r of [...rows, late]) {
      const [n, cost, last] = totals.get(r.key_id) ?? [0, 0, 0];
      totals.set(r.key_id, [n + 1, cost + r.cost_micros, Math.max(last, r.time)]);
    }
    const summary = await store.summarizeSpend({ group_by: 'key', from: first, to: first + 4 * DAY_MS });
    assert.deepEqual(
      summary.rows.map((r) => [r.id, r.requests, r.cost_micros, r.last_used]),
      [...totals].map(([id, v]) => [id, ...v]).sort((a, b) => (b[2] as number) - (a[2] as number)),
    );
  });

  test('schemas isolate gateways on one database, pub/sub included', async (t) => {
    const a = await createPostgresStore(POSTGRES_URL, { schema: schemaFor('iso_a') });
    const b = await createPostgresStore(POSTGRES_URL, { schema: schemaFor('iso_b') });
    t.after(() => Promise.all([a.close(), b.close()]));
    await a.incrCounter('shared-name', 5);
    assert.equal(await b.getCounter('shared-name'), 0);
    const heard: string[] = [];
    await b.subscribe('ch', (m) => heard.push(m));
    const own: string[] = [];
    await a.subscribe('ch', (m) => own.push(m));
    await a.publish('ch', 'for a only');
    while (own.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(heard, []);
  });

  test('a message longer than a NOTIFY payload arrives whole and in order', async (t) => {
    const schema = schemaFor('long');
    const [a, b] = [await createPostgresStore(POSTGRES_URL, { schema }), await createPostgresStore(POSTGRES_URL, { schema })];
    t.after(() => Promise.all([a.close(), b.close()]));
    const heard: string[] = [];
    await b.subscribe('big', (m) => heard.push(m));
    const long = 'ü'.repeat(20_000);
    await a.publish('big', long);
    await a.publish('big', 'after');
    const deadline = Date.now() + 2_000;
    while (heard.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(heard, [long, 'after']);
  });

  test('an unreachable server fails fast without revealing the password', async () => {
    const started = Date.now();
    const err: unknown = await createPostgresStore('postgres://sf:s3cret@127.0.0.1:1/test').then(
      () => assert.fail('connected to port 1'),
      (e: unknown) => e,
    );
    assert.ok(Date.now() - started < 5_000, 'rejects quickly');
    assert.ok(err instanceof GatewayError);
    assert.equal(err.codeName, 'SF_ERR_STORE_UNAVAILABLE');
    assert.ok(!inspect(err, { depth: 10 }).includes('s3cret'), 'not even in the cause chain');
  });

  test('a database that does not exist is unavailable, not a crash', async () => {
    const url = new URL(POSTGRES_URL);
    url.pathname = '/sf_no_such_database';
    await assert.rejects(createPostgresStore(url.toString(), { schema: schemaFor('nodb') }), (err: unknown) => err instanceof GatewayError && err.codeName === 'SF_ERR_STORE_UNAVAILABLE');
  });

  test('calls after the database drops the connections fail with SF_ERR_STORE_UNAVAILABLE, then recover', async (t) => {
    const schema = schemaFor('drop');
    const store = await createPostgresStore(POSTGRES_URL, { schema });
    t.after(() => store.close());
    await store.incrCounter('c', 1);
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    t.after(() => admin.end());
    // What a server restart does to the gateway's connections.
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND query NOT LIKE 'LISTEN%'`,
      [`smartflow ${schema}`],
    );
    assert.ok(rows.length >= 1, 'the pool holds a connection');
    for (const { pid } of rows) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await new Promise((r) => setTimeout(r, 50));
    const outcomes = await Promise.allSettled([store.getCounter('c'), store.getCounter('c')]);
    for (const o of outcomes) {
      if (o.status === 'rejected') assert.ok(o.reason instanceof GatewayError && o.reason.codeName === 'SF_ERR_STORE_UNAVAILABLE', String(o.reason));
      else assert.equal(o.value, 1);
    }
    assert.equal(await store.getCounter('c'), 1, 'a fresh connection answers');
  });
});
