import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { GatewayError } from '../../errors/gateway-error.js';
import { applyCounterFlush, forgetCounterFlushes, startCounterEpoch, type CounterDelta } from '../postgres/counter-sync.js';
import type { CounterItem, GuardedIncrement, GuardedIncrementResult, ListOptions, ScanPage } from '../types.js';
import type { RedisCounters } from './redis-counters.js';

/** Tries per call: a first try in a stale epoch, a second after a rebuild, a third for bad luck. */
const ATTEMPTS = 3;
/** How long a rebuild may hold its lock, and how long other gateways wait for it. */
const REBUILD_LOCK_MS = 30_000;
const REBUILD_WAIT_MS = 10_000;
const REBUILD_POLL_MS = 25;
/** Flush ids are kept a day: a retry comes within seconds. */
const FLUSH_ID_TTL_MS = 86_400_000;

/** Changes made in one epoch and not yet in PostgreSQL, by counter. */
type EpochDeltas = Map<string, CounterDelta>;

/** A flush under way: retried with the same id until PostgreSQL has it, then copied into a newer epoch if one started. */
interface Flush {
  id: string;
  epoch: string;
  deltas: CounterDelta[];
  /** Set once PostgreSQL has the flush and its epoch is no longer current: the epoch to copy it into. */
  copyInto?: string;
}

export interface LayeredCountersOptions {
  redis: RedisCounters;
  pool: Pool;
  /** Runs a PostgreSQL call with the store's error mapping. */
  runPg<T>(fn: () => Promise<T>): Promise<T>;
  now: () => number;
  flushMs: number;
  /** Reports a flush that failed (it is retried); the store has no logger of its own. */
  onFlushError(err: unknown): void;
}

/**
 * Budget counters kept in Redis and written behind to PostgreSQL.
 *
 * Every guarded increment runs in Redis (one script per set, exact across gateways). The changes
 * to durable counters (budget spend and reservations) are summed per epoch and counter and written
 * to PostgreSQL every `flushMs`. When Redis loses its data, the first gateway to notice starts a
 * new epoch: under PostgreSQL's epoch lock it records the epoch and reads every counter, writes
 * them to Redis under the new epoch and names it current. A flush committed before that snapshot
 * is in it; a flush committed after it sees the new epoch and adds its changes to Redis as well.
 * So a Redis restart loses no spend and counts none twice. Until every gateway has flushed into
 * the new epoch (at its next counter call, or within `flushMs`), a budget there may admit up to
 * what the other gateways had not flushed. What a gateway that dies had not flushed yet (at most
 * `flushMs` of its changes) stays in Redis but is lost to PostgreSQL.
 * Counters that are not durable (rate windows, cooldowns) start again from zero in a new epoch.
 */
export class LayeredCounters {
  private epoch: string | null = null;
  private rebuilding: Promise<string> | null = null;
  private readonly pending = new Map<string, EpochDeltas>();
  private flushes: Flush[] = [];
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private lastForget = 0;

  constructor(private readonly options: LayeredCountersOptions) {
    this.timer = setInterval(() => void this.flush().catch(options.onFlushError), options.flushMs);
    this.timer.unref();
  }

  async guardedBatch(sets: GuardedIncrement[][]): Promise<GuardedIncrementResult[]> {
    const results: GuardedIncrementResult[] = new Array<GuardedIncrementResult>(sets.length);
    let todo = sets.map((_, i) => i);
    for (let attempt = 0; attempt < ATTEMPTS && todo.length > 0; attempt++) {
      if (attempt > 0) await this.flush();
      const epoch = await this.currentEpoch();
      const outcomes = await this.options.redis.apply(epoch, todo.map((i) => sets[i]!));
      const retry: number[] = [];
      outcomes.forEach((outcome, n) => {
        const i = todo[n]!;
        if (!outcome.applied) {
          this.noteEpoch(epoch, outcome.current);
          retry.push(i);
          return;
        }
        results[i] = outcome.value;
        if (outcome.value.ok) this.record(outcome.epoch, sets[i]!);
      });
      todo = retry;
    }
    if (todo.length > 0) throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { message: 'The counters are being rebuilt; try again.' });
    return results;
  }

  async get(key: string): Promise<number> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await this.flush();
      const epoch = await this.currentEpoch();
      const outcome = await this.options.redis.get(epoch, key);
      if (outcome.applied) return outcome.value;
      this.noteEpoch(epoch, outcome.current);
    }
    throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { message: 'The counters are being rebuilt; try again.' });
  }

  /** Writes every change made so far to PostgreSQL (and into a newer epoch where one started). */
  flush(): Promise<void> {
    this.flushing ??= this.flushAll().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** Live counters of the current epoch, with this gateway's changes written first. */
  async scan(options: ListOptions): Promise<ScanPage<CounterItem>> {
    await this.flush();
    return this.options.redis.scan(await this.currentEpoch(), options);
  }

  /**
   * Sets a counter outright (migration) in Redis and, durably, in PostgreSQL, after this gateway's
   * own changes are written (they would otherwise land on top of the imported value).
   */
  async importCounter(counter: CounterItem, writeDurably: (c: CounterItem) => Promise<void>): Promise<void> {
    await this.flush();
    await writeDurably(counter);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const epoch = await this.currentEpoch();
      if (await this.options.redis.setInEpoch(epoch, counter)) return;
      // A rebuild under way reads PostgreSQL, which already holds the value.
      this.epoch = null;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing?.catch(() => undefined);
    await this.flush();
  }

  /** The epoch in use, learned from Redis or started by a rebuild. */
  private async currentEpoch(): Promise<string> {
    if (this.epoch !== null) return this.epoch;
    this.rebuilding ??= this.learnOrRebuild().finally(() => {
      this.rebuilding = null;
    });
    return this.rebuilding;
  }

  /**
   * A script found another epoch than ours: use it, or learn anew when Redis has none. The retry
   * flushes first, so this gateway's own unwritten changes reach the new epoch before it counts
   * there again; other gateways' reach it at their next counter call or flush.
   */
  private noteEpoch(tried: string, current: string | null): void {
    if (this.epoch === tried) this.epoch = current;
  }

  private async learnOrRebuild(): Promise<string> {
    const { redis, pool, runPg, now } = this.options;
    const existing = await redis.currentEpoch();
    if (existing !== null) return (this.epoch = existing);
    const owner = randomUUID();
    if (await redis.lockRebuild(owner, REBUILD_LOCK_MS)) {
      try {
        // Another gateway may have finished a rebuild between our read and the lock.
        const again = await redis.currentEpoch();
        if (again !== null) return (this.epoch = again);
        const epoch = randomUUID();
        const snapshot = await runPg(() => startCounterEpoch(pool, epoch, now()));
        await redis.install(epoch, snapshot);
        return (this.epoch = epoch);
      } finally {
        await redis.unlockRebuild(owner).catch(() => undefined);
      }
    }
    for (let waited = 0; waited < REBUILD_WAIT_MS; waited += REBUILD_POLL_MS) {
      await sleep(REBUILD_POLL_MS);
      const epoch = await redis.currentEpoch();
      if (epoch !== null) return (this.epoch = epoch);
    }
    throw new GatewayError('SF_ERR_STORE_UNAVAILABLE', { message: 'The counters are being rebuilt; try again.' });
  }

  private record(epoch: string, entries: GuardedIncrement[]): void {
    for (const entry of entries) {
      if (!entry.durable || entry.delta === 0) continue;
      let deltas = this.pending.get(epoch);
      if (!deltas) this.pending.set(epoch, (deltas = new Map()));
      const d = deltas.get(entry.key);
      if (d) d.delta += entry.delta;
      // The first change's expiry: PostgreSQL, like Redis, sets it only when it creates the counter.
      else deltas.set(entry.key, { key: entry.key, delta: entry.delta, ttlMs: entry.ttl_ms });
    }
  }

  private async flushAll(): Promise<void> {
    const { redis, pool, runPg, now } = this.options;
    for (const [epoch, deltas] of this.pending) {
      const changed = [...deltas.values()].filter((d) => d.delta !== 0);
      if (changed.length > 0) this.flushes.push({ id: randomUUID(), epoch, deltas: changed });
    }
    this.pending.clear();
    while (this.flushes.length > 0) {
      const flush = this.flushes[0]!;
      if (flush.copyInto === undefined) {
        const { epoch: current } = await runPg(() => applyCounterFlush(pool, flush.id, flush.deltas, now()));
        // No epoch, or still ours: PostgreSQL is all that needed the changes (a later snapshot reads them).
        if (current === null || current === flush.epoch) {
          this.flushes.shift();
          continue;
        }
        flush.copyInto = current;
      }
      // False when yet another epoch started meanwhile: its snapshot came after this flush and holds it.
      await redis.addInEpoch(flush.copyInto, flush.deltas);
      this.flushes.shift();
    }
    if (now() - this.lastForget > FLUSH_ID_TTL_MS / 24) {
      this.lastForget = now();
      await runPg(() => forgetCounterFlushes(pool, now() - FLUSH_ID_TTL_MS));
    }
  }
}
