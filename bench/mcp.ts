import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request } from 'undici';
import type { BenchChild } from './children.js';
import { summarise, type LatencySummary } from './measure.js';
import { BENCH_MASTER_KEY } from './protocol.js';

/**
 * The MCP rows of `npm run bench` (alone: `npm run bench -- --mcp`): the latency a `tools/call`
 * gains through the gateway's `/mcp` over an SDK client talking to the same server-everything
 * directly, once over Streamable HTTP and once over STDIO, and the cost of an aggregated
 * `tools/list` of 1,000 tools. Calls are sequential (one in flight), in alternating blocks so
 * the direct and gateway samples see the same machine.
 */

/** The target the issue sets for the added p50 latency of a tool call, per transport. */
export const MCP_ADDED_P50_TARGET_MS = 1;

export interface McpSizes {
  warmupCalls: number;
  rounds: number;
  callsPerBlock: number;
  warmupListings: number;
  listings: number;
}

export const MCP_FULL: McpSizes = { warmupCalls: 300, rounds: 10, callsPerBlock: 200, warmupListings: 5, listings: 40 };
export const MCP_QUICK: McpSizes = { warmupCalls: 50, rounds: 3, callsPerBlock: 50, warmupListings: 2, listings: 8 };

export const MANY_TOOLS = 1000;

export interface McpCallRow {
  transport: 'streamable-http' | 'stdio';
  direct: LatencySummary;
  gateway: LatencySummary;
  /** The same call through `/mcp` from a bare HTTP client (one undici POST per call, same session): the SDK client's own cost left out. */
  gatewayBare: LatencySummary;
  /** The gateway process's CPU time per call through it (its own process only, not its stdio child), SDK client calls. */
  gatewayCpuUsPerCall: number;
}

export interface McpListRow {
  tools: number;
  pagesPerListing: number;
  /** One direct `tools/list` of the same server (one page of every tool), ms. */
  direct: LatencySummary;
  /** A full listing through `/mcp`, every `nextCursor` followed, ms. */
  gateway: LatencySummary;
  /** One page through `/mcp`, ms. */
  gatewayPage: LatencySummary;
  gatewayCpuUsPerListing: number;
  gatewayCpuUsPerPage: number;
}

export interface McpScenarioResult {
  name: 'mcp';
  description: string;
  sizes: McpSizes;
  calls: McpCallRow[];
  /** `ping` through `/mcp` from the bare HTTP client: the gateway's MCP endpoint with no upstream. */
  barePing: LatencySummary;
  list: McpListRow;
  profile?: string;
}

export interface McpScenarioSkipped {
  name: 'mcp';
  description: string;
  skipped: string;
}

export const MCP_DESCRIPTION = 'MCP: tools/call and tools/list through /mcp';

/** What the gateway process needs in its config: the servers the rows go through. */
export function mcpGatewayServers(repoRoot: string, everythingHttpUrl: string): Array<Record<string, unknown>> {
  return [
    { alias: 'ev-http', transport: 'streamable-http', url: everythingHttpUrl },
    { alias: 'ev-stdio', command: process.execPath, args: [everythingScript(repoRoot), 'stdio'] },
    { alias: 'many', command: process.execPath, args: ['--import', 'tsx', join(repoRoot, 'bench', 'mcp-many-tools-server.ts'), String(MANY_TOOLS)], cwd: repoRoot },
  ];
}

const everythingScript = (repoRoot: string) => join(repoRoot, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** server-everything over Streamable HTTP as a child process (pinned like the fake upstream), once it answers. */
export async function startEverythingHttp(repoRoot: string, cpu: number | null): Promise<{ url: string; proc: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const argv = [everythingScript(repoRoot), 'streamableHttp'];
  const [cmd, args] = cpu === null ? [process.execPath, argv] : ['taskset', ['-c', String(cpu), process.execPath, ...argv]];
  const proc = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '', PORT: String(port) }, stdio: ['ignore', 'ignore', 'ignore'] });
  // However the bench ends, this child must not outlive it.
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  proc.once('exit', () => process.off('exit', killOnExit));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
      await res.body?.cancel();
      break;
    } catch {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error('server-everything (streamableHttp) did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

async function clientFor(transport: StreamableHTTPClientTransport | StdioClientTransport): Promise<Client> {
  const client = new Client({ name: 'smartflow-bench', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/**
 * The SDK client gives every POST the same long-lived AbortSignal, and undici adds a listener to
 * it per request until garbage collection: thousands pile up (each request then copies them all,
 * Node warns on every one past 1,500). The gateway's own upstream connections avoid it the same
 * way (src/mcp/upstream/connect.ts); so do both bench clients, direct and through the gateway.
 */
const fetchWithOwnSignal = (url: string | URL, init?: RequestInit): Promise<Response> => fetch(url, init?.signal ? { ...init, signal: AbortSignal.any([init.signal]) } : init);

const http = (url: string, key?: string) => new StreamableHTTPClientTransport(new URL(url), { fetch: fetchWithOwnSignal, ...(key ? { requestInit: { headers: { authorization: `Bearer ${key}` } } } : {}) });

async function cpuUs(gw: BenchChild): Promise<number> {
  const s = await gw.stats();
  return s.userUs + s.systemUs;
}

/** A virtual key that may use `many` only, so the aggregated list is exactly its 1,000 tools. */
async function manyOnlyKey(gatewayUrl: string): Promise<string> {
  const res = await fetch(`${gatewayUrl}/api/enterprise/vkeys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BENCH_MASTER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ alias: 'bench-mcp-many', mcp_servers: ['many'] }),
  });
  const body = (await res.json()) as { key?: string };
  if (res.status !== 201 || !body.key) throw new Error(`could not create the bench virtual key: ${res.status} ${JSON.stringify(body)}`);
  return body.key;
}

const echoText = (result: Record<string, unknown>) => (result.content as Array<{ text?: string }> | undefined)?.[0]?.text ?? '';

/**
 * Runs the MCP rows against a gateway process already configured with {@link mcpGatewayServers}.
 * Throws when a call does not answer what it should (a row that measured errors is no row).
 */
export async function runMcpScenario(gw: BenchChild, everythingHttpUrl: string, repoRoot: string, sizes: McpSizes, log: (line: string) => void): Promise<McpScenarioResult> {
  const closers: Array<() => Promise<void>> = [];
  try {
    const gatewayTransport = http(`${gw.url}/mcp`, BENCH_MASTER_KEY);
    const viaGateway = await clientFor(gatewayTransport);
    closers.push(() => viaGateway.close());
    // The bare client: JSON-RPC POSTs on the SDK client's session, each answer read whole.
    const bareHeaders = {
      authorization: `Bearer ${BENCH_MASTER_KEY}`,
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-session-id': gatewayTransport.sessionId ?? '',
      'mcp-protocol-version': gatewayTransport.protocolVersion ?? '2025-11-25',
    };
    const bare = async (method: string, params: Record<string, unknown> | undefined, expect: string): Promise<number> => {
      const started = performance.now();
      const res = await request(`${gw.url}/mcp`, { method: 'POST', headers: bareHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params ? { params } : {}) }) });
      const text = await res.body.text();
      const elapsed = performance.now() - started;
      if (res.statusCode !== 200 || !text.includes(expect)) throw new Error(`bare ${method}: ${res.statusCode} ${text.slice(0, 300)}`);
      return elapsed;
    };
    const directHttp = await clientFor(http(everythingHttpUrl));
    closers.push(() => directHttp.close());
    // The direct STDIO server is this process's child (on the load generator's core); the gateway's is its child (on the gateway's core).
    const directStdio = await clientFor(new StdioClientTransport({ command: process.execPath, args: [everythingScript(repoRoot), 'stdio'], stderr: 'ignore' }));
    closers.push(() => directStdio.close());

    const targets = {
      'direct-http': { client: directHttp, name: 'echo' },
      'gateway-http': { client: viaGateway, name: 'ev-http_echo' },
      'direct-stdio': { client: directStdio, name: 'echo' },
      'gateway-stdio': { client: viaGateway, name: 'ev-stdio_echo' },
    } as const;
    type TargetName = keyof typeof targets | 'gateway-http-bare' | 'gateway-stdio-bare' | 'gateway-ping-bare';
    const callOnce = async (t: TargetName, i: number): Promise<number> => {
      if (t === 'gateway-ping-bare') return bare('ping', undefined, '"result":{}');
      if (t === 'gateway-http-bare' || t === 'gateway-stdio-bare') {
        const message = `bare ${i}`;
        return bare('tools/call', { name: t === 'gateway-http-bare' ? 'ev-http_echo' : 'ev-stdio_echo', arguments: { message } }, `Echo: ${message}`);
      }
      const { client, name } = targets[t];
      const message = `bench ${i}`;
      const started = performance.now();
      const result = await client.callTool({ name, arguments: { message } });
      const elapsed = performance.now() - started;
      if (echoText(result) !== `Echo: ${message}`) throw new Error(`${t}: unexpected answer ${JSON.stringify(result).slice(0, 300)}`);
      return elapsed;
    };

    const order: TargetName[] = ['direct-http', 'gateway-http', 'gateway-http-bare', 'direct-stdio', 'gateway-stdio', 'gateway-stdio-bare', 'gateway-ping-bare'];
    log(`MCP tools/call: warm-up ${sizes.warmupCalls} calls per target`);
    for (const t of order) for (let i = 0; i < sizes.warmupCalls; i++) await callOnce(t, i);

    const samples: Record<TargetName, number[]> = Object.fromEntries(order.map((t) => [t, []])) as unknown as Record<TargetName, number[]>;
    const gwCpu = { 'gateway-http': 0, 'gateway-stdio': 0 };
    log(`MCP tools/call: ${sizes.rounds} rounds of ${sizes.callsPerBlock} sequential calls per target`);
    for (let round = 0; round < sizes.rounds; round++) {
      for (const t of order) {
        const before = t === 'gateway-http' || t === 'gateway-stdio' ? await cpuUs(gw) : 0;
        for (let i = 0; i < sizes.callsPerBlock; i++) samples[t].push(await callOnce(t, i));
        if (t === 'gateway-http' || t === 'gateway-stdio') gwCpu[t] += (await cpuUs(gw)) - before;
      }
    }
    const perTarget = sizes.rounds * sizes.callsPerBlock;
    const calls: McpCallRow[] = [
      { transport: 'streamable-http', direct: summarise(samples['direct-http']), gateway: summarise(samples['gateway-http']), gatewayBare: summarise(samples['gateway-http-bare']), gatewayCpuUsPerCall: gwCpu['gateway-http'] / perTarget },
      { transport: 'stdio', direct: summarise(samples['direct-stdio']), gateway: summarise(samples['gateway-stdio']), gatewayBare: summarise(samples['gateway-stdio-bare']), gatewayCpuUsPerCall: gwCpu['gateway-stdio'] / perTarget },
    ];

    const list = await measureListing(gw, repoRoot, sizes, log, closers);
    return { name: 'mcp', description: MCP_DESCRIPTION, sizes, calls, barePing: summarise(samples['gateway-ping-bare']), list };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

async function measureListing(gw: BenchChild, repoRoot: string, sizes: McpSizes, log: (line: string) => void, closers: Array<() => Promise<void>>): Promise<McpListRow> {
  const key = await manyOnlyKey(gw.url);
  const viaGateway = await clientFor(http(`${gw.url}/mcp`, key));
  closers.push(() => viaGateway.close());
  const direct = await clientFor(new StdioClientTransport({ command: process.execPath, args: ['--import', 'tsx', join(repoRoot, 'bench', 'mcp-many-tools-server.ts'), String(MANY_TOOLS)], cwd: repoRoot, stderr: 'ignore' }));
  closers.push(() => direct.close());

  const listAll = async (): Promise<{ ms: number; pages: number[]; tools: number }> => {
    const pages: number[] = [];
    let tools = 0;
    let cursor: string | undefined;
    const started = performance.now();
    do {
      const t0 = performance.now();
      const page = await viaGateway.listTools(cursor === undefined ? {} : { cursor });
      pages.push(performance.now() - t0);
      // The aggregated endpoint also offers the gateway's own `search_tools` (tool search is on by default).
      tools += page.tools.filter((t) => t.name.startsWith('many_')).length;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return { ms: performance.now() - started, pages, tools };
  };
  const listDirect = async (): Promise<number> => {
    const started = performance.now();
    const page = await direct.listTools();
    const ms = performance.now() - started;
    if (page.tools.length !== MANY_TOOLS) throw new Error(`direct tools/list gave ${page.tools.length} tools`);
    return ms;
  };

  log(`MCP tools/list of ${MANY_TOOLS} tools: warm-up ${sizes.warmupListings}, then ${sizes.listings} full listings each way`);
  for (let i = 0; i < sizes.warmupListings; i++) {
    const { tools } = await listAll();
    if (tools !== MANY_TOOLS) throw new Error(`the gateway listed ${tools} tools, expected ${MANY_TOOLS}`);
    await listDirect();
  }
  const full: number[] = [];
  const pages: number[] = [];
  const directMs: number[] = [];
  let cpu = 0;
  let pageCount = 0;
  for (let i = 0; i < sizes.listings; i++) {
    const before = await cpuUs(gw);
    const r = await listAll();
    cpu += (await cpuUs(gw)) - before;
    full.push(r.ms);
    pages.push(...r.pages);
    pageCount = r.pages.length;
    directMs.push(await listDirect());
  }
  return {
    tools: MANY_TOOLS,
    pagesPerListing: pageCount,
    direct: summarise(directMs),
    gateway: summarise(full),
    gatewayPage: summarise(pages),
    gatewayCpuUsPerListing: cpu / sizes.listings,
    gatewayCpuUsPerPage: cpu / pages.length,
  };
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const us = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');

/** The MCP section of the markdown report. */
export function renderMcp(r: McpScenarioResult | McpScenarioSkipped): string {
  if ('skipped' in r) return `## MCP\n\n${r.description}: skipped (${r.skipped}).\n`;
  const lines = [
    '## MCP',
    '',
    '| `tools/call` echo, sequential | direct p50 (ms) | gateway p50 (ms) | **added p50 (ms)** | direct p99 (ms) | gateway p99 (ms) | added p99 (ms) | gateway CPU per call (µs) | bare HTTP client through the gateway: p50 / p99 (ms) | added p50, bare client (ms) | target | pass/miss |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of r.calls) {
    const added = c.gateway.p50 - c.direct.p50;
    const label = c.transport === 'stdio' ? 'server-everything over STDIO (direct: SDK client spawns it; gateway: /mcp over HTTP, the gateway spawns it)' : 'server-everything over Streamable HTTP (direct: SDK client; gateway: /mcp, then Streamable HTTP)';
    lines.push(
      `| ${label} | ${ms(c.direct.p50)} | ${ms(c.gateway.p50)} | **${ms(added)}** | ${ms(c.direct.p99)} | ${ms(c.gateway.p99)} | ${ms(c.gateway.p99 - c.direct.p99)} | ${us(c.gatewayCpuUsPerCall)} | ${ms(c.gatewayBare.p50)} / ${ms(c.gatewayBare.p99)} | ${ms(c.gatewayBare.p50 - c.direct.p50)} | ≤ ${MCP_ADDED_P50_TARGET_MS} | ${added <= MCP_ADDED_P50_TARGET_MS ? 'pass' : '**miss**'} |`,
    );
  }
  const l = r.list;
  lines.push(
    '',
    `\`ping\` through \`/mcp\` from the bare client (authentication, the gateway's Streamable HTTP server transport and the SDK's protocol layer, no upstream): p50 ${ms(r.barePing.p50)} ms, p99 ${ms(r.barePing.p99)} ms.`,
    '',
    `| \`tools/list\` of ${l.tools.toLocaleString('en-US')} tools | p50 (ms) | p99 (ms) | gateway CPU (µs) |`,
    '|---|---:|---:|---:|',
    `| direct to the server over STDIO: one page of every tool | ${ms(l.direct.p50)} | ${ms(l.direct.p99)} | – |`,
    `| **through \`/mcp\`: a full listing, ${l.pagesPerListing} pages, every \`nextCursor\` followed** | **${ms(l.gateway.p50)}** | ${ms(l.gateway.p99)} | ${us(l.gatewayCpuUsPerListing)} |`,
    `| through \`/mcp\`: one page | ${ms(l.gatewayPage.p50)} | ${ms(l.gatewayPage.p99)} | ${us(l.gatewayCpuUsPerPage)} |`,
    '',
    `Sequential calls (one in flight) from an SDK \`Client\` in the bench process, after ${r.sizes.warmupCalls} warm-up calls per target; ${r.sizes.rounds} rounds of ${r.sizes.callsPerBlock} calls per target, the targets taking turns, so each p50/p99 is over ${(r.sizes.rounds * r.sizes.callsPerBlock).toLocaleString('en-US')} calls. The gateway (compiled \`dist/\`, log level warn, SQLite store, master key) runs on its own core with its STDIO children; server-everything over Streamable HTTP, the bench process and the direct STDIO children on the other. Through the gateway, a call is the client's HTTP request to \`/mcp\` plus the gateway's own call to the server, so "added" includes one more local hop; over STDIO the direct client pipes straight to the child while the gateway path crosses HTTP and then the pipe. Gateway CPU is the gateway process's own (\`process.cpuUsage()\`), not its children's. The bench's SDK clients get a per-request abort signal, so the SDK's listener pile-up on one long-lived signal is not measured (the gateway's upstream connections use their own undici transport, which shares no signal between requests). The bare client sends the same \`tools/call\` as one undici POST on the SDK client's session and reads the answer whole: the gap between it and the SDK client is the client's own cost (fetch, web streams; SSE parsing when the answer is a stream), paid once more on the gateway path.`,
    '',
    `The listing uses a virtual key that may use only the bench's ${l.tools.toLocaleString('en-US')}-tool STDIO server (bench/mcp-many-tools-server.ts: prebuilt entries with a description, a three-field input schema and annotations), so the aggregated \`/mcp\` list holds exactly its tools, prefixed \`many_\`, in pages of \`mcp.tools_page_size\` (100); ${r.sizes.listings} full listings after ${r.sizes.warmupListings} warm-up ones.`,
  );
  return `${lines.join('\n')}\n`;
}
