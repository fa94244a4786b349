import type { LayeredStoreOptions } from './layered/layered-store.js';
import type { RedisStoreOptions } from './redis/redis-store.js';
import type { Store, StoreOptions } from './types.js';

/**
 * Which backend holds the gateway's state: an SQLite file (default), or a Redis server or a
 * PostgreSQL database shared by a fleet.
 */
export type StoreConfig =
  | { type: 'sqlite'; path: string }
  | { type: 'redis'; url: string; prefix?: string; spend_log_max_rows?: number }
  | { type: 'postgres'; url: string; schema?: string; pool_size?: number; redis?: string; redis_prefix?: string };

/**
 * The options every backend takes, and what a backend reports back to the gateway (Redis's
 * spend-log cap, PostgreSQL with Redis: budget counter changes that could not be written yet).
 */
export type CreateStoreOptions = StoreOptions & Pick<RedisStoreOptions, 'onSpendEvicted'> & Pick<LayeredStoreOptions, 'onCounterFlushError'>;

/**
 * The one place that picks a storage backend. Backends are imported on demand so a Redis or
 * PostgreSQL deployment never loads the native SQLite module, nor an SQLite one the network drivers.
 */
export async function createStore(config: StoreConfig, options?: CreateStoreOptions): Promise<Store> {
  switch (config.type) {
    case 'sqlite': {
      const { createSqliteStore } = await import('./sqlite/sqlite-store.js');
      return createSqliteStore(config.path, options);
    }
    case 'redis': {
      const { createRedisStore } = await import('./redis/redis-store.js');
      return createRedisStore(config.url, {
        ...(config.prefix ? { prefix: config.prefix } : {}),
        ...(config.spend_log_max_rows ? { spendMaxRows: config.spend_log_max_rows } : {}),
        ...options,
      });
    }
    case 'postgres': {
      const pgOptions = { ...(config.schema ? { schema: config.schema } : {}), ...(config.pool_size ? { poolSize: config.pool_size } : {}), ...options };
      if (config.redis) {
        const { createLayeredStore } = await import('./layered/layered-store.js');
        return createLayeredStore(config.url, { ...pgOptions, redisUrl: config.redis, ...(config.redis_prefix ? { redisPrefix: config.redis_prefix } : {}) });
      }
      const { createPostgresStore } = await import('./postgres/postgres-store.js');
      return createPostgresStore(config.url, pgOptions);
    }
  }
}
