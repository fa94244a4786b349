import { Redis, type RedisOptions } from 'ioredis';

export const CONNECT_TIMEOUT_MS = 3_000;

export const CONNECTION_OPTIONS: RedisOptions = {
  lazyConnect: true,
  connectTimeout: CONNECT_TIMEOUT_MS,
  // Budget and rate-limit checks sit on the request path: fail fast and let the caller answer 503
  // rather than queue commands behind a dead connection.
  maxRetriesPerRequest: 1,
  // Keep reconnecting in the background after a drop; calls fail fast meanwhile.
  retryStrategy: (times) => Math.min(times * 100, 2_000),
};

/** Connects or rejects within the timeout; a wrong password can otherwise leave connect() pending. */
export async function connectWithin(connection: Redis, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not become ready within ${timeoutMs} ms.`)), timeoutMs);
  });
  try {
    await Promise.race([connection.connect(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A command connection as the store uses one: connected (or rejected) within the timeout, and
 * failing calls at once after a drop instead of queueing them. The caller maps errors (the URL
 * holds credentials).
 */
export async function connectRedis(url: string): Promise<Redis> {
  const client = new Redis(url, CONNECTION_OPTIONS);
  // Without a listener ioredis prints connection errors itself; failures reach callers as rejections.
  client.on('error', () => undefined);
  try {
    await connectWithin(client, CONNECT_TIMEOUT_MS + 500);
  } catch (err) {
    // Stops the background reconnect loop, which would otherwise keep the process alive.
    client.disconnect();
    throw err;
  }
  client.options.enableOfflineQueue = false;
  return client;
}
