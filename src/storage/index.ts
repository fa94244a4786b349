import type { Store, StoreOptions } from './types.js';

/** Which backend holds the gateway's state: an SQLite file (default) or a Redis server shared by a fleet. */
export type StoreConfig = { type: 'sqlite'; path: string } | { type: 'redis'; url: string; prefix?: string };

/**
 * The one place that picks a storage backend. Backends are imported on demand so a Redis
 * deployment never loads the native SQLite module and vice versa.
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
  }
}
