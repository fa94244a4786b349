import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Where a gateway's CPU time goes, from a V8 .cpuprofile (`npm run bench -- --cpu-prof`):
 * the top functions by self time, self time by package / source file, and inclusive time
 * of Smartflow's own functions. Usage:
 *
 *   node --import tsx bench/profile-summary.ts [file.cpuprofile] [--top 25] [--all] [--phase latency|rps|ttft]
 *
 * Without a file, the newest .cpuprofile in bench/results is used. When a results JSON in
 * bench/results names the profile, only samples inside the measured phases are counted
 * (start-up and the tsx transpile are left out; `--all` keeps them) and times are also shown
 * per request; `--phase` narrows to one phase (1 connection, many connections, streams).
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SummaryOptions {
  top?: number;
  /** Only samples in this monotonic-µs window count. */
  window?: { fromUs: number; toUs: number } | undefined;
  /** Requests served in the window: adds a µs-per-request column. */
  requests?: number | undefined;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const META = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

/** A readable location: src/..., node_modules package path, node:internal/..., or (native). */
function location(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return META.has(frame.functionName) ? '' : '(native / V8 builtin)';
  let path = url;
  if (url.startsWith('file://')) {
    try {
      path = relative(REPO_ROOT, fileURLToPath(url));
    } catch {
      path = url;
    }
  }
  // tsx emits whitespace-minified code, so line numbers in our own .ts files point nowhere useful.
  if (isOwnSource(frame)) return path;
  return frame.lineNumber >= 0 ? `${path}:${frame.lineNumber + 1}` : path;
}

/** A frame in Smartflow's own code (src/, its compiled dist/ that the bench runs, or bench/), not a dependency. */
function isOwnSource(frame: CallFrame): boolean {
  return frame.url.startsWith('file://') && !frame.url.includes('/node_modules/') && (isGatewaySource(frame) || frame.url.includes('/bench/'));
}

function isGatewaySource(frame: CallFrame): boolean {
  return frame.url.includes('/src/') || frame.url.includes('/dist/');
}

/** Which package or part of the program a frame belongs to, for the grouped view. */
function category(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return META.has(frame.functionName) ? frame.functionName : '(native / V8 builtins: JSON, RegExp, ...)';
  if (url.startsWith('node:')) {
    const parts = url.slice(5).split('/');
    return `node:${parts[0] === 'internal' ? `internal/${parts[1] ?? ''}` : parts[0]}`.replace(/\.js$/, '');
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('file://')) {
    try {
      return relative(REPO_ROOT, fileURLToPath(url));
    } catch {
      return url;
    }
  }
  return url;
}

const keyOf = (f: CallFrame) => `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}\u0000${f.columnNumber}`;

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

export function summariseProfile(profile: CpuProfile, options: SummaryOptions = {}): string {
  const top = options.top ?? 25;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }

  // Sample i lasts until sample i+1 (as Chrome DevTools counts it).
  const times: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) {
    t += d;
    times.push(t);
  }
  const self = new Map<string, { frame: CallFrame; us: number }>();
  const inclusive = new Map<string, { frame: CallFrame; us: number }>();
  const categories = new Map<string, number>();
  // Each sample charged to the innermost src/ function on its stack: that function plus the library code it called.
  const nearestOwn = new Map<string, { frame: CallFrame; us: number }>();
  let noOwnFrameUs = 0;
  let totalUs = 0;
  let busyUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const at = times[i]!;
    const dur = (i + 1 < times.length ? times[i + 1]! : profile.endTime) - at;
    if (dur <= 0) continue;
    if (options.window && (at < options.window.fromUs || at > options.window.toUs)) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    totalUs += dur;
    const f = node.callFrame;
    if (f.functionName !== '(idle)') busyUs += dur;
    const k = keyOf(f);
    const e = self.get(k) ?? { frame: f, us: 0 };
    e.us += dur;
    self.set(k, e);
    const cat = category(f);
    categories.set(cat, (categories.get(cat) ?? 0) + dur);
    // Inclusive: each function once per sample, however deep it recurses.
    const seen = new Set<string>();
    let own: CallFrame | undefined;
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const fr = byId.get(id)!.callFrame;
      if (!own && isOwnSource(fr)) own = fr;
      const fk = keyOf(fr);
      if (seen.has(fk)) continue;
      seen.add(fk);
      const ie = inclusive.get(fk) ?? { frame: fr, us: 0 };
      ie.us += dur;
      inclusive.set(fk, ie);
    }
    if (f.functionName === '(idle)') continue;
    if (own) {
      const ok = keyOf(own);
      const oe = nearestOwn.get(ok) ?? { frame: own, us: 0 };
      oe.us += dur;
      nearestOwn.set(ok, oe);
    } else {
      noOwnFrameUs += dur;
    }
  }

  const perReq = options.requests && options.requests > 0 ? options.requests : undefined;
  const cols = (us: number) => `${lpad((us / 1000).toFixed(1), 9)} ms ${lpad(((100 * us) / Math.max(1, busyUs)).toFixed(1), 5)}%${perReq ? ` ${lpad((us / perReq).toFixed(2), 8)} µs/req` : ''}`;
  const out: string[] = [];
  out.push(
    `profiled ${(totalUs / 1000).toFixed(0)} ms, busy (not idle) ${(busyUs / 1000).toFixed(0)} ms${options.window ? ' (measured window only)' : ' (whole process life)'}${perReq ? `, ${perReq} requests → ${(busyUs / perReq).toFixed(1)} µs busy per request` : ''}; % of busy time`,
  );
  out.push('');
  out.push(`Top ${top} functions by self time:`);
  const selfSorted = [...self.values()].filter((e) => e.frame.functionName !== '(idle)').sort((a, b) => b.us - a.us);
  for (const e of selfSorted.slice(0, top)) out.push(`${cols(e.us)}  ${pad(e.frame.functionName || '(anonymous)', 34)} ${location(e.frame)}`);
  out.push('');
  out.push('Self time by package / source file:');
  const catSorted = [...categories.entries()].filter(([c]) => c !== '(idle)').sort((a, b) => b[1] - a[1]);
  for (const [c, us] of catSorted.slice(0, top)) out.push(`${cols(us)}  ${c}`);
  out.push('');
  out.push('Busy time by the innermost Smartflow function on the stack (its own code + the library calls it made; sums to 100% with the last line):');
  const ownSorted = [...nearestOwn.values()].sort((a, b) => b.us - a.us);
  for (const e of ownSorted.slice(0, top)) out.push(`${cols(e.us)}  ${pad(e.frame.functionName || '(anonymous)', 34)} ${location(e.frame)}`);
  const restOwn = ownSorted.slice(top).reduce((a, e) => a + e.us, 0);
  if (restOwn > 0) out.push(`${cols(restOwn)}  (${ownSorted.length - top} more Smartflow functions)`);
  out.push(`${cols(noOwnFrameUs)}  (no Smartflow frame on the stack: event loop, node:http parsing, undici/socket callbacks, GC, promise jobs)`);
  out.push('');
  out.push('Inclusive time of Smartflow functions (src/), top 25 (nested: a stage includes the stages it calls synchronously):');
  const incSorted = [...inclusive.values()].filter((e) => isGatewaySource(e.frame) && !e.frame.url.includes('/node_modules/')).sort((a, b) => b.us - a.us);
  for (const e of incSorted.slice(0, 25)) out.push(`${cols(e.us)}  ${pad(e.frame.functionName || '(anonymous)', 34)} ${location(e.frame)}`);
  return out.join('\n');
}

type Window = { fromUs: number; toUs: number; requests: number };
type Phase = 'latency' | 'rps' | 'ttft';

/** A results JSON in bench/results that names this profile: gives the measured window (or one phase's) and its request count. */
function findWindow(profilePath: string, phase: Phase | undefined): Window | undefined {
  const dir = dirname(profilePath);
  const name = basename(profilePath);
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    try {
      type Profiled = { profile?: string; measuredWindow?: Window; phaseWindows?: Partial<Record<Phase, Window>> };
      const data = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { gateways?: Profiled[]; vkeys?: Profiled[] };
      // Virtual-key processes: the windows are the virtual key's own blocks (no streams phase).
      const hit = [...(data.gateways ?? []), ...(data.vkeys ?? [])].find((g) => g.profile === name);
      if (phase && hit) {
        const w = hit.phaseWindows?.[phase];
        if (!w) throw new Error(`${f} has no per-phase windows for ${phase}`);
        return w;
      }
      if (hit?.measuredWindow) return hit.measuredWindow;
    } catch (err) {
      if (err instanceof Error && err.message.includes('per-phase')) throw err;
      // not a results file
    }
  }
  return undefined;
}

function newestProfile(dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => ({ f, m: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.m - a.m);
  if (!files[0]) throw new Error(`no .cpuprofile in ${dir}; run \`npm run bench -- --cpu-prof\` first`);
  return join(dir, files[0].f);
}

function main(argv: string[]): void {
  let file: string | undefined;
  let top = 25;
  let all = false;
  let phase: Phase | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--top') top = Number(argv[++i]);
    else if (a === '--all') all = true;
    else if (a === '--phase') {
      const p = argv[++i];
      if (p !== 'latency' && p !== 'rps' && p !== 'ttft') throw new Error('--phase is one of latency (1 connection), rps (many connections), ttft (sequential streams)');
      phase = p;
    } else file = a;
  }
  const path = resolve(file ?? newestProfile(join(REPO_ROOT, 'bench', 'results')));
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const win = all ? undefined : findWindow(path, phase);
  process.stdout.write(`${basename(path)}${phase ? ` (phase ${phase})` : ''}\n${summariseProfile(profile, { top, window: win, requests: win?.requests })}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main(process.argv.slice(2));
