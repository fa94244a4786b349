import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { createLayeredStore } from '../../src/storage/layered/layered-store.js';
import { dropSchemas, POSTGRES_URL, testSchema } from '../helpers/postgres.js';
import { flushRedisPrefix, REDIS_URL } from '../helpers/redis.js';
import { storageContract } from './storage.contract.js';

// PostgreSQL with Redis in front: one schema and one Redis prefix per scope, removed afterwards.
const schemas = new Map<string, string>();
const prefixes = new Map<string, string>();
after(async () => {
  await dropSchemas(schemas.values());
  for (const prefix of prefixes.values()) await flushRedisPrefix(prefix);
});

// Redis keeps its own time for counter expiry, so the suite waits in real time (its default).
storageContract('postgres+redis', (scope = '') => {
  if (!schemas.has(scope)) {
    schemas.set(scope, testSchema(scope.replace(/[^a-z0-9_]/g, '_') || 'layered'));
    prefixes.set(scope, `sf-test-layered-${randomUUID()}:`);
  }
  return createLayeredStore(POSTGRES_URL, { schema: schemas.get(scope)!, redisUrl: REDIS_URL, redisPrefix: prefixes.get(scope)! });
});
