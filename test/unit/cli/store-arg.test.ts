import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { parseStoreArg } from '../../../src/cli/store-arg.js';
import { UsageError } from '../../../src/cli/usage-error.js';
import { redactSecrets } from '../../../src/storage/url-credentials.js';

const usage = (pattern: RegExp) => (err: unknown) => err instanceof UsageError && pattern.test(err.message);

describe('migrate store arguments', () => {
  test('sqlite: a path, named by its absolute real path', () => {
    const arg = parseStoreArg('--to', 'sqlite:./data/x.db');
    assert.deepEqual(arg.config, { type: 'sqlite', path: './data/x.db' });
    assert.equal(arg.name, `sqlite:${resolve('./data/x.db')}`);
    assert.deepEqual(arg.secrets, []);
    const dir = realpathSync(tmpdir());
    assert.equal(parseStoreArg('--from', `sqlite:${tmpdir()}/../${dir.split('/').pop()}/a.db`).name, `sqlite:${join(dir, 'a.db')}`);
    assert.throws(() => parseStoreArg('--to', 'sqlite:'), usage(/needs the path/));
    assert.throws(() => parseStoreArg('--to', 'sqlite::memory:'), usage(/needs the path/));
  });

  test('redis and postgres: defaults, options, and names without credentials', () => {
    const redis = parseStoreArg('--to', 'redis://:p%40ss@cache:6380/2', { prefix: 'gw:' });
    assert.equal(redis.config.type, 'redis');
    assert.equal(redis.config.type === 'redis' && redis.config.prefix, 'gw:');
    assert.equal(redis.name, 'redis://cache:6380/2 (prefix gw:)');
    assert.equal(parseStoreArg('--to', 'rediss://cache').name, 'rediss://cache (prefix sf:)');

    const pg = parseStoreArg('--from', 'postgresql://sf:s3cret@db:5432/gw?sslmode=require');
    assert.equal(pg.config.type === 'postgres' && pg.config.schema, 'smartflow');
    assert.equal(pg.name, 'postgres://db:5432/gw (schema smartflow)', 'postgresql: and postgres: name one store');
    assert.equal(parseStoreArg('--from', 'postgres://db/gw', { schema: 'tenant_a' }).name, 'postgres://db/gw (schema tenant_a)');
    assert.equal(parseStoreArg('--from', 'postgres://postgres@db/gw').name, 'postgres://db/gw (schema smartflow)');
  });

  test('the password, raw and decoded, is what gets redacted; the user name is not', () => {
    const { secrets } = parseStoreArg('--to', 'postgres://postgres:p%40ss%2Fw@db/gw');
    assert.equal(redactSecrets(secrets, 'connect as postgres with p%40ss%2Fw or p@ss/w'), 'connect as postgres with *** or ***');
    assert.deepEqual(parseStoreArg('--to', 'postgres://postgres@db/gw').secrets, []);
  });

  test('a PostgreSQL store with Redis in front: --to-redis and --to-prefix, both passwords secret', () => {
    const arg = parseStoreArg('--to', 'postgres://gw:pg%20pw@db:5432/gw', { redis: 'redis://:r3dis@cache:6379/0', prefix: 'gw:', schema: 'fleet' });
    assert.deepEqual(arg.config, { type: 'postgres', url: 'postgres://gw:pg%20pw@db:5432/gw', schema: 'fleet', pool_size: 10, redis: 'redis://:r3dis@cache:6379/0', redis_prefix: 'gw:' });
    assert.equal(arg.name, 'postgres://db:5432/gw (schema fleet) + redis://cache:6379/0 (prefix gw:)');
    assert.deepEqual([...arg.secrets].sort(), ['pg pw', 'pg%20pw', 'r3dis']);
    assert.throws(() => parseStoreArg('--to', 'postgres://db/gw', { redis: 'http://cache' }), usage(/--to-redis is not a Redis URL/));
    assert.throws(() => parseStoreArg('--to', 'redis://cache', { redis: 'redis://other' }), usage(/--to-redis applies to a postgres:\/\/ store only/));
  });

  test('mistakes are usage errors that never quote the URL', () => {
    assert.throws(() => parseStoreArg('--from', undefined), usage(/migrate needs --from/));
    for (const bad of ['mysql://u:hunter2@db/x', 'http://u:hunter2@x', 'not a store', 'redis://u:hunter2@[bad']) {
      assert.throws(() => parseStoreArg('--from', bad), (err: unknown) => usage(/--from is not a store/)(err) && !(err as Error).message.includes('hunter2'), bad);
    }
    assert.throws(() => parseStoreArg('--to', 'postgres://db/gw', { schema: 'Bad-Name' }), usage(/^--to-schema: a lower-case PostgreSQL identifier/));
    assert.throws(() => parseStoreArg('--to', 'postgres://db/gw', { prefix: 'x:' }), usage(/--to-prefix applies to a redis:\/\/ \(or postgres:\/\/ with --to-redis\) store only/));
    assert.throws(() => parseStoreArg('--from', 'redis://cache', { schema: 'x' }), usage(/--from-schema applies to a postgres:\/\/ store only/));
    assert.throws(() => parseStoreArg('--from', 'sqlite:a.db', { prefix: 'x:' }), usage(/--from-prefix applies/));
  });
});
