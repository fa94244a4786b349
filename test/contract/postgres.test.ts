import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import pg from 'pg';
import { after, describe, test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { createStore } from '../../src/storage/index.js';
import { MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import { createPostgresStore } from '../../src/storage/postgres/postgres-store.js';
import { dropSchemas, POSTGRES_URL, testSchema } from '../helpers/postgres.js';
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
