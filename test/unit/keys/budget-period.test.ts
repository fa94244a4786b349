import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BudgetPeriod, type PeriodWindow, createPeriodClock, isValidTimeZone, periodWindow } from '../../../src/keys/budget-period.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CALENDAR_PERIODS = ['daily', 'weekly', 'monthly'] as const;

function iso(window: PeriodWindow): [string, string | null] {
  return [new Date(window.start).toISOString(), window.end === null ? null : new Date(window.end).toISOString()];
}

/**
 * Expected windows, worked out by hand from the zones' published rules rather than with the code
 * under test: [zone, period, now, start, end].
 */
const CASES: Array<[string, BudgetPeriod, string, string, string]> = [
  // UTC: leap day, year and month ends, Sunday/Monday edges.
  ['UTC', 'daily', '2024-02-29T12:00:00.000Z', '2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
  ['UTC', 'daily', '2023-12-31T23:59:59.999Z', '2023-12-31T00:00:00.000Z', '2024-01-01T00:00:00.000Z'],
  ['UTC', 'weekly', '2024-12-31T10:00:00.000Z', '2024-12-30T00:00:00.000Z', '2025-01-06T00:00:00.000Z'],
  ['UTC', 'weekly', '2024-03-10T23:59:59.999Z', '2024-03-04T00:00:00.000Z', '2024-03-11T00:00:00.000Z'],
  ['UTC', 'weekly', '2024-03-11T00:00:00.000Z', '2024-03-11T00:00:00.000Z', '2024-03-18T00:00:00.000Z'],
  ['UTC', 'monthly', '2024-02-10T08:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
  ['UTC', 'monthly', '2023-02-28T23:59:59.999Z', '2023-02-01T00:00:00.000Z', '2023-03-01T00:00:00.000Z'],
  ['UTC', 'monthly', '2023-12-15T00:00:00.000Z', '2023-12-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z'],
  // New York: EST -5, EDT -4; 2024-03-10 02:00 springs forward, 2024-11-03 02:00 falls back.
  ['America/New_York', 'daily', '2024-03-10T12:00:00.000Z', '2024-03-10T05:00:00.000Z', '2024-03-11T04:00:00.000Z'],
  ['America/New_York', 'daily', '2024-03-10T04:59:59.999Z', '2024-03-09T05:00:00.000Z', '2024-03-10T05:00:00.000Z'],
  ['America/New_York', 'daily', '2024-11-03T12:00:00.000Z', '2024-11-03T04:00:00.000Z', '2024-11-04T05:00:00.000Z'],
  ['America/New_York', 'weekly', '2024-03-10T12:00:00.000Z', '2024-03-04T05:00:00.000Z', '2024-03-11T04:00:00.000Z'],
  ['America/New_York', 'weekly', '2024-11-03T12:00:00.000Z', '2024-10-28T04:00:00.000Z', '2024-11-04T05:00:00.000Z'],
  ['America/New_York', 'monthly', '2024-03-15T12:00:00.000Z', '2024-03-01T05:00:00.000Z', '2024-04-01T04:00:00.000Z'],
  ['America/New_York', 'monthly', '2025-01-01T03:00:00.000Z', '2024-12-01T05:00:00.000Z', '2025-01-01T05:00:00.000Z'],
  // Berlin: CET +1, CEST +2; 2024-03-31 02:00 springs forward, 2024-10-27 03:00 falls back.
  ['Europe/Berlin', 'daily', '2024-03-31T12:00:00.000Z', '2024-03-30T23:00:00.000Z', '2024-03-31T22:00:00.000Z'],
  ['Europe/Berlin', 'daily', '2024-10-27T12:00:00.000Z', '2024-10-26T22:00:00.000Z', '2024-10-27T23:00:00.000Z'],
  ['Europe/Berlin', 'monthly', '2024-03-31T12:00:00.000Z', '2024-02-29T23:00:00.000Z', '2024-03-31T22:00:00.000Z'],
  ['Europe/Berlin', 'monthly', '2024-03-31T22:30:00.000Z', '2024-03-31T22:00:00.000Z', '2024-04-30T22:00:00.000Z'],
  ['Europe/Berlin', 'weekly', '2024-05-01T10:00:00.000Z', '2024-04-28T22:00:00.000Z', '2024-05-05T22:00:00.000Z'],
  ['Europe/Berlin', 'weekly', '2024-12-31T23:30:00.000Z', '2024-12-29T23:00:00.000Z', '2025-01-05T23:00:00.000Z'],
  // Santiago: -4 / -3. 2024-09-08 00:00 does not exist (clocks go to 01:00), so that day starts
  // at the transition; on 2024-04-07 clocks go from 24:00 back to 23:00 the evening before.
  ['America/Santiago', 'daily', '2024-09-08T12:00:00.000Z', '2024-09-08T04:00:00.000Z', '2024-09-09T03:00:00.000Z'],
  ['America/Santiago', 'daily', '2024-09-07T12:00:00.000Z', '2024-09-07T04:00:00.000Z', '2024-09-08T04:00:00.000Z'],
  ['America/Santiago', 'daily', '2024-04-06T12:00:00.000Z', '2024-04-06T03:00:00.000Z', '2024-04-07T04:00:00.000Z'],
  ['America/Santiago', 'weekly', '2024-09-08T12:00:00.000Z', '2024-09-02T04:00:00.000Z', '2024-09-09T03:00:00.000Z'],
  // Havana: -5 / -4, both changes at 00:00 standard time. 2024-03-10 00:00 is skipped;
  // 2024-11-03 00:00 happens twice and the day starts at the first.
  ['America/Havana', 'daily', '2024-03-10T12:00:00.000Z', '2024-03-10T05:00:00.000Z', '2024-03-11T04:00:00.000Z'],
  ['America/Havana', 'daily', '2024-11-03T05:30:00.000Z', '2024-11-03T04:00:00.000Z', '2024-11-04T05:00:00.000Z'],
  ['America/Havana', 'daily', '2024-11-02T12:00:00.000Z', '2024-11-02T04:00:00.000Z', '2024-11-03T04:00:00.000Z'],
  // Beirut: +2 / +3, changes at 00:00. 2024-03-31 00:00 is skipped; 2024-10-27 00:00 EEST
  // becomes 23:00 on the 26th.
  ['Asia/Beirut', 'daily', '2024-03-31T12:00:00.000Z', '2024-03-30T22:00:00.000Z', '2024-03-31T21:00:00.000Z'],
  ['Asia/Beirut', 'daily', '2024-10-26T12:00:00.000Z', '2024-10-25T21:00:00.000Z', '2024-10-26T22:00:00.000Z'],
  ['Asia/Beirut', 'monthly', '2024-03-15T12:00:00.000Z', '2024-02-29T22:00:00.000Z', '2024-03-31T21:00:00.000Z'],
  // Kolkata +5:30 and Kathmandu +5:45.
  ['Asia/Kolkata', 'daily', '2024-01-01T00:00:00.000Z', '2023-12-31T18:30:00.000Z', '2024-01-01T18:30:00.000Z'],
  ['Asia/Kolkata', 'daily', '2023-12-31T18:29:59.999Z', '2023-12-30T18:30:00.000Z', '2023-12-31T18:30:00.000Z'],
  ['Asia/Kolkata', 'monthly', '2024-02-29T18:30:00.000Z', '2024-02-29T18:30:00.000Z', '2024-03-31T18:30:00.000Z'],
  ['Asia/Kathmandu', 'weekly', '2025-01-01T00:00:00.000Z', '2024-12-29T18:15:00.000Z', '2025-01-05T18:15:00.000Z'],
  ['Asia/Kathmandu', 'daily', '2024-02-28T18:15:00.000Z', '2024-02-28T18:15:00.000Z', '2024-02-29T18:15:00.000Z'],
  // Lord Howe: +10:30, with a 30-minute DST to +11 (2024-04-07 and 2024-10-06 at 02:00).
  ['Australia/Lord_Howe', 'daily', '2024-10-06T05:00:00.000Z', '2024-10-05T13:30:00.000Z', '2024-10-06T13:00:00.000Z'],
  ['Australia/Lord_Howe', 'daily', '2024-04-07T05:00:00.000Z', '2024-04-06T13:00:00.000Z', '2024-04-07T13:30:00.000Z'],
  ['Australia/Lord_Howe', 'monthly', '2025-01-15T00:00:00.000Z', '2024-12-31T13:00:00.000Z', '2025-01-31T13:00:00.000Z'],
  // Kiritimati +14 and Pago Pago -11: local dates a day apart from UTC's.
  ['Pacific/Kiritimati', 'daily', '2024-06-15T09:59:59.999Z', '2024-06-14T10:00:00.000Z', '2024-06-15T10:00:00.000Z'],
  ['Pacific/Kiritimati', 'monthly', '2024-12-31T10:00:00.000Z', '2024-12-31T10:00:00.000Z', '2025-01-31T10:00:00.000Z'],
  ['Pacific/Pago_Pago', 'monthly', '2025-01-01T05:00:00.000Z', '2024-12-01T11:00:00.000Z', '2025-01-01T11:00:00.000Z'],
  ['Pacific/Pago_Pago', 'weekly', '2024-03-01T10:00:00.000Z', '2024-02-26T11:00:00.000Z', '2024-03-04T11:00:00.000Z'],
  // Apia skipped 2011-12-30 entirely, jumping from -10 to +14: that week has six days.
  ['Pacific/Apia', 'daily', '2011-12-29T12:00:00.000Z', '2011-12-29T10:00:00.000Z', '2011-12-30T10:00:00.000Z'],
  ['Pacific/Apia', 'daily', '2011-12-30T10:00:00.000Z', '2011-12-30T10:00:00.000Z', '2011-12-31T10:00:00.000Z'],
  ['Pacific/Apia', 'weekly', '2011-12-30T12:00:00.000Z', '2011-12-26T10:00:00.000Z', '2012-01-01T10:00:00.000Z'],
  // Toronto sprang forward from 23:30 to 00:30 on 1919-03-30, so March 31 began at 00:30.
  ['America/Toronto', 'daily', '1919-03-31T12:00:00.000Z', '1919-03-31T04:30:00.000Z', '1919-04-01T04:00:00.000Z'],
  ['America/Toronto', 'daily', '1919-03-31T04:29:59.999Z', '1919-03-30T05:00:00.000Z', '1919-03-31T04:30:00.000Z'],
  // St. John's (-3:30 / -2:30) fell back at 00:01 until 2011: on 2009-11-01 00:01 NDT clocks went
  // back to 23:01 on Oct 31. November had begun by then and keeps the repeated hour.
  ['America/St_Johns', 'daily', '2009-11-01T02:29:59.999Z', '2009-10-31T02:30:00.000Z', '2009-11-01T02:30:00.000Z'],
  ['America/St_Johns', 'daily', '2009-11-01T02:45:00.000Z', '2009-11-01T02:30:00.000Z', '2009-11-02T03:30:00.000Z'],
  ['America/St_Johns', 'monthly', '2009-11-01T02:45:00.000Z', '2009-11-01T02:30:00.000Z', '2009-12-01T03:30:00.000Z'],
];

describe('periodWindow: concrete instants', () => {
  for (const [zone, period, now, start, end] of CASES) {
    test(`${zone} ${period} at ${now}`, () => {
      assert.deepEqual(iso(periodWindow(period, Date.parse(now), zone)), [start, end]);
    });
  }

  test('lifetime is everything, whatever the instant or zone', () => {
    assert.deepEqual(periodWindow('lifetime', Date.parse('2024-06-01T00:00:00Z'), 'UTC'), { start: 0, end: null });
    assert.deepEqual(periodWindow('lifetime', 0, 'Asia/Kathmandu'), { start: 0, end: null });
  });

  test('UTC aliases and a zone at +0 agree with UTC', () => {
    const winter = Date.parse('2024-01-17T15:00:00Z'); // London is on GMT in January
    for (const period of CALENDAR_PERIODS) {
      const expected = periodWindow(period, winter, 'UTC');
      for (const zone of ['Etc/UTC', 'GMT', 'Europe/London']) assert.deepEqual(periodWindow(period, winter, zone), expected, `${zone} ${period}`);
    }
  });

  test('a non-finite instant is a RangeError', () => {
    for (const zone of ['UTC', 'Europe/Berlin']) {
      assert.throws(() => periodWindow('daily', Number.NaN, zone), RangeError);
      assert.throws(() => periodWindow('monthly', Number.POSITIVE_INFINITY, zone), RangeError);
    }
  });
});

/** The test's own view of local time, from Intl directly. */
interface Local {
  date: string; // YYYY-MM-DD
  time: string; // HH:MM:SS
  weekday: string;
  offset: string; // GMT+05:45
}

const testFormats = new Map<string, Intl.DateTimeFormat>();

function local(zone: string, instant: number): Local {
  let format = testFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    });
    testFormats.set(zone, format);
  }
  const p = Object.fromEntries(format.formatToParts(instant).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}:${p.second}`, weekday: p.weekday!, offset: p.timeZoneName! };
}

/** The local date on which the period containing local date `date` starts. */
function periodOf(period: BudgetPeriod, date: string): string {
  if (period === 'monthly') return `${date.slice(0, 8)}01`;
  if (period === 'daily') return date;
  const day = Date.parse(date);
  const sinceMonday = (new Date(day).getUTCDay() + 6) % 7;
  return new Date(day - sinceMonday * DAY).toISOString().slice(0, 10);
}

/** Checks a window's start once: it is the first instant of its local day, on the right kind of day. */
function checkStart(zone: string, period: BudgetPeriod, start: number): Local {
  const first = local(zone, start);
  const before = local(zone, start - 1);
  assert.ok(before.date < first.date, `${zone} ${period}: ${new Date(start).toISOString()} is not the first instant of ${first.date}`);
  // Local midnight, or the transition that skipped it.
  assert.ok(first.time === '00:00:00' || before.offset !== first.offset, `${zone} ${period}: starts at local ${first.time}`);
  if (period === 'weekly') assert.equal(first.weekday, 'Mon', `${zone}: week starts ${first.date}`);
  if (period === 'monthly') assert.equal(first.date.slice(8), '01', `${zone}: month starts ${first.date}`);
  return first;
}

/**
 * Sweeps [from, to) in `step`s through the uncached function: every instant lies in its window,
 * the window is the one for its local date, and windows tile time without gaps or overlaps.
 * Where clocks fall back across midnight, an instant may read as the period before its window.
 */
function sweep(zone: string, from: string, to: string, step: number, { fallsBackOverMidnight = false } = {}): void {
  const starts = new Map<number, Local>();
  const previous: Partial<Record<BudgetPeriod, PeriodWindow>> = {};
  for (let now = Date.parse(from); now < Date.parse(to); now += step) {
    const here = local(zone, now);
    for (const period of CALENDAR_PERIODS) {
      const w = periodWindow(period, now, zone);
      const label = `${zone} ${period} at ${new Date(now).toISOString()}`;
      assert.ok(w.end !== null && w.start <= now && now < w.end, `${label}: outside ${iso(w).join(' .. ')}`);
      const prev = previous[period];
      if (prev === undefined || prev.start !== w.start) {
        // A new window: it starts where the previous one ended, and its own end is the start of the next.
        if (prev !== undefined) assert.equal(w.start, prev.end, `${label}: gap or overlap`);
        starts.set(w.start, checkStart(zone, period, w.start));
        assert.equal(periodWindow(period, w.end, zone).start, w.end, `${label}: next window`);
        assert.deepEqual(periodWindow(period, w.end - 1, zone), w, `${label}: last instant`);
        previous[period] = w;
      } else {
        assert.equal(w.end, prev.end, `${label}: same start, different end`);
      }
      const first = starts.get(w.start)!;
      const expected = periodOf(period, here.date);
      if (fallsBackOverMidnight) assert.ok(expected <= first.date, `${label}: ${here.date} in the window of ${first.date}`);
      else assert.equal(first.date, expected, `${label}: ${here.date} in the window of ${first.date}`);
    }
  }
}

describe('periodWindow: properties', () => {
  // 7h13m steps reach every local hour and minute over two years at a seventh of the cost of
  // hourly ones; sweep() also probes each window at its last instant and at its end.
  const STEP = 7 * HOUR + 13 * 60_000;
  const zones = [
    'UTC',
    'America/New_York',
    'Europe/Berlin',
    'America/Santiago',
    'America/Havana',
    'Asia/Beirut',
    'Asia/Kolkata',
    'Asia/Kathmandu',
    'Australia/Lord_Howe',
    'Pacific/Kiritimati',
    'Pacific/Pago_Pago',
  ];
  for (const zone of zones) {
    test(`${zone}: 2023-07 .. 2025-07`, () => sweep(zone, '2023-07-01T00:00:00Z', '2025-07-01T00:00:00Z', STEP));
  }

  test('Pacific/Apia around the day it skipped (2011-12-30), hourly', () => sweep('Pacific/Apia', '2011-12-01T00:00:00Z', '2012-01-15T00:00:00Z', HOUR));

  test('America/Toronto around a jump from 23:30 to 00:30 (1919-03-30), hourly', () => sweep('America/Toronto', '1919-03-15T00:00:00Z', '1919-04-15T00:00:00Z', HOUR));

  test('America/St_Johns around a fall-back across midnight (2009-11-01 00:01), every 11 minutes', () => {
    sweep('America/St_Johns', '2009-10-26T00:00:00Z', '2009-11-03T00:00:00Z', 11 * 60_000, { fallsBackOverMidnight: true });
  });
});

describe('isValidTimeZone', () => {
  test('accepts IANA names, including links and any letter case Intl accepts', () => {
    for (const zone of ['UTC', 'Etc/UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT-14', 'Asia/Calcutta', 'europe/berlin']) {
      assert.equal(isValidTimeZone(zone), true, zone);
    }
  });

  test('rejects unknown names and offsets', () => {
    // Offsets are refused on every Node version, though newer V8 accepts them.
    for (const zone of ['', 'Mars/Olympus', 'Europe', 'Europe/Berlin ', 'UTC+1', '+05:30', '-03:00']) {
      assert.equal(isValidTimeZone(zone), false, JSON.stringify(zone));
    }
  });

  test('periodWindow and createPeriodClock throw a RangeError for an invalid zone', () => {
    for (const period of ['daily', 'lifetime'] as const) assert.throws(() => periodWindow(period, 0, 'Mars/Olympus'), RangeError);
    assert.throws(() => createPeriodClock('+05:30'), RangeError);
  });
});

describe('createPeriodClock', () => {
  test('agrees with periodWindow while time moves forward and back across boundaries', () => {
    // A deterministic walk of small jumps either way (up to ±40h), to cross windows both ways.
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (const zone of ['UTC', 'America/Santiago', 'Australia/Lord_Howe', 'Asia/Kathmandu']) {
      const clock = createPeriodClock(zone);
      assert.equal(clock.timeZone, zone);
      let now = Date.parse('2024-02-20T00:00:00Z');
      for (let i = 0; i < 250; i++) {
        now += Math.round((random() - 0.4) * 40 * HOUR);
        for (const period of ['daily', 'weekly', 'monthly', 'lifetime'] as const) {
          const w = periodWindow(period, now, zone);
          assert.deepEqual(clock.window(period, now), w, `${zone} ${period} at ${new Date(now).toISOString()}`);
          if (w.end !== null) {
            assert.deepEqual(clock.window(period, w.end - 1), w);
            assert.deepEqual(clock.window(period, w.end), periodWindow(period, w.end, zone));
            assert.deepEqual(clock.window(period, w.start), w);
            assert.deepEqual(clock.window(period, w.start - 1), periodWindow(period, w.start - 1, zone));
          }
        }
      }
    }
  });

  test('inside the current window it returns the same object and does no Intl work', (t) => {
    const clock = createPeriodClock('Europe/Berlin');
    const now = Date.parse('2024-10-27T12:00:00Z');
    const windows = CALENDAR_PERIODS.map((period) => clock.window(period, now));
    const formatToParts = t.mock.method(Intl.DateTimeFormat.prototype, 'formatToParts');
    for (let dt = 0; dt < 10 * HOUR; dt += 60_000) {
      CALENDAR_PERIODS.forEach((period, i) => assert.equal(clock.window(period, now + dt), windows[i]));
    }
    assert.equal(formatToParts.mock.callCount(), 0);
    clock.window('daily', windows[0]!.end!);
    assert.ok(formatToParts.mock.callCount() > 0, 'leaving the window recomputes it');
  });

  test('creates one Intl.DateTimeFormat per zone, not per call', (t) => {
    const constructed = t.mock.method(Intl, 'DateTimeFormat');
    const zone = 'Asia/Tokyo'; // used by no other test in this file
    const start = Date.parse('2024-01-01T00:00:00Z');
    for (let i = 0; i < 50; i++) periodWindow('monthly', start + i * 5 * DAY, zone);
    createPeriodClock(zone).window('daily', start);
    isValidTimeZone(zone);
    assert.equal(constructed.mock.callCount(), 1);
  });
});
