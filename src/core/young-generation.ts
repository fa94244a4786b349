import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * V8's young generation starts at 1 MiB per semi-space and doubles, up to 16 MiB, whenever
 * objects keep surviving scavenges; it never shrinks while the process has no major GC to do.
 * Loading the gateway's modules (schemas, the MCP SDK, fastify) is exactly that pattern: without
 * a hold the young generation reaches its maximum, 32 MiB committed and about 25 MiB of RSS,
 * before the first request. Held, start-up runs in 2 MiB.
 *
 * Released once the gateway listens, load grows it again, but only to {@link MAX_SEMI_SPACE_MIB}:
 * measured under 32 connections (bench/memory.ts, --trace-gc), 8 MiB semi-spaces scavenge twice
 * as often as 16 MiB ones but each scavenge takes about half as long, so GC time per request is
 * the same, and RSS under load and after it is about 16 MiB lower. A young generation kept at
 * 1 MiB costs about 50 µs more CPU per request.
 *
 * The growth factor is read each time V8 decides to grow, so setting it at run time takes
 * effect, unlike --max-semi-space-size, which only a command-line flag (or NODE_OPTIONS) sets;
 * when one is given, V8 stops at whichever maximum is smaller. Measured on Node 20 (V8 11.3).
 * Newer V8 versions declare a minimum growth factor of 2, which would make the hold and the cap
 * no-ops there (V8's default behaviour, nothing worse); NODE_OPTIONS=--max-semi-space-size=8
 * caps the young generation on any version.
 */
export const MAX_SEMI_SPACE_MIB = 8;

let capping: PerformanceObserver | null = null;

/** Keeps the young generation at its initial size; bin/smartflow.js calls it before anything else loads. */
export function holdYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** Lets V8 grow the young generation again (doubling) until it reaches the cap; the gateway calls it once it listens. */
export function releaseYoungGeneration(): void {
  if (capping || atCap()) return;
  setFlagsFromString('--semi-space-growth-factor=2');
  // Growth happens only in a scavenge, so the size is checked after each GC until the cap is reached, then never again.
  capping = new PerformanceObserver(() => {
    if (!atCap()) return;
    setFlagsFromString('--semi-space-growth-factor=1');
    capping?.disconnect();
  });
  capping.observe({ entryTypes: ['gc'] });
}

/** new_space counts both semi-spaces. */
function atCap(): boolean {
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return newSpace !== undefined && newSpace.space_size >= 2 * MAX_SEMI_SPACE_MIB * 1024 * 1024;
}
