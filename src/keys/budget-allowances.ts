import type { RequestLog } from '../core/request-log.js';
import type { GuardedIncrement } from '../storage/types.js';
import { moneyIncrement, type BudgetCounters } from './budgets.js';
import type { CounterBatcher } from './counter-batcher.js';

export interface AllowanceSettings {
  /** Worst-case requests one grant holds; 0 turns allowances off (every request reserves in the store). */
  requests: number;
  /** An allowance is kept only while the budget left after its grant is at least this many grants. */
  headroom: number;
  /** How often spend drawn from allowances is written to the store. */
  syncMs: number;
  /** An allowance no request has drawn from for this long is given back. */
  idleMs: number;
}

/** What one request drew from the allowances of its budgets. */
export interface AllowanceDraw {
  readonly allowances: readonly Allowance[];
  readonly micros: number;
}

/**
 * One budget's allowance in this process. In the store, the grant is reserved like a request's
 * worst case: added to the budget's spent counter (under its limit) and to its held counter.
 * Requests then reserve from it and settle into it here, with no store call; the spend they
 * settle moves from held to spent in the store at the next sync.
 */
interface Allowance {
  readonly id: string;
  readonly counters: BudgetCounters;
  /** Reserved in the store and not drawn by a request in flight (micro-USD). */
  unused: number;
  /** Drawn by requests in flight. */
  inFlight: number;
  /** Settled spend still counted as held in the store: the next sync takes it off held. */
  consumed: number;
  /** Spend not yet in the store at all: past a request's draw, or of a budget without a limit. */
  excess: number;
  /** The budget's limit minus its spent counter when this process last wrote it. */
  remainingSeen: number;
  granting: Promise<boolean> | null;
  /** After a refused or given-back grant, requests reserve in the store until this time. */
  exactUntil: number;
  lastUsed: number;
}

/**
 * Budget allowances: a process takes a block of a key's or team's budget from the store in one
 * write and serves many requests from it, the way a quota server assigns quota to proxies. The
 * store's spent counter always includes every allowance, so the limit holds across processes and
 * instances exactly as with per-request reservations; what an allowance costs is that another
 * instance sees it as reserved until it is used or given back. Near the end of a budget (less than
 * `headroom` grants left) no allowance is held and every request reserves in the store, so the
 * last dollars go to whichever instance asks, as before.
 */
export class BudgetAllowances {
  private readonly byBudget = new Map<string, Allowance>();
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly counters: CounterBatcher,
    private readonly settings: AllowanceSettings,
    private readonly now: () => number,
    private readonly log: RequestLog,
  ) {}

  get enabled(): boolean {
    return this.settings.requests > 0;
  }

  /** Draws `micros` from every budget's allowance, taking grants where needed; null: reserve in the store instead. */
  async draw(budgets: readonly BudgetCounters[], micros: number): Promise<AllowanceDraw | null> {
    const now = this.now();
    const allowances: Allowance[] = [];
    for (const counters of budgets) {
      const a = this.allowanceOf(counters, now);
      if (a.exactUntil > now) return null;
      allowances.push(a);
    }
    // Two tries: requests of the same turn share a grant, and one may take what another waited for.
    for (let attempt = 0; attempt < 2; attempt++) {
      const short = allowances.filter((a) => a.counters.rule.maxMicros !== null && a.unused < micros);
      if (short.length === 0) {
        for (const a of allowances) {
          a.lastUsed = now;
          // Counted for budgets without a limit too: an allowance with requests in flight is never dropped.
          a.inFlight += micros;
          if (a.counters.rule.maxMicros !== null) a.unused -= micros;
        }
        return { allowances, micros };
      }
      const granted = await Promise.all(short.map((a) => this.grant(a, micros)));
      if (!granted.every(Boolean)) return null;
    }
    return null;
  }

  /** Settles a draw to what the request used; returns the tightest remaining budget as this process sees it. */
  settle(draw: AllowanceDraw, actualMicros: number): number | null {
    for (const a of draw.allowances) {
      a.inFlight -= draw.micros;
      if (a.counters.rule.maxMicros === null) {
        a.excess += actualMicros;
        continue;
      }
      if (actualMicros <= draw.micros) {
        a.unused += draw.micros - actualMicros;
        a.consumed += actualMicros;
      } else {
        a.consumed += draw.micros;
        a.excess += actualMicros - draw.micros;
      }
    }
    // A request that ends after close() (a stream cut at the end of the grace period) is written at once.
    if (this.closed) void this.write([...draw.allowances], true).catch((err: unknown) => this.log.warn({ err }, 'could not write budget allowance spend after shutdown'));
    else this.arm();
    return this.remainingAfter(draw);
  }

  /** The tightest remaining budget after a draw, as this process sees it. */
  remainingAfter(draw: AllowanceDraw): number | null {
    let tightest: number | null = null;
    for (const a of draw.allowances) {
      if (a.counters.rule.maxMicros === null) continue;
      const remaining = this.remainingOf(a);
      if (tightest === null || remaining < tightest) tightest = remaining;
    }
    return tightest;
  }

  /**
   * Writes this budget's settled spend and gives its unused allowance back, so that a read of the
   * store right after shows what this process knows (the admin API's budget view calls it).
   */
  async flushBudget(counters: BudgetCounters): Promise<void> {
    const a = this.byBudget.get(idOf(counters));
    if (a) await this.write([a], true);
  }

  /** Writes every settled spend and gives every unused allowance back (shutdown, after the last request). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.syncing;
    await this.write([...this.byBudget.values()], true);
  }

  private remainingOf(a: Allowance): number {
    return Math.max(0, a.remainingSeen + a.unused - a.excess);
  }

  private allowanceOf(counters: BudgetCounters, now: number): Allowance {
    // The limit is part of the name: a changed limit starts a new allowance, and the old one,
    // no longer drawn from, is given back by the sync once its requests have settled.
    const id = idOf(counters);
    let a = this.byBudget.get(id);
    if (!a) {
      a = { id, counters, unused: 0, inFlight: 0, consumed: 0, excess: 0, remainingSeen: 0, granting: null, exactUntil: 0, lastUsed: now };
      this.byBudget.set(id, a);
      this.arm();
    }
    return a;
  }

  /** Takes a grant for `a` (one at a time per budget); false when the budget cannot spare one. */
  private grant(a: Allowance, micros: number): Promise<boolean> {
    if (a.granting) return a.granting;
    const size = micros * this.settings.requests;
    const { spentKey, heldKey, ttlMs, rule } = a.counters;
    const max = rule.maxMicros!;
    const granting = this.counters
      .submit([moneyIncrement(spentKey, size, ttlMs, max), moneyIncrement(heldKey, size, ttlMs)])
      .then(async (result) => {
        a.granting = null;
        if (!result.ok) {
          a.exactUntil = this.now() + this.settings.idleMs;
          return false;
        }
        const remaining = max - result.values[0]!;
        a.unused += size;
        a.remainingSeen = remaining;
        if (remaining >= size * this.settings.headroom) return true;
        // Too close to the limit to hold a block others might need: give it back at once. Should
        // the store refuse, the block stays unused here and the idle sync gives it back later.
        a.exactUntil = this.now() + this.settings.idleMs;
        await this.write([a], true).catch((err: unknown) => this.log.warn({ err }, 'could not give a budget block back; will retry'));
        return false;
      })
      .catch((err: unknown) => {
        a.granting = null;
        throw err;
      });
    a.granting = granting;
    return granting;
  }

  private arm(): void {
    if (this.timer || this.closed || this.byBudget.size === 0) return;
    this.timer = setInterval(() => void this.sync(), this.settings.syncMs);
    // Spend waiting here is written at close; the timer must not keep an idle process alive.
    this.timer.unref();
  }

  private sync(): Promise<void> {
    if (this.syncing) return this.syncing;
    const now = this.now();
    const due = [...this.byBudget.values()];
    this.syncing = this.write(due, (a) => a.inFlight === 0 && now - a.lastUsed >= this.settings.idleMs)
      // The numbers stay in memory and the next sync tries again; the limit is safe meanwhile.
      .catch((err: unknown) => this.log.warn({ err }, 'could not sync budget allowances; will retry'))
      .finally(() => {
        this.syncing = null;
        if (this.byBudget.size === 0 && this.timer) {
          clearInterval(this.timer);
          this.timer = null;
        }
      });
    return this.syncing;
  }

  /**
   * One store call for the allowances given: settled spend moved from held to spent, spend past
   * the draws added, and (where `giveBack` says so) unused allowance returned. On a store failure
   * the numbers are put back for the next sync.
   */
  private async write(allowances: Allowance[], giveBack: boolean | ((a: Allowance) => boolean)): Promise<void> {
    const entries: GuardedIncrement[] = [];
    const taken: Array<{ a: Allowance; consumed: number; excess: number; unused: number; spentAt: number }> = [];
    for (const a of allowances) {
      // A grant under way has not added its block to `unused` yet: give back after it lands.
      const unused = a.granting === null && (typeof giveBack === 'function' ? giveBack(a) : giveBack) ? a.unused : 0;
      if (a.consumed === 0 && a.excess === 0 && unused === 0) continue;
      const { spentKey, heldKey, ttlMs } = a.counters;
      // Always written, even as +0: its new value tells how much of the budget other instances left.
      entries.push(moneyIncrement(spentKey, a.excess - unused, ttlMs));
      const spentAt = entries.length - 1;
      const heldDelta = -(a.consumed + unused);
      if (heldDelta !== 0) entries.push(moneyIncrement(heldKey, heldDelta, ttlMs));
      taken.push({ a, consumed: a.consumed, excess: a.excess, unused, spentAt });
      a.consumed = 0;
      a.excess = 0;
      a.unused -= unused;
    }
    if (entries.length > 0) {
      let values: number[];
      try {
        const result = await this.counters.submit(entries);
        values = result.ok ? result.values : [];
      } catch (err) {
        for (const t of taken) {
          t.a.consumed += t.consumed;
          t.a.excess += t.excess;
          t.a.unused += t.unused;
        }
        throw err;
      }
      for (const t of taken) {
        const max = t.a.counters.rule.maxMicros;
        const spent = values[t.spentAt];
        if (max !== null && spent !== undefined) t.a.remainingSeen = max - spent;
      }
    }
    const now = this.now();
    for (const a of allowances) if (this.isSpent(a, now)) this.byBudget.delete(a.id);
  }

  /** Nothing held, owed or in flight, and no reason to remember a refusal: the entry can go. */
  private isSpent(a: Allowance, now: number): boolean {
    return a.inFlight === 0 && a.unused === 0 && a.consumed === 0 && a.excess === 0 && a.granting === null && a.exactUntil <= now && now - a.lastUsed >= this.settings.idleMs;
  }
}

/** Counters of one budget in one period and generation, with its limit. */
function idOf(counters: BudgetCounters): string {
  return `${counters.spentKey}|${counters.rule.maxMicros ?? 'none'}`;
}
