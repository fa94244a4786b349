import type { MasterKeyResult } from '../config/master-key.js';
import type { GatewayConfig } from '../config/schema.js';
import { GATEWAY_VERSION } from '../core/version.js';

export interface ServeBannerInput {
  url: string;
  /** The config file read, if any. */
  source: string | null | undefined;
  config: GatewayConfig;
  master: MasterKeyResult;
  /** The processes serving requests: this one, or the workers of a cluster. */
  pids: number[];
}

/** What `smartflow serve` prints once it listens. */
export function serveBanner({ url, source, config, master, pids }: ServeBannerInput): string {
  const providers = Object.entries(config.providers).map(([n, p]) => `${n} (${p.type})`);
  const store = config.store.type === 'sqlite' ? `sqlite ${config.store.path}` : config.store.type === 'postgres' ? `postgres (schema ${config.store.schema})` : 'redis';
  const keyLine =
    master.source === 'config'
      ? 'from config / SMARTFLOW_MASTER_KEY'
      : `${master.source === 'generated' ? 'generated and saved to' : 'read from'} ${master.path} (show it: cat ${master.path})`;
  return [
    `Smartflow ${GATEWAY_VERSION} listening on ${url}`,
    `  config:     ${source ?? 'none (defaults and environment variables)'}`,
    `  store:      ${store}`,
    `  providers:  ${providers.length ? providers.join(', ') : 'none - set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY, or try `smartflow demo` (`npm run demo`)'}`,
    `  master key: ${keyLine}`,
    `  workers:    ${pids.length === 1 ? `1 process (pid ${pids[0]})` : `${pids.length} processes (pids ${pids.join(', ')})`}`,
    '',
  ].join('\n');
}
