import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchChild, killAllChildren, killAllChildrenSync, pinSelf, tasksetAvailable } from './children.js';
import { COMPARE_FULL, COMPARE_QUICK, measureInterleaved, probe, type ColumnSpec, type Contender } from './compare-measure.js';
import { ensurePeer, PEER_DESCRIPTION, peerHeaders, startPeer, type PeerInstall } from './compare-peer.js';
import { COMPARE_TARGETS, renderChecks, renderColumns, renderSpread, representativeRun, type CompareRun, type MachineInfo } from './compare-report.js';
import { bodyOf, SMARTFLOW_SETUPS, startSmartflowServe, type BodyKind } from './compare-setups.js';
import type { HttpTarget } from './measure.js';
import { BENCH_MASTER_KEY, PASSTHROUGH_UPSTREAM_ENV } from './protocol.js';
import { cpuModel, gitRevision } from './machine.js';
import { killServersSync } from './server-process.js';

/**
 * `npm run bench:compare [-- --quick] [-- --runs N]`: Smartflow side by side with the bare
 * pass-through (the floor) and a peer gateway, in one run, on the same fake upstream and load
 * generator. The upstream and this process (the load generator) on core 1; the proxies on core
 * 0, one under load at a time, taking turns (bench/compare-measure.ts). Columns: direct to the upstream; the floor (short body, and the 1 KB
 * body of the guardrail column); Smartflow as `npm start` runs it (info log, access log) with
 * the master key, a budgeted virtual key, policies attached but not matching, and one PII
 * guardrail matching a 1 KB prompt (each adding to the one before); the peer. Writes
 * bench/results/compare-<date>.md and .json, and latest-compare.md for full runs.
 */

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, '..');
const RESULTS_DIR = join(BENCH_DIR, 'results');
const UPSTREAM_KEY = 'sk-bench-upstream';

function parseArgs(argv: string[]): { quick: boolean; runs: number } {
  let quick = false;
  let runs = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--runs' || a.startsWith('--runs=')) {
      const v = Number(a.includes('=') ? a.slice('--runs='.length) : argv[++i]);
      if (!Number.isInteger(v) || v < 1 || v > 20) throw new Error('--runs takes a whole number from 1 to 20');
      runs = v;
    } else throw new Error(`unknown option ${a}; use --quick and/or --runs N`);
  }
  return { quick, runs };
}

let options: { quick: boolean; runs: number };
try {
  options = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
const durations = options.quick ? COMPARE_QUICK : COMPARE_FULL;
const log = (line: string) => process.stderr.write(`${line}\n`);

const tempDirs = new Set<string>();
function removeTempDirs(): void {
  for (const d of tempDirs) {
    rmSync(d, { recursive: true, force: true, maxRetries: 3 });
    tempDirs.delete(d);
  }
}
process.on('exit', () => {
  killAllChildrenSync();
  killServersSync();
  removeTempDirs();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`\n${sig}: stopping`);
    void killAllChildren().finally(() => process.exit(130));
  });
}

function target(url: string, headers: Record<string, string>, body: BodyKind): { json: HttpTarget; stream: HttpTarget } {
  const path = '/v1/chat/completions';
  return { json: { url, path, headers, body: bodyOf(body, false) }, stream: { url, path, headers, body: bodyOf(body, true) } };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

function startChild(name: string, script: string, cpu: number | null, env: Record<string, string> = {}): Promise<BenchChild> {
  return BenchChild.start({ name, script: join(BENCH_DIR, script), cpu, env, cwd: REPO_ROOT });
}

/**
 * One whole comparison against one fake upstream: every column's process started and set up
 * first (each proxy pinned to core 0, idle until its turn), then measured in turns.
 */
async function runOnce(peer: PeerInstall | { problem: string }, taskset: boolean): Promise<CompareRun> {
  const proxyCpu = taskset ? 0 : null;
  const contenders: Contender[] = [];
  const stops: Array<() => Promise<void>> = [];
  let peerSkipped = 'problem' in peer ? peer.problem : undefined;
  const upstream = await startChild('fake upstream', 'fake-upstream.ts', taskset ? 1 : null);
  stops.push(() => upstream.stop());
  log(`fake upstream ${upstream.url} (pid ${upstream.pid})`);
  const add = (spec: ColumnSpec, pid: number, t: { json: HttpTarget; stream: HttpTarget }) => {
    contenders.push({ spec, pid, upstreamPid: pid === upstream.pid ? null : upstream.pid, json: t.json, stream: t.stream });
  };
  try {
    add({ name: 'direct', description: 'direct to the fake upstream', kind: 'direct' }, upstream.pid, target(upstream.url, bearer(UPSTREAM_KEY), 'short'));

    for (const [name, description, body] of [
      ['floor', 'bare pass-through (the floor)', 'short'],
      ['floor-1k', 'bare pass-through, 1 KB prompt', 'pii-1k'],
    ] as const) {
      const pt = await startChild(name, 'passthrough-process.ts', proxyCpu, { [PASSTHROUGH_UPSTREAM_ENV]: upstream.url });
      stops.push(() => pt.stop());
      log(`${description}: ${pt.url} (pid ${pt.pid})`);
      add({ name, description, kind: 'floor' }, pt.pid, target(pt.url, bearer(BENCH_MASTER_KEY), body));
    }

    for (const setup of SMARTFLOW_SETUPS) {
      const dataDir = mkdtempSync(join(tmpdir(), 'smartflow-bench-'));
      tempDirs.add(dataDir);
      const gw = await startSmartflowServe(REPO_ROOT, dataDir, upstream.url, BENCH_MASTER_KEY, proxyCpu, setup.name);
      stops.push(async () => {
        await gw.stop();
        rmSync(dataDir, { recursive: true, force: true });
        tempDirs.delete(dataDir);
      });
      log(`${setup.description}: ${gw.url} (pid ${gw.pid})`);
      const token = await setup.prepare(gw.url, BENCH_MASTER_KEY);
      const t = target(gw.url, bearer(token), setup.body);
      await setup.check(gw.url, BENCH_MASTER_KEY, await probe(t.json));
      const spec: ColumnSpec = {
        name: setup.name,
        description: setup.description,
        kind: 'smartflow',
        floor: setup.body === 'short' ? 'floor' : 'floor-1k',
        cpuRatioLimit: setup.body === 'short' ? COMPARE_TARGETS.cpuRatio : COMPARE_TARGETS.cpuRatioPii,
      };
      add(spec, gw.pid, t);
    }

    if (!('problem' in peer)) {
      try {
        const p = await startPeer(peer, proxyCpu);
        stops.push(() => p.stop());
        log(`${PEER_DESCRIPTION}: ${p.url} (pid ${p.pid})`);
        const t = target(p.url, peerHeaders(upstream.url, UPSTREAM_KEY), 'short');
        await probe(t.json);
        add({ name: 'peer', description: PEER_DESCRIPTION, kind: 'peer' }, p.pid, t);
      } catch (err) {
        peerSkipped = `failed: ${err instanceof Error ? err.message.split('\n')[0]! : String(err)}`;
        log(`peer ${peerSkipped}`);
      }
    }

    const columns = await measureInterleaved(contenders, durations, log);
    return peerSkipped ? { columns, peerSkipped } : { columns };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

function render(info: MachineInfo, runs: CompareRun[]): string {
  const shown = representativeRun(runs);
  const run = runs[shown]!;
  const n = durations.connections;
  const peerCol = run.columns.find((c) => c.kind === 'peer');
  const notes: string[] = [];
  if (run.peerSkipped) notes.push(`**The peer was not measured: ${run.peerSkipped}.** Its ratios are n/a.`);
  if (peerCol?.streamProblem) notes.push(`**The peer does not answer streamed requests here** (${peerCol.streamProblem}); its streamed cells are n/a.`);
  for (const c of run.columns) if (c.failures) notes.push(`**${c.description}: ${c.failures} requests failed, were refused or timed out; its figures are not those of answered requests.**`);
  const lines = [
    `# Smartflow side by side with a peer gateway — ${info.date}`,
    '',
    `Commit ${info.revision} · Node ${info.node} · ${info.cpuModel} · ${info.cores} cores · ${info.pinning} · load average at start ${info.loadAverage} (other sessions share this machine) · peer: ${info.peer}${info.quick ? ' · **quick smoke run (numbers not meaningful)**' : ''}`,
    '',
    runs.length > 1 ? `## Run ${shown + 1} of ${runs.length} (the median by the default config's CPU ratio)` : '## The run',
    '',
    ...renderColumns(run, n),
    '',
    ...notes.flatMap((l) => [l, '']),
    '## Targets in this run',
    '',
    ...renderChecks(run),
    '',
    ...(runs.length > 1 ? [`## Spread over ${runs.length} runs (min – max, and in how many runs the target was met)`, '', ...renderSpread(runs), ''] : []),
    '## Method',
    '',
    `Non-streamed and streamed \`POST /v1/chat/completions\` against bench/fake-upstream.ts (~300-byte request; the guardrail column and its floor send a ~1.2 KB one whose user message holds an email address). Every column is its own process, started fresh for the run; the proxies are all pinned to core 0, and the upstream and the load generator (autocannon in this process) share core 1. Only one column is under load at any time: each point is cut into ${durations.rounds} turns of ${durations.pointS / durations.rounds} s and the columns take turns, the order rotated each round, so that other work on this shared machine, which comes and goes, falls on every column alike rather than on whichever ran at that moment. Per column, after a warm-up of ${durations.warmupS} s at ${n} connections: ${durations.pointS} s at 1 connection, ${durations.pointS} s at ${n} connections, ${durations.pointS} s at ${n} connections streamed, and ${durations.ttftRequests} sequential streams for the time to the first body chunk. CPU per request = the process's user + system time from /proc/<pid>/stat over its turns ÷ their responses (the same method for every proxy, the peer included). Latency percentiles come from every response's own timing. RSS: VmRSS before the first request (idle), the highest VmRSS polled every 100 ms during the points (load), and ${durations.afterLoadWaitMs / 1000} s after the last point. "other core busy" is the upstream's and the load generator's CPU during the column's ${n}-connection turns: near 100 % means core 1, not the proxy, set the pace.`,
    '',
    'The floor is bench/passthrough-process.ts (node:http + an undici Pool, body piped through, no validation, logging or metrics; run through tsx, whose loader thread is part of its RSS). Smartflow is `node bin/smartflow.js serve --config <file>`, what `npm start` runs (the compiled dist/), with a config that sets only the master key, address, SQLite path and the fake upstream as the OpenAI provider, so everything else is the default: log level info, access log on (to /dev/null), spend log, metrics. Each configuration adds to the one before: the master key; a virtual key with a monthly budget created through the admin API; three guardrails in two policies attached to a team, tag, model and key-alias pattern the request does not match; and a PII guardrail (mask) attached to the key\'s alias, which finds and masks the email in the 1 KB prompt. Each is checked before timing (budget header, applied-policy headers, the spend log\'s mask). Added latency is over the floor measured with the same body; "÷ the peer\'s" added p50 is over direct for both.',
    '',
    `The peer: ${PEER_DESCRIPTION}, installed by the bench into ~/.cache/smartflow-bench/portkey (not a project dependency) and started with \`node build/start-server.js --port=N --headless\`; requests carry \`x-portkey-provider: openai\` and \`x-portkey-custom-host: <upstream>/v1\`.`,
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const date = new Date();
  const stamp = date.toISOString().replace(/[:.]/g, '-');
  const taskset = tasksetAvailable();
  const selfPinned = taskset && pinSelf(1);
  const pinning = taskset ? `taskset: the proxies on core 0, one under load at a time; upstream${selfPinned ? ' and load generator' : ''} on core 1` : 'taskset unavailable: nothing pinned';
  log(`smartflow bench:compare${options.quick ? ' (quick)' : ''}, ${options.runs} run(s): ${pinning}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const peer = ensurePeer(log);
  if ('problem' in peer) log(`the peer cannot be installed, measuring the rest: ${peer.problem}`);
  else log(`peer: ${PEER_DESCRIPTION} in ${peer.dir}${peer.reused ? ' (cached)' : ''}; ${Object.entries(peer.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const info: MachineInfo = {
    date: date.toISOString(),
    revision: gitRevision(REPO_ROOT),
    node: process.version,
    cpuModel: cpuModel(),
    cores: cpus().length,
    pinning,
    loadAverage: loadAverage(),
    quick: options.quick,
    peer: 'problem' in peer ? `not installed (${peer.problem})` : Object.entries(peer.versions).map(([k, v]) => `${k} ${v}`).join(', '),
  };
  const runs: CompareRun[] = [];
  for (let i = 0; i < options.runs; i++) {
    log(`\n=== run ${i + 1} of ${options.runs} ===`);
    runs.push(await runOnce(peer, taskset));
  }
  const markdown = render(info, runs);
  process.stdout.write(`\n${markdown}`);
  const base = join(RESULTS_DIR, `compare-${stamp}${options.quick ? '-quick' : ''}`);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.json`, `${JSON.stringify({ info, durations, targets: COMPARE_TARGETS, runs }, null, 2)}\n`);
  log(`wrote ${base}.md and .json`);
  if (!options.quick) {
    writeFileSync(join(RESULTS_DIR, 'latest-compare.md'), markdown);
    log(`wrote ${join(RESULTS_DIR, 'latest-compare.md')}`);
  }
}

main().then(
  async () => {
    await killAllChildren();
    process.exit(0);
  },
  async (err: unknown) => {
    log(`bench:compare failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await killAllChildren();
    process.exit(1);
  },
);
