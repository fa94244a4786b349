import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchChild } from './children.js';
import { runLoad, type HttpTarget } from './measure.js';
import { BENCH_MASTER_KEY } from './protocol.js';

/**
 * `npm run bench -- --workers`: `smartflow serve --workers 1` against `--workers 2`, the real CLI
 * (bin/smartflow.js, compiled dist/), non-streamed chat completions with the master key on the
 * default SQLite store, quiet logging. The fake upstream and the load generator (autocannon, in
 * this process) share the same cores as the gateway: on a 2-core machine they take a large part
 * of the CPU, so the throughput ratio alone understates what a second core gives the gateway.
 * Each row therefore also reports CPU per request of the gateway (every process: primary and
 * workers, from /proc), of the upstream and of the load generator, and the throughput two
 * dedicated cores would give at the measured gateway CPU per request.
 */

const TICK_US = 10_000; // USER_HZ is 100 on Linux
const SECONDS = Number(process.env.SMARTFLOW_BENCH_WORKERS_SECONDS ?? 10);
const CONNECTIONS = 64;

interface Row {
  workers: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  gatewayCpuUsPerReq: number;
  upstreamCpuUsPerReq: number;
  loadCpuUsPerReq: number;
  /** Requests/s two cores would serve at this gateway CPU per request (the gateway alone on them). */
  twoCoreCeiling: number;
}

function cpuUsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return 0;
  }
}

async function startGateway(repoRoot: string, dir: string, upstreamUrl: string, workers: number): Promise<{ proc: ChildProcess; url: string; pids: number[] }> {
  writeFileSync(
    join(dir, 'smartflow.yaml'),
    JSON.stringify({
      master_key: BENCH_MASTER_KEY,
      store: { type: 'sqlite', path: join(dir, 'smartflow.db') },
      providers: { openai: { type: 'openai', base_url: `${upstreamUrl}/v1`, api_key: 'sk-bench-upstream' } },
      models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
      logging: { level: 'warn', access_log: false },
    }),
  );
  const proc = spawn(process.execPath, [join(repoRoot, 'bin/smartflow.js'), 'serve', '--port', '0', '--workers', String(workers)], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (c: string) => (out += c));
  const end = Date.now() + 60_000;
  let m: RegExpMatchArray | null;
  while (!(m = out.match(/listening on (http:\/\/\S+)[\s\S]*workers: +(.*)\n/))) {
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`gateway did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const pids = [...(m[2] ?? '').matchAll(/\d+(?=[,)])/g)].map((p) => Number(p[0]));
  return { proc, url: m[1]!, pids: workers > 1 ? [proc.pid!, ...pids] : pids };
}

async function measure(repoRoot: string, upstream: BenchChild, workers: number, body: string): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'smartflow-bench-workers-'));
  const gw = await startGateway(repoRoot, dir, upstream.url, workers);
  try {
    const target: HttpTarget = { url: gw.url, path: '/v1/chat/completions', headers: { authorization: `Bearer ${BENCH_MASTER_KEY}`, 'content-type': 'application/json' }, body };
    await runLoad(target, CONNECTIONS, 2); // warm-up: JIT, connection pools
    const gwBefore = gw.pids.reduce((n, pid) => n + cpuUsOf(pid), 0);
    const upBefore = cpuUsOf(upstream.pid);
    const loadBefore = process.cpuUsage();
    const r = await runLoad(target, CONNECTIONS, SECONDS);
    const load = process.cpuUsage(loadBefore);
    const gatewayCpuUsPerReq = (gw.pids.reduce((n, pid) => n + cpuUsOf(pid), 0) - gwBefore) / r.responses;
    return {
      workers,
      rps: r.rps,
      p50Ms: r.latencyMs.p50,
      p99Ms: r.latencyMs.p99,
      non2xx: r.non2xx + r.errors,
      gatewayCpuUsPerReq,
      upstreamCpuUsPerReq: (cpuUsOf(upstream.pid) - upBefore) / r.responses,
      loadCpuUsPerReq: (load.user + load.system) / r.responses,
      twoCoreCeiling: 2e6 / gatewayCpuUsPerReq,
    };
  } finally {
    const exited = new Promise((r) => gw.proc.once('exit', r));
    gw.proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderWorkers(rows: Row[]): string {
  const [one, two] = rows;
  const lines = [
    `## --workers: one gateway process against two (${CONNECTIONS} connections, ${SECONDS} s, non-streamed, master key, SQLite, log level warn)`,
    '',
    'Gateway, fake upstream and load generator all on this machine\'s cores, unpinned.',
    '',
    '| workers | requests/s | p50 ms | p99 ms | errors | gateway CPU µs/req | upstream CPU µs/req | load gen CPU µs/req | gateway-only ceiling on 2 cores, req/s |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.workers} | ${r.rps.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.non2xx} | ${r.gatewayCpuUsPerReq.toFixed(0)} | ${r.upstreamCpuUsPerReq.toFixed(0)} | ${r.loadCpuUsPerReq.toFixed(0)} | ${r.twoCoreCeiling.toFixed(0)} |`),
  ];
  if (one && two) {
    lines.push('', `Throughput ratio (2 workers / 1): **${(two.rps / one.rps).toFixed(2)}x**; gateway CPU per request ratio: ${(two.gatewayCpuUsPerReq / one.gatewayCpuUsPerReq).toFixed(2)}x (1.00 = a second worker adds no per-request overhead, so two dedicated cores give 2x).`);
  }
  return `${lines.join('\n')}\n`;
}

/** Runs both rows; the upstream unpinned, like the gateway (the machine's cores are shared by all three). */
export async function runWorkersBench(repoRoot: string, body: string, log: (s: string) => void): Promise<Row[]> {
  const upstream = await BenchChild.start({ name: 'upstream', script: join(repoRoot, 'bench/fake-upstream.ts'), cpu: null, cwd: repoRoot });
  try {
    const rows: Row[] = [];
    for (const workers of [1, 2]) {
      log(`--workers ${workers}: measuring ${SECONDS} s at ${CONNECTIONS} connections on ${cpus().length} cores`);
      rows.push(await measure(repoRoot, upstream, workers, body));
    }
    return rows;
  } finally {
    await upstream.stop();
  }
}
