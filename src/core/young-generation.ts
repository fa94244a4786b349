import { setFlagsFromString } from 'node:v8';

/**
 * V8's young generation starts at 1 MiB per semi-space and doubles, up to 16 MiB, whenever
 * objects keep surviving scavenges. Loading the gateway's modules (schemas, the MCP SDK, fastify)
 * is exactly that pattern: without a hold the young generation reaches its maximum, 32 MiB
 * committed and about 25 MiB of RSS, before the first request. Held, start-up runs in 2 MiB.
 *
 * Released once the gateway listens, with no cap of its own: V8 shrinks the young generation when
 * the process goes idle, and a growth factor left at 1 after a cap would keep it small for every
 * later burst (bench:compare, where each gateway idles between 2 s turns, measured 4.5x the floor's
 * CPU per request that way, against about 2x uncapped). NODE_OPTIONS=--max-semi-space-size=8 caps
 * it for a memory-tight deployment. The growth factor is read each time V8 decides to grow, so
 * setting it at run time takes effect; measured on Node 20 (V8 11.3). Newer V8 versions declare a
 * minimum growth factor of 2, which makes the hold a no-op there (V8's default behaviour).
 */

/** Keeps the young generation at its initial size; bin/smartflow.js calls it before anything else loads. */
export function holdYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** Lets V8 grow the young generation again (V8's default doubling); the gateway calls it once it listens. */
export function releaseYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=2');
}
