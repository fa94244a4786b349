import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { request } from 'undici';
import { SpendRetention } from '../src/spend/spend-retention.js';
import type { SpendRecord } from '../src/spend/spend-record.js';
import { createStore, type StoreConfig } from '../src/storage/index.js';
import { BENCH_MASTER_KEY } from './protocol.js';
import { dropPostgresSchema, flushRedisPrefix } from './vkeys.js';

/**
 * `npm run bench:spend-log [-- --store sqlite|postgres|redis] [-- --rows N]`: the spend log at
 * size (issue 18). Writes N rows (default 1,000,000) spread over 180 days straight into the store,
 * starts the gateway on it as `npm start` does (compiled dist/), streams the whole log out through
 * GET /api/spend/logs/export in CSV while polling the gateway's RSS, then runs one retention pass
 * (90 days: about half the rows go) in this process while polling its own heap. Memory must stay
 * flat whatever N is: compare a run with --rows 100000.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { store: { type: 'string', default: 'sqlite' }, rows: { type: 'string', default: '1000000' } } });
const ROWS = Number(values.rows);
const DAY = 86_400_000;
const BATCH = 5_000;
const log = (line: string) => process.stderr.write(`${line}\n`);
const mib = (bytes: number) => (bytes / 1_048_576).toFixed(0);

function storeConfig(dataDir: string): { config: StoreConfig; cleanup: () => Promise<void> } {
  switch (values.store) {
    case 'sqlite':
      return { config: { type: 'sqlite', path: join(dataDir, 'smartflow.db') }, cleanup: async () => undefined };
    case 'postgres': {
      const url = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
      const schema = `sf_bench_spend_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
      return { config: { type: 'postgres', url, schema }, cleanup: () => dropPostgresSchema(url, schema) };
    }
    case 'redis': {
      const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
      const prefix = `sf-bench-spend-${randomUUID()}:`;
      // The stream must hold every row for the export to see them all.
      return { config: { type: 'redis', url, prefix, spend_log_max_rows: ROWS + BATCH }, cleanup: async () => void (await flushRedisPrefix(url, prefix)) };
    }
    default:
      throw new Error(`--store must be sqlite, postgres or redis, not ${values.store}`);
  }
}

function row(i: number, start: number): SpendRecord {
  const key = `vk_${(i % 50).toString().padStart(4, '0')}`;
  return {
    id: `req_${i.toString(36).padStart(8, '0')}`,
    time: start + Math.floor((i * 180 * DAY) / ROWS),
    principal: key,
    key_id: key,
    team_id: `team_${i % 7}`,
    model: i % 3 === 0 ? 'claude-sonnet-4-5' : 'gpt-4o-mini',
    provider: i % 3 === 0 ? 'anthropic' : 'openai',
    upstream_model: i % 3 === 0 ? 'claude-sonnet-4-5-20250929' : 'gpt-4o-mini-2024-07-18',
    operation: 'chat',
    stream: i % 2 === 0,
    input_tokens: 1_000 + (i % 500),
    cached_input_tokens: 0,
    output_tokens: 200 + (i % 100),
    cost_micros: 300 + (i % 1_000),
    usage_estimated: false,
    latency_ms: 800.125,
    ttft_ms: i % 2 === 0 ? 210.5 : null,
    status: i % 50 === 0 ? 429 : 200,
    error_code: i % 50 === 0 ? 'rate_limit_exceeded' : null,
    cache_status: 'miss',
    saved_cost_micros: 0,
    fallback_chain: null,
    attempts: null,
    loop_id: null,
    loop_step: null,
    trace_id: null,
  };
}

function rssOf(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

async function startGateway(config: StoreConfig, dataDir: string): Promise<{ proc: ChildProcess; url: string }> {
  const configPath = join(dataDir, 'smartflow.json');
  writeFileSync(configPath, JSON.stringify({ master_key: BENCH_MASTER_KEY, store: config, logging: { level: 'warn' }, spend_log: { retention_days: 0 } }));
  const port = await freePort();
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'smartflow.js'), 'serve', '--config', configPath, '--port', String(port), '--workers', '1'], {
    cwd: dataDir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 100) {
    if (proc.exitCode !== null) throw new Error(`gateway exited (${proc.exitCode})`);
    if (await fetch(`${url}/health/liveness`).then((r) => r.ok, () => false)) return { proc, url };
    if (waited > 30_000) throw new Error('gateway did not listen within 30 s');
    await sleep(100);
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'smartflow-spend-bench-'));
const { config, cleanup } = storeConfig(dataDir);
const store = await createStore(config);
try {
  const start = Date.now() - 180 * DAY;
  let t0 = performance.now();
  for (let i = 0; i < ROWS; i += BATCH) {
    await store.appendSpend(Array.from({ length: Math.min(BATCH, ROWS - i) }, (_, j) => row(i + j, start)));
  }
  const writeS = (performance.now() - t0) / 1000;
  log(`wrote ${ROWS} rows in ${writeS.toFixed(1)} s`);

  const { proc, url } = await startGateway(config, dataDir);
  let exported = 0;
  let bytes = 0;
  let exportS = 0;
  let gatewayIdle = 0;
  let gatewayPeak = 0;
  try {
    await sleep(1_000);
    gatewayIdle = rssOf(proc.pid!);
    gatewayPeak = gatewayIdle;
    const poll = setInterval(() => (gatewayPeak = Math.max(gatewayPeak, rssOf(proc.pid!))), 100);
    t0 = performance.now();
    const res = await request(`${url}/api/spend/logs/export?format=csv&from=0`, { headers: { authorization: `Bearer ${BENCH_MASTER_KEY}` } });
    if (res.statusCode !== 200) throw new Error(`export answered ${res.statusCode}: ${await res.body.text()}`);
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      bytes += buf.length;
      for (let k = buf.indexOf(10); k !== -1; k = buf.indexOf(10, k + 1)) exported++;
    }
    exportS = (performance.now() - t0) / 1000;
    clearInterval(poll);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((ok) => proc.once('exit', ok));
  }
  // The header line is not a row.
  exported -= 1;
  log(`exported ${exported} rows (${mib(bytes)} MiB of CSV) in ${exportS.toFixed(1)} s`);

  const retention = new SpendRetention({ store, log: pino({ level: 'warn' }), retentionDays: 90, rollupRetentionDays: 730, now: Date.now });
  let heapPeak = process.memoryUsage().rss;
  const heapBefore = heapPeak;
  const poll = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().rss)), 100);
  t0 = performance.now();
  const deleted = await retention.runOnce();
  const retentionS = (performance.now() - t0) / 1000;
  clearInterval(poll);
  const left = ROWS - deleted;

  const lines = [
    `| spend log, ${values.store}, ${ROWS.toLocaleString('en')} rows over 180 days | |`,
    '| --- | ---: |',
    `| write (appendSpend, batches of ${BATCH.toLocaleString('en')}) | ${writeS.toFixed(1)} s (${Math.round(ROWS / writeS).toLocaleString('en')} rows/s) |`,
    `| export, CSV, every row (GET /api/spend/logs/export) | ${exported.toLocaleString('en')} rows, ${mib(bytes)} MiB in ${exportS.toFixed(1)} s (${Math.round(exported / exportS).toLocaleString('en')} rows/s) |`,
    `| gateway RSS before / peak during the export | ${mib(gatewayIdle)} / ${mib(gatewayPeak)} MiB |`,
    `| retention pass, 90 days (batches of 1,000 with 10 ms pauses) | ${deleted.toLocaleString('en')} rows deleted in ${retentionS.toFixed(1)} s, ${left.toLocaleString('en')} left |`,
    `| this process's RSS before / peak during the pass | ${mib(heapBefore)} / ${mib(heapPeak)} MiB |`,
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
  if (exported !== ROWS) throw new Error(`exported ${exported} rows, expected ${ROWS}`);
} finally {
  await store.close();
  await cleanup();
  rmSync(dataDir, { recursive: true, force: true });
}
