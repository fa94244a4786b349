import type { Store, StoreOptions } from './types.js';

/**
 * Which backend holds the gateway's state: an SQLite file (default), or a Redis server or a
 * PostgreSQL database shared by a fleet.
 */
export type StoreConfig =
  | { type: 'sqlite'; path: string }
  | { type: 'redis'; url: string; prefix?: string }
  | { type: 'postgres'; url: string; schema?: string; pool_size?: number };

/**
 * The one place that picks a storage backend. Backends are imported on demand so a Redis or
 * PostgreSQL deployment never loads the native SQLite module, nor an SQLite one the network drivers.
 */
export async function createStore(config: StoreConfig, options?: StoreOptions): Promise<Store> {
  switch (config.type) {
    case 'sqlite': {
      const { createSqliteStore } = await import('./sqlite/sqlite-store.js');
      return createSqliteStore(config.path, options);
    }
    case 'redis': {
      const { createRedisStore } = await import('./redis/redis-store.js');
      return createRedisStore(config.url, { ...(config.prefix ? { prefix: config.prefix } : {}), ...options });
    }
    case 'postgres': {
      const { createPostgresStore } = await import('./postgres/postgres-store.js');
      return createPostgresStore(config.url, {
        ...(config.schema ? { schema: config.schema } : {}),
        ...(config.pool_size ? { poolSize: config.pool_size } : {}),
        ...options,
      });
    }
  }
}
