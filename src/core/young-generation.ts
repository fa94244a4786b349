import { setFlagsFromString } from 'node:v8';

/**
 * V8's young generation starts at 1 MiB per semi-space and doubles, up to 16 MiB, whenever
 * objects keep surviving scavenges; it never shrinks while the process has no major GC to do.
 * Loading the gateway's modules (schemas, the MCP SDK, fastify) is exactly that pattern: without
 * a hold the young generation reaches its maximum, 32 MiB committed and about 25 MiB of RSS,
 * before the first request. Held, start-up runs in 2 MiB. Released once the gateway listens,
 * load grows it as before: a permanently small young generation costs a scavenge every few
 * dozen requests (measured: about 50 µs more CPU per request at 1 MiB, bench/memory.ts).
 *
 * The flag is read each time V8 decides to grow, so setting it at run time takes effect, unlike
 * --max-semi-space-size, which only a command-line flag (or NODE_OPTIONS) can set.
 */
export function holdYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** V8's default growth (doubling) again; the gateway calls it once it listens. */
export function releaseYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=2');
}
