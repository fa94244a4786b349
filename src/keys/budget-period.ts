/**
 * Calendar-aligned budget periods. Spend counters are keyed by the start of the current window,
 * so nothing has to reset them: the first request of a new window lands on a fresh counter.
 */

/** How often a budget starts afresh. Calendar periods follow the configured time zone. */
export type BudgetPeriod = 'daily' | 'weekly' | 'monthly' | 'lifetime';

/** A half-open span of time `[start, end)` in epoch milliseconds. */
export interface PeriodWindow {
  /** inclusive */
  readonly start: number;
  /** exclusive; null for lifetime */
  readonly end: number | null;
}

type CalendarPeriod = Exclude<BudgetPeriod, 'lifetime'>;

interface BoundedWindow extends PeriodWindow {
  readonly end: number;
}

/** Conversions between instants and local wall-clock time in one time zone. */
interface Zone {
  /** The local wall-clock reading at `instant`, as milliseconds since local 1970-01-01 00:00. */
  wall(instant: number): number;
  /** The first instant whose wall-clock reading is at or after `wall`. */
  firstInstantAt(wall: number): number;
}

const DAY = 86_400_000;
const LIFETIME: PeriodWindow = Object.freeze({ start: 0, end: null });
// Names ICU resolves the UTC aliases to; any of them takes the fast path.
const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT']);
const UTC_ZONE: Zone = { wall: (instant) => instant, firstInstantAt: (wall) => wall };
const zones = new Map<string, Zone>();

/**
 * The window of `period` that contains `now`, in `timeZone`. lifetime → {start: 0, end: null}.
 * Days start at local midnight, weeks on Monday, months on the 1st. Where a DST change skips
 * local midnight, the day starts at the transition, the first instant of that local day; where
 * clocks fall back across midnight, the period already begun keeps the repeated time. Windows
 * are contiguous: each one's `end` is the next one's `start`.
 * Throws a RangeError for an invalid time zone or a `now` outside the Date range.
 */
export function periodWindow(period: BudgetPeriod, now: number, timeZone: string): PeriodWindow {
  const zone = zoneFor(timeZone);
  return period === 'lifetime' ? LIFETIME : computeWindow(period, now, zone);
}

/** True if the string is an IANA zone name Intl accepts (e.g. 'UTC', 'Europe/Berlin'). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    zoneFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** {@link periodWindow} for one time zone, remembering the current window of each period. */
export interface PeriodClock {
  readonly timeZone: string;
  /** Same result as `periodWindow(period, now, timeZone)`; a frozen object, shared between calls. */
  window(period: BudgetPeriod, now: number): PeriodWindow;
}

/**
 * A clock for the budget hot path: while `now` stays inside the window computed last for a
 * period, a call costs two comparisons; Intl work happens only when a window is left.
 * Throws a RangeError for an invalid time zone, so a bad configuration fails at start-up.
 */
export function createPeriodClock(timeZone: string): PeriodClock {
  const zone = zoneFor(timeZone);
  const current: Partial<Record<CalendarPeriod, BoundedWindow>> = {};
  return {
    timeZone,
    window(period, now) {
      if (period === 'lifetime') return LIFETIME;
      const cached = current[period];
      if (cached !== undefined && now >= cached.start && now < cached.end) return cached;
      return (current[period] = computeWindow(period, now, zone));
    },
  };
}

function computeWindow(period: CalendarPeriod, now: number, zone: Zone): BoundedWindow {
  if (!Number.isFinite(now)) throw new RangeError(`Invalid instant: ${now}`);
  // Calendar arithmetic on wall-clock time is plain UTC arithmetic; only the ends of the window
  // need converting back to instants.
  const from = periodStart(period, Math.floor(zone.wall(now) / DAY) * DAY);
  const next = nextPeriodStart(period, from);
  const start = zone.firstInstantAt(from);
  const end = zone.firstInstantAt(next);
  if (now < end) return Object.freeze({ start, end });
  // Clocks fell back across midnight (St. John's at 00:01 until 2011, Casey in 2010), so the
  // local date ran backwards after the next period began. That period keeps these instants:
  // windows stay contiguous and never reopen.
  return Object.freeze({ start: end, end: zone.firstInstantAt(nextPeriodStart(period, next)) });
}

/** The wall-clock midnight starting the period that contains `day` (a wall-clock midnight). */
function periodStart(period: CalendarPeriod, day: number): number {
  switch (period) {
    case 'daily':
      return day;
    case 'weekly':
      // Day 0 (1970-01-01) was a Thursday, three days after a Monday.
      return day - mod(day / DAY + 3, 7) * DAY;
    case 'monthly':
      return new Date(day).setUTCDate(1);
  }
}

/** The wall-clock midnight starting the period after the one starting at `from`. */
function nextPeriodStart(period: CalendarPeriod, from: number): number {
  switch (period) {
    case 'daily':
      return from + DAY;
    case 'weekly':
      return from + 7 * DAY;
    case 'monthly': {
      const date = new Date(from);
      return date.setUTCMonth(date.getUTCMonth() + 1);
    }
  }
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

function zoneFor(timeZone: string): Zone {
  let zone = zones.get(timeZone);
  if (zone === undefined) {
    zone = createZone(timeZone);
    // Zone names come from configuration, so the map stays small; invalid names never enter it.
    zones.set(timeZone, zone);
  }
  return zone;
}

function createZone(timeZone: string): Zone {
  // Newer V8 accepts offsets such as '+05:30' while Node 20 rejects them; refusing them
  // everywhere keeps a configuration valid on one Node version valid on all.
  if (/^[+-]/.test(timeZone)) throw new RangeError(`Invalid time zone specified: ${timeZone}`);
  // The default zone needs no Intl: a first Intl.DateTimeFormat pages in about 8 MiB of ICU data.
  if (UTC_NAMES.has(timeZone)) return UTC_ZONE;
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    calendar: 'gregory',
    numberingSystem: 'latn',
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  return UTC_NAMES.has(format.resolvedOptions().timeZone) ? UTC_ZONE : intlZone(format);
}

function intlZone(format: Intl.DateTimeFormat): Zone {
  const wall = (instant: number): number => {
    const fields = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
    for (const part of format.formatToParts(instant)) {
      if (part.type in fields) fields[part.type as keyof typeof fields] = Number(part.value);
    }
    // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
    const date = new Date(0).setUTCFullYear(fields.year, fields.month - 1, fields.day);
    // Intl shows whole seconds; the milliseconds carry over unchanged.
    return date + ((fields.hour * 60 + fields.minute) * 60 + fields.second) * 1000 + mod(instant, 1000);
  };
  return {
    wall,
    firstInstantAt(target) {
      // The offsets a day either side of the target bracket any transition near it. With no
      // transition both candidates are the same instant; when clocks fall back over the target,
      // both read the target and the earlier one comes first.
      const a = target - (wall(target - DAY) - (target - DAY));
      const b = target - (wall(target + DAY) - (target + DAY));
      const early = Math.min(a, b);
      const late = Math.max(a, b);
      if (wall(early) === target) return early;
      if (late !== early && wall(late) === target) return late;
      // Clocks jumped over the target: search for the transition. Wall time is at most a day
      // away from UTC, and skipped midnights are rare, so the ~28 steps cost nothing in practice.
      let lo = target - DAY;
      let hi = target + DAY;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (wall(mid) < target) lo = mid;
        else hi = mid;
      }
      return hi;
    },
  };
}
