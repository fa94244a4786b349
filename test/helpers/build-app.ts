import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { configSchema, type GatewayConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { createGateway, type Gateway } from '../../src/main.js';
import type { StoreOptions } from '../../src/storage/types.js';

export const MASTER_KEY = 'sk-test-master-0123456789';

/** Collects log lines so tests can assert what reached the log (and what did not). */
export class LogCollector extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    cb();
  }
  get text(): string {
    return this.lines.join('');
  }
}

export interface TestGateway {
  gateway: Gateway;
  url: string;
  logs: LogCollector;
  close(): Promise<void>;
}

/**
 * Starts a real gateway on 127.0.0.1:0 with the given config (merged over test defaults:
 * the master key above, a fresh SQLite file, quiet logs captured in memory).
 */
export async function startTestGateway(raw: Record<string, unknown> = {}, options: { storeOptions?: StoreOptions; listen?: boolean; now?: () => number } = {}): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'sf-test-'));
  const config: GatewayConfig = configSchema.parse({
    master_key: MASTER_KEY,
    store: { type: 'sqlite', path: join(dir, 'smartflow.db') },
    logging: { level: 'info' },
    ...raw,
  });
  const logs = new LogCollector();
  const logger = createLogger({ level: config.logging.level, destination: logs });
  const gateway = await createGateway({
    config,
    logger,
    defaultMetrics: false,
    ...(options.storeOptions ? { storeOptions: options.storeOptions } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const url = options.listen === false ? '' : await gateway.listen('127.0.0.1', 0);
  return {
    gateway,
    url,
    logs,
    async close() {
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Provider entries for the fake upstreams, forwarding x-fake-* steering headers. */
export function fakeProviders(urls: { openai?: string; anthropic?: string; gemini?: string }): Record<string, unknown> {
  const providers: Record<string, unknown> = {};
  if (urls.openai) providers.openai = { type: 'openai', base_url: `${urls.openai}/v1`, api_key: 'sk-upstream-openai-secret', forward_headers: ['x-fake-*'] };
  if (urls.anthropic) providers.anthropic = { type: 'anthropic', base_url: urls.anthropic, api_key: 'sk-ant-upstream-secret', forward_headers: ['x-fake-*'] };
  if (urls.gemini) providers.google = { type: 'gemini', base_url: urls.gemini, api_key: 'AIza-upstream-secret', forward_headers: ['x-fake-*'] };
  return providers;
}

export function authHeaders(key = MASTER_KEY): Record<string, string> {
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
}
