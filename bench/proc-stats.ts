import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time and memory of any process by pid, from /proc. `npm run bench:compare` measures
 * every proxy this way, the peer gateway included, which has no control channel to report its
 * own `process.cpuUsage()`. /proc counts in clock ticks (10 ms at the usual 100 Hz): over a
 * 10 s point that is well under 1 % of a busy core.
 */

let ticksPerSecond: number | undefined;

/** The kernel's clock tick rate (`getconf CLK_TCK`), 100 when it cannot be read. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    ticksPerSecond = r.status === 0 && Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/**
 * utime + stime (fields 14 and 15) of a /proc/<pid>/stat line, in clock ticks. The command name
 * (field 2) is in parentheses and may itself hold spaces or parentheses, so fields are counted
 * from the last `)`.
 */
export function parseStatCpuTicks(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line');
  // After ") " come field 3 (state) onwards: utime is field 14, index 11 here.
  const fields = stat.slice(close + 2).trim().split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('no utime/stime in /proc/<pid>/stat');
  return utime + stime;
}

/** CPU time (user + system, all threads) the process has used so far, in µs; null once it is gone. */
export function processCpuUs(pid: number): number | null {
  try {
    return (parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) * 1e6) / clockTicksPerSecond();
  } catch {
    return null;
  }
}

/** VmRSS and VmHWM (bytes) of a /proc/<pid>/status text. */
export function parseStatusMemory(status: string): { rssBytes: number; hwmBytes: number } {
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

/** Resident set size and its high-water mark, or null once the process is gone. */
export function processMemory(pid: number): { rssBytes: number; hwmBytes: number } | null {
  try {
    return parseStatusMemory(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return null;
  }
}

/** Polls a process's VmRSS while load runs and keeps the highest value. */
export class PidRssSampler {
  private timer: NodeJS.Timeout | null = null;
  peakRssBytes = 0;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  private sample(): void {
    const m = processMemory(this.pid);
    if (m && m.rssBytes > this.peakRssBytes) this.peakRssBytes = m.rssBytes;
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this.peakRssBytes;
  }
}
