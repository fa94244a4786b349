import { randomUUID } from 'node:crypto';
import { dropSchemas, POSTGRES_URL, testSchema } from './postgres.js';
import { flushRedisPrefix, REDIS_URL } from './redis.js';

/** A store configuration several gateways can share, with what removes its data afterwards. */
export interface SharedStore {
  store: Record<string, unknown>;
  cleanup(): Promise<void>;
}

/** The backends a fleet of gateways can share, for tests that run once on each. */
export interface SharedBackend {
  name: string;
  /** A fresh, empty store configuration; `label` (lower-case letters and _) names it for debugging. */
  fresh(label: string): SharedStore;
}

export const SHARED_BACKENDS: readonly SharedBackend[] = [
  {
    name: 'Redis',
    fresh(label) {
      const prefix = `sf-test-${label}-${randomUUID()}:`;
      return { store: { type: 'redis', url: REDIS_URL, prefix }, cleanup: () => flushRedisPrefix(prefix) };
    },
  },
  {
    name: 'PostgreSQL',
    fresh(label) {
      const schema = testSchema(label);
      return { store: { type: 'postgres', url: POSTGRES_URL, schema }, cleanup: () => dropSchemas([schema]) };
    },
  },
  {
    name: 'PostgreSQL with Redis in front',
    fresh(label) {
      const schema = testSchema(label);
      const prefix = `sf-test-${label}-${randomUUID()}:`;
      return {
        store: { type: 'postgres', url: POSTGRES_URL, schema, redis: REDIS_URL, redis_prefix: prefix },
        cleanup: async () => {
          await dropSchemas([schema]);
          await flushRedisPrefix(prefix);
        },
      };
    },
  },
];
