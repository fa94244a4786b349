import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.js';
import { resolveMasterKey } from './config/master-key.js';
import { configSchema, type GatewayConfig } from './config/schema.js';
import { formatWalkthrough } from './demo/walkthrough.js';
import { createGateway, type Gateway } from './main.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const HELP = `smartflow ${VERSION} - an AI gateway for LLM providers, MCP servers and A2A agents

Usage:
  smartflow serve [--config FILE] [--port N] [--host H]   run the gateway (default command)
  smartflow demo [--port N] [--host H]                     run a demo gateway with a local model; prints a walkthrough
  smartflow --help | --version

Options:
  -c, --config FILE   smartflow.yaml to read (default: $SMARTFLOW_CONFIG, else ./smartflow.yaml if present)
  -p, --port N        port to listen on (overrides server.port)
      --host H        address to bind (overrides server.host)

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

async function serve(values: { config?: string; port?: string; host?: string }): Promise<number> {
  const loaded = loadConfig(values.config ? { path: values.config } : {});
  const config: GatewayConfig = structuredClone(loaded.config);
  const port = parsePort(values.port);
  if (port !== undefined) config.server.port = port;
  if (values.host) config.server.host = values.host;
  const master = resolveMasterKey(config.master_key, MASTER_KEY_FILE);
  config.master_key = master.key;

  const gateway = await createGateway({ config });
  const url = await gateway.listen();
  for (const name of loaded.missingEnv) gateway.logger.warn({ variable: name }, 'config references an unset environment variable; the field was left out');
  for (const [name, p] of Object.entries(config.providers)) {
    if (!p.api_key && p.type !== 'demo') gateway.logger.warn({ provider: name }, 'provider has no api_key');
  }
  const providers = Object.entries(config.providers).map(([n, p]) => `${n} (${p.type})`);
  const store = config.store.type === 'sqlite' ? `sqlite ${config.store.path}` : 'redis';
  const keyLine =
    master.source === 'config'
      ? 'from config / SMARTFLOW_MASTER_KEY'
      : `${master.source === 'generated' ? 'generated and saved to' : 'read from'} ${master.path} (show it: cat ${master.path})`;
  process.stdout.write(
    [
      `Smartflow ${VERSION} listening on ${url}`,
      `  config:     ${loaded.source ?? 'none (defaults and environment variables)'}`,
      `  store:      ${store}`,
      `  providers:  ${providers.length ? providers.join(', ') : 'none - set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY, or try `smartflow demo` (`npm run demo`)'}`,
      `  master key: ${keyLine}`,
      '',
    ].join('\n'),
  );
  return runUntilSignal(gateway);
}

async function demo(values: { port?: string; host?: string }): Promise<number> {
  const config = configSchema.parse({
    server: { host: values.host ?? '127.0.0.1', port: parsePort(values.port) ?? 4000 },
    master_key: DEMO_MASTER_KEY,
    store: { type: 'sqlite', path: ':memory:' },
    // `down` points at a closed port: a provider that is always unreachable, for the fallback walkthrough.
    providers: { demo: { type: 'demo' }, down: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'demo-unused' } },
    routing: {
      fallback_chains: [{ id: 'demo-resilient', targets: [{ provider: 'down', model: 'gpt-4o-mini', max_retries: 1 }, { model: 'demo-chat' }], retry: { base_delay_ms: 100 } }],
    },
    // The demo model with pretend prices, so budgets have something to count.
    models: [{ name: 'demo-chat-metered', provider: 'demo', model: 'demo-chat', input_cost_per_mtok: 10, output_cost_per_mtok: 30, max_output_tokens: 256, description: 'The demo model with pretend prices ($10 / $30 per million tokens), for trying budgets.' }],
    logging: { level: 'warn', access_log: false },
    // Caching for the free demo model only: the budget walkthrough needs its metered requests to reach the model.
    cache: { models: { 'demo-chat': { enabled: true } } },
  });
  const gateway = await createGateway({ config });
  const url = await gateway.listen();
  const budgetKey = await gateway.access.keys.create(
    { alias: 'demo-budget', models: ['demo-chat-metered'], max_budget: 0.002, budget_period: 'daily', tags: ['demo'], metadata: {}, allow_byok: false },
    'demo',
  );
  process.stdout.write(`${formatWalkthrough(url, DEMO_MASTER_KEY, { id: budgetKey.record.id, key: budgetKey.key })}\n`);
  return runUntilSignal(gateway);
}

/** Entry point for bin/smartflow.js; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
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
  } catch (err) {
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
