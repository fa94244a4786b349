import type { Redis } from 'ioredis';
import type { CounterItem, GuardedIncrement, GuardedIncrementResult, ListOptions, ScanPage } from '../types.js';
import { escapeGlob } from '../redis/glob.js';
import { readStrings, scanKeys } from '../redis/transfer.js';
import { EPOCH_GUARDED_INCREMENT, LuaScript } from '../redis/lua.js';

/** KEYS: counter, epoch key. ARGV: expected epoch. {1, value} in that epoch, or {2, current epoch or false}. */
const GET_IN_EPOCH = new LuaScript(`
local epoch = redis.call('GET', KEYS[2])
if epoch ~= ARGV[1] then return {2, epoch} end
return {1, tonumber(redis.call('GET', KEYS[1]) or '0')}`);

/**
 * KEYS: counter, epoch key. ARGV: the epoch, value, ttl_ms ('' for none, <= 0 deletes). Sets the
 * counter outright while the epoch is current; 1 if set, 0 if the epoch moved.
 */
const SET_IN_EPOCH = new LuaScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2])
elseif tonumber(ARGV[3]) <= 0 then redis.call('DEL', KEYS[1])
else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`);

/**
 * KEYS: counters, then the epoch key. ARGV: the epoch, then per counter (delta, ttl_ms or 0).
 * Adds the deltas only while the epoch is still current; 1 if added, 0 if not.
 */
const ADD_IN_EPOCH = new LuaScript(`
local n = #KEYS - 1
if redis.call('GET', KEYS[#KEYS]) ~= ARGV[1] then return 0 end
for i = 1, n do
  local existed = redis.call('EXISTS', KEYS[i])
  redis.call('INCRBY', KEYS[i], ARGV[2 * i])
  local ttl = tonumber(ARGV[2 * i + 1])
  if existed == 0 and ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1`);

/** What a guarded call came back with: the results and the epoch they were applied in, or "the epoch moved". */
export type EpochOutcome<T> = { applied: true; value: T; epoch: string } | { applied: false; current: string | null };

/** A counter as the rebuild writes it: its value and how long it has left (undefined: no expiry). */
export interface CounterSnapshot {
  key: string;
  value: number;
  ttlMs: number | undefined;
}

/** Keys per pipeline when a rebuild writes the snapshot. */
const INSTALL_CHUNK = 1_000;

/**
 * The layered store's counters in Redis. Every counter key carries the epoch it belongs to
 * (`<prefix>ctr:<epoch>:<key>`), and the epoch key names the current one: a Redis that lost its
 * data has no epoch key, and a rebuild writes the counters of a new epoch from PostgreSQL before
 * naming it, so nothing written before the loss can mix with what is rebuilt.
 */
export class RedisCounters {
  readonly epochKey: string;
  private readonly lockKey: string;

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {
    this.epochKey = `${prefix}ctr-epoch`;
    this.lockKey = `${prefix}ctr-rebuild`;
  }

  private key(epoch: string, counter: string): string {
    return `${this.prefix}ctr:${epoch}:${counter}`;
  }

  /** The current epoch, or null when Redis has none (lost its data, or never had counters). */
  async currentEpoch(): Promise<string | null> {
    return this.client.get(this.epochKey);
  }

  /** Applies guarded increment sets in `epoch`, one script per set, in one round trip; each set independently. */
  async apply(epoch: string, sets: GuardedIncrement[][]): Promise<Array<EpochOutcome<GuardedIncrementResult>>> {
    return Promise.all(
      sets.map(async (entries): Promise<EpochOutcome<GuardedIncrementResult>> => {
        const keys = entries.map((e) => this.key(epoch, e.key));
        keys.push(this.epochKey);
        const args: Array<string | number> = [];
        for (const e of entries) args.push(e.delta, e.limit ?? '', e.ttl_ms !== undefined && e.ttl_ms > 0 ? Math.ceil(e.ttl_ms) : 0);
        args.push(epoch);
        const reply = (await EPOCH_GUARDED_INCREMENT.run(this.client, keys, args)) as Array<number | string | null>;
        if (reply[0] === 2) return { applied: false, current: (reply[1] as string | null | undefined) ?? null };
        const replyEpoch = String(reply[reply.length - 1]);
        const numbers = reply.slice(2, -1).map(Number);
        const value: GuardedIncrementResult = reply[0] === 1 ? { ok: true, values: numbers } : { ok: false, index: Number(reply[1]), values: numbers };
        return { applied: true, value, epoch: replyEpoch };
      }),
    );
  }

  async get(epoch: string, counter: string): Promise<EpochOutcome<number>> {
    const reply = (await GET_IN_EPOCH.run(this.client, [this.key(epoch, counter), this.epochKey], [epoch])) as Array<number | string | null>;
    if (reply[0] === 2) return { applied: false, current: (reply[1] as string | null | undefined) ?? null };
    return { applied: true, value: Number(reply[1]), epoch };
  }

  /** Adds deltas in `epoch` if it is still the current one; false when it is not. */
  async addInEpoch(epoch: string, deltas: Array<{ key: string; delta: number; ttlMs: number | undefined }>): Promise<boolean> {
    if (deltas.length === 0) return true;
    const keys = deltas.map((d) => this.key(epoch, d.key));
    keys.push(this.epochKey);
    const args: Array<string | number> = [epoch];
    for (const d of deltas) args.push(d.delta, d.ttlMs !== undefined && d.ttlMs > 0 ? Math.ceil(d.ttlMs) : 0);
    return (await ADD_IN_EPOCH.run(this.client, keys, args)) === 1;
  }

  /** Sets a counter in `epoch` outright (migration); false when the epoch moved. */
  async setInEpoch(epoch: string, counter: CounterItem): Promise<boolean> {
    const ttl = counter.ttl_ms === null ? '' : Math.ceil(counter.ttl_ms);
    return (await SET_IN_EPOCH.run(this.client, [this.key(epoch, counter.key), this.epochKey], [epoch, counter.value, ttl])) === 1;
  }

  /** A page of the live counters of `epoch`, SCAN order (a key may come twice). */
  async scan(epoch: string, options: ListOptions): Promise<ScanPage<CounterItem>> {
    const prefix = this.key(epoch, '');
    const page = await scanKeys(this.client, `${escapeGlob(prefix)}*`, options);
    const items: CounterItem[] = [];
    for (const { key, value, pttl } of await readStrings(this.client, page.keys)) {
      items.push({ key: key.slice(prefix.length), value: Number(value), ttl_ms: pttl === -1 ? null : pttl });
    }
    return { items, next_cursor: page.next_cursor };
  }

  /** Takes the rebuild lock for `ms`; false when another gateway holds it. */
  async lockRebuild(owner: string, ms: number): Promise<boolean> {
    return (await this.client.set(this.lockKey, owner, 'PX', ms, 'NX')) === 'OK';
  }

  async unlockRebuild(owner: string): Promise<void> {
    // Only our own lock: one that expired and was taken by another gateway stays.
    await this.client.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, this.lockKey, owner);
  }

  /** Writes a snapshot as the counters of `epoch`, then names `epoch` current. */
  async install(epoch: string, counters: CounterSnapshot[]): Promise<void> {
    for (let i = 0; i < counters.length; i += INSTALL_CHUNK) {
      const pipeline = this.client.pipeline();
      for (const c of counters.slice(i, i + INSTALL_CHUNK)) {
        if (c.ttlMs === undefined) pipeline.set(this.key(epoch, c.key), c.value);
        else if (c.ttlMs > 0) pipeline.set(this.key(epoch, c.key), c.value, 'PX', Math.ceil(c.ttlMs));
      }
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err !== null);
      if (failed) throw failed[0];
    }
    await this.client.set(this.epochKey, epoch);
  }
}
