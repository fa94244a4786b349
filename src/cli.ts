import { GATEWAY_VERSION } from './core/version.js';
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, masterKeyFromEnv } from './config/load.js';
import { resolveMasterKey } from './config/master-key.js';
import type { GatewayConfig } from './config/schema.js';
import { formatWalkthrough } from './demo/walkthrough.js';
import { DEMO_BUDGET, DEMO_POLICY, startDemoWorld } from './demo/world.js';
import { createGateway, type Gateway } from './main.js';
import { SecretBox, secretKeyFrom } from './crypto/secret-box.js';
import { resealMcpSecrets } from './mcp/auth/reseal-secrets.js';
import { createResealer } from './crypto/resealer.js';
import { resealSsoSecret } from './identity/sso-config.js';
import { resealAgentSecrets } from './a2a/agent-registry.js';
import { createStore } from './storage/index.js';
import { runPrimary } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { workerCount } from './cluster/worker-count.js';
import { workerIdentity } from './cluster/worker-identity.js';
import { serveBanner } from './cli/serve-banner.js';
import { migrateCommand } from './cli/migrate-command.js';
import { UsageError } from './cli/usage-error.js';
import { createLogger, type Logger } from './log/logger.js';

const VERSION = GATEWAY_VERSION;

const HELP = `smartflow ${VERSION} - an AI gateway for LLM providers, MCP servers and A2A agents

Usage:
  smartflow serve [--config FILE] [--port N] [--host H] [--workers N]
                                                           run the gateway (default command)
  smartflow demo [--port N] [--host H]                     run a demo gateway whose providers answer locally; prints a walkthrough
  smartflow secrets rotate --new-key KEY [--config FILE]   re-encrypt every stored secret (MCP, SSO, A2A) under a new secrets key (docs/mcp-auth.md)
  smartflow migrate --from STORE --to STORE [--force] [--dry-run]
                                                           copy everything a gateway keeps to another store, resumable, verified
                                                           by counts (stop the gateways first; docs/cli.md#migrate)
  smartflow --help | --version

Options:
  -c, --config FILE   smartflow.yaml to read (default: $SMARTFLOW_CONFIG, else ./smartflow.yaml if present)
  -p, --port N        port to listen on (overrides server.port)
      --host H        address to bind (overrides server.host)
      --workers N     processes to run: a number, or auto for one per core (overrides
                      server.workers and SMARTFLOW_WORKERS; default auto; 1 = one process)
      --from, --to STORE
                      migrate: sqlite:PATH, redis://HOST[:PORT][/DB] or postgres://HOST[:PORT]/DATABASE
      --from-prefix, --to-prefix P
                      migrate: the Redis key prefix (default sf:)
      --from-schema, --to-schema S
                      migrate: the PostgreSQL schema (default smartflow)
      --from-redis, --to-redis URL
                      migrate: the Redis in front of a PostgreSQL store (store.redis)
      --force         migrate: copy into a target that holds another gateway's data
      --dry-run       migrate: print what would be copied; write nothing

Without a config file the gateway serves whichever of OPENAI_API_KEY, ANTHROPIC_API_KEY and
GEMINI_API_KEY are set. Without a master key (SMARTFLOW_MASTER_KEY) one is generated into
./data/master_key. Docs: docs/ in the repository.`;

const MASTER_KEY_FILE = './data/master_key';
const DEMO_MASTER_KEY = 'sk-demo-master-key';

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`--port: "${value}" is not a port number (0-65535)`);
  return n;
}

/** Runs until SIGINT/SIGTERM, then drains in-flight requests and closes; a second signal exits at once. */
function runUntilSignal(gateway: Gateway): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`\n${signal} again: exiting without waiting.\n`);
        process.exit(1);
      }
      stopping = true;
      process.stderr.write(`\n${signal}: finishing in-flight requests, then closing.\n`);
      gateway.close().then(
        () => resolve(0),
        (err: unknown) => {
          gateway.logger.error({ err }, 'error while closing');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function parseWorkers(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined || value === 'auto') return value;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new ConfigError(`--workers: "${value}" is not a number of processes (1-1024) or auto`);
  return n;
}

async function serve(values: { config?: string; port?: string; host?: string; workers?: string }): Promise<number> {
  const loaded = loadConfig(values.config ? { path: values.config } : {});
  const config: GatewayConfig = structuredClone(loaded.config);
  const port = parsePort(values.port);
  if (port !== undefined) config.server.port = port;
  if (values.host) config.server.host = values.host;
  const workers = workerCount(parseWorkers(values.workers) ?? config.server.workers, config.store);
  // Resolved (and generated, the first time) before any worker starts, so they all read one key.
  const master = resolveMasterKey(config.master_key, MASTER_KEY_FILE);
  config.master_key = master.key;
  const self = workerIdentity();

  const announce = (url: string, log: Logger, pids: number[] = [process.pid]): void => {
    for (const name of loaded.missingEnv) log.warn({ variable: name }, 'config references an unset environment variable; the field was left out');
    for (const [name, p] of Object.entries(config.providers)) {
      if (!p.api_key && p.type !== 'demo') log.warn({ provider: name }, 'provider has no api_key');
    }
    process.stdout.write(serveBanner({ url, source: loaded.source, config, master, pids }));
  };

  if (self === null && workers > 1) {
    const log = createLogger({ level: config.logging.level });
    return runPrimary({ workers, log, onListening: (url, pids) => announce(url, log, pids) });
  }
  const gateway = await createGateway({ config });
  const url = await gateway.listen();
  if (self !== null) return runWorker(gateway, url, self);
  announce(url, gateway.logger);
  return runUntilSignal(gateway);
}

/**
 * Re-encrypts the MCP secrets in the store from the current secrets key (secrets.key /
 * SMARTFLOW_SECRET_KEY, else derived from the master key) to `--new-key`. Then set
 * SMARTFLOW_SECRET_KEY to the new key and restart every instance.
 */
async function rotateSecrets(values: { config?: string; 'new-key'?: string }): Promise<number> {
  if (!values['new-key']) throw new ConfigError('secrets rotate needs --new-key (32 bytes as 64 hex digits or base64)');
  const config = loadConfig(values.config ? { path: values.config } : {}).config;
  const masterKey = resolveMasterKey(config.master_key, MASTER_KEY_FILE).key;
  let from: SecretBox;
  let to: SecretBox;
  try {
    from = new SecretBox(secretKeyFrom({ key: config.secrets.key, masterKey }));
    to = new SecretBox(secretKeyFrom({ key: values['new-key'], masterKey }));
  } catch (err) {
    throw new ConfigError((err as Error).message.replace('secrets.key (SMARTFLOW_SECRET_KEY)', '--new-key'));
  }
  const store = await createStore(config.store);
  try {
    // Every sealed secret moves together: MCP servers and tokens, the SSO client secret, A2A remote headers.
    const resealer = createResealer(from, to);
    const report = { ...(await resealMcpSecrets(store, resealer)), sso: await resealSsoSecret(store, resealer), a2a_agents: await resealAgentSecrets(store, resealer), unreadable: resealer.unreadable };
    process.stdout.write(`${JSON.stringify(report)}\nNow set SMARTFLOW_SECRET_KEY (or secrets.key) to the new key and restart every instance.\n`);
    return report.unreadable.length ? 1 : 0;
  } finally {
    await store.close();
  }
}

async function demo(values: { port?: string; host?: string }): Promise<number> {
  const envKey = masterKeyFromEnv();
  const masterKey = envKey ?? DEMO_MASTER_KEY;
  const world = await startDemoWorld({ host: values.host ?? '127.0.0.1', port: parsePort(values.port) ?? 4000, masterKey });
  let gateway: Gateway | undefined;
  let url: string;
  try {
    gateway = await createGateway({ config: world.config });
    url = await gateway.listen();
  } catch (err) {
    // The local upstreams would keep the process alive after the error is reported.
    await gateway?.close();
    await world.close();
    throw err;
  }
  const budgetKey = await gateway.access.keys.create(
    { alias: 'demo-budget', models: [DEMO_BUDGET.model], max_budget: DEMO_BUDGET.max_budget, budget_period: 'daily', tags: ['demo'], metadata: {}, allow_byok: false, mcp_servers: [], mcp_tools: [] },
    'demo',
  );
  await gateway.policies.attach({ policy: DEMO_POLICY.name, scope: 'tag', pattern: DEMO_POLICY.tagPattern });
  process.stdout.write(`${formatWalkthrough(url, { fromEnv: envKey !== undefined, key: masterKey }, { id: budgetKey.record.id, key: budgetKey.key }, world.filesDir)}\n`);
  const code = await runUntilSignal(gateway);
  await world.close();
  return code;
}

/** Entry point for bin/smartflow.js; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const code = await run(argv);
  // A cluster worker's IPC channel would keep it alive after the gateway closed.
  if (cluster.isWorker) process.exit(code);
  return code;
}

async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        'new-key': { type: 'string' },
        workers: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        'from-prefix': { type: 'string' },
        'to-prefix': { type: 'string' },
        'from-schema': { type: 'string' },
        'to-schema': { type: 'string' },
        'from-redis': { type: 'string' },
        'to-redis': { type: 'string' },
        force: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'serve';
  if (values.help || command === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  try {
    if (command === 'serve') return await serve(values);
    if (command === 'demo') return await demo(values);
    if (command === 'secrets' && positionals[1] === 'rotate') return await rotateSecrets(values);
    if (command === 'migrate') return await migrateCommand(values);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\nRun smartflow --help for the usage.\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`Invalid configuration:\n${err.message}\n`);
      return 1;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      process.stderr.write(`Cannot listen: the address is already in use (${e.message}). Choose another port with --port.\n`);
      return 1;
    }
    throw err;
  }
  process.stderr.write(`Unknown command "${command}".\n\n${HELP}\n`);
  return 2;
}
