import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { createGateway } from '../../src/main.js';
import { startAuthProxy } from './auth-proxy.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');

/**
 * A gateway on 127.0.0.1 with `@modelcontextprotocol/server-everything` registered over STDIO
 * (alias `everything`), a throwaway SQLite store and a random master key, behind the auth
 * proxy: `mcpUrl` is what the conformance kit is pointed at.
 */
export async function startConformanceTarget(): Promise<{ mcpUrl: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sf-mcp-conformance-gw-'));
  const masterKey = `sk-conformance-${crypto.randomUUID()}`;
  const config = configSchema.parse({
    master_key: masterKey,
    store: { type: 'sqlite', path: join(dir, 'smartflow.db') },
    logging: { level: 'error' },
    mcp_servers: [{ alias: 'everything', command: process.execPath, args: [EVERYTHING, 'stdio'] }],
  });
  const gateway = await createGateway({ config, logger: createLogger({ level: 'error', destination: process.stderr }), defaultMetrics: false });
  const url = await gateway.listen('127.0.0.1', 0);
  const proxy = await startAuthProxy(url, masterKey);
  return {
    mcpUrl: `${proxy.url}/mcp`,
    async close() {
      await proxy.close();
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
