// Time values in query parameters and filters (`since`, `until`, `before`...), parsed as moby's
// timestamp.Parse does: a Go duration relative to now ("10m", "1h30m"), an RFC 3339 date or
// date-time in several partial forms (local time when no zone is given), or Unix seconds with
// optional fraction ("1700000000.123456789").

import { InvalidParameter } from '../lib/errors';
import { tryParseGoDuration } from '../daemon/go-duration';

/** A point in time with nanosecond precision. */
export class Timestamp {
  constructor(readonly unixNanos: bigint) {}

  static fromMillis(ms: number): Timestamp {
    return new Timestamp(BigInt(Math.trunc(ms)) * 1_000_000n);
  }

  get seconds(): number {
    return Number(floorDiv(this.unixNanos, 1_000_000_000n));
  }

  get nanos(): number {
    return Number(this.unixNanos - floorDiv(this.unixNanos, 1_000_000_000n) * 1_000_000_000n);
  }

  toMillis(): number {
    return Number(floorDiv(this.unixNanos, 1_000_000n));
  }

  /** "%d.%09d", the form moby's GetTimestamp hands around. */
  toUnixString(): string {
    return `${this.seconds}.${String(this.nanos).padStart(9, '0')}`;
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

interface Layout {
  name: string;
  re: RegExp;
}

const DATE = '([0-9]{4})-([0-9]{2})-([0-9]{2})';
const FRAC = '(?:[.,]([0-9]+))?';
const ZONE = '(Z|[+-][0-9]{2}:[0-9]{2})';

// Each layout captures year, month, day, [hour, [minute, [second, fraction]]], [zone].
const LAYOUTS: Readonly<Record<string, Layout>> = {
  nanoLocal: { name: '2006-01-02T15:04:05.999999999', re: new RegExp(`^${DATE}T([0-9]{1,2}):([0-9]{2}):([0-9]{2})${FRAC}$`) },
  nano: { name: '2006-01-02T15:04:05.999999999Z07:00', re: new RegExp(`^${DATE}T([0-9]{1,2}):([0-9]{2}):([0-9]{2})${FRAC}${ZONE}$`) },
  hourLocal: { name: '2006-01-02T15', re: new RegExp(`^${DATE}T([0-9]{1,2})$`) },
  minuteLocal: { name: '2006-01-02T15:04', re: new RegExp(`^${DATE}T([0-9]{1,2}):([0-9]{2})$`) },
  secondLocal: { name: '2006-01-02T15:04:05', re: new RegExp(`^${DATE}T([0-9]{1,2}):([0-9]{2}):([0-9]{2})${FRAC}$`) },
  hour: { name: '2006-01-02T15Z07:00', re: new RegExp(`^${DATE}T([0-9]{1,2})${ZONE}$`) },
  minute: { name: '2006-01-02T15:04Z07:00', re: new RegExp(`^${DATE}T([0-9]{1,2}):([0-9]{2})${ZONE}$`) },
  second: { name: '2006-01-02T15:04:05Z07:00', re: new RegExp(`^${DATE}T([0-9]{1,2}):([0-9]{2}):([0-9]{2})${FRAC}${ZONE}$`) },
  dateLocal: { name: '2006-01-02', re: new RegExp(`^${DATE}$`) },
  date: { name: '2006-01-02Z07:00', re: new RegExp(`^${DATE}${ZONE}$`) },
};

function daysIn(month: number, year: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Parses `value` against one layout; the zone offset (minutes east) applies when none is given. */
function parseLayout(value: string, layout: Layout, localOffsetMinutes: number, withZone: boolean): bigint {
  const m = layout.re.exec(value);
  const fail = (why: string): never => {
    throw new InvalidParameter(`parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout.name)}: ${why}`);
  };
  if (!m) return fail(`cannot parse ${JSON.stringify(value)} as ${JSON.stringify(layout.name)}`);
  const nums = m.slice(1);
  const zone = withZone ? nums.pop() : undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = nums.slice(0, 6).map((x) => (x === undefined ? 0 : Number(x)));
  const frac = nums.length >= 7 ? (nums[6] ?? '') : '';
  if (month < 1 || month > 12) fail('month out of range');
  if (day < 1 || day > daysIn(month, year)) fail('day out of range');
  if (hour > 23) fail('hour out of range');
  if (minute > 59) fail('minute out of range');
  if (second > 59) fail('second out of range');
  let offset = localOffsetMinutes;
  if (zone !== undefined) {
    offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  const nanosFrac = frac === '' ? 0n : BigInt(frac.slice(0, 9).padEnd(9, '0'));
  return BigInt(d.getTime()) * 1_000_000n - BigInt(offset) * 60_000_000_000n + nanosFrac;
}

/** moby's parseTimestamp: "seconds[.nanoseconds]". */
function parseUnixSeconds(value: string): bigint {
  const dot = value.indexOf('.');
  const s = dot === -1 ? value : value.slice(0, dot);
  const n = dot === -1 ? '' : value.slice(dot + 1);
  if (!/^[+-]?[0-9]+$/.test(s)) throw new InvalidParameter(`invalid seconds ${JSON.stringify(s)}: invalid syntax`);
  const sec = BigInt(s);
  if (sec > 2n ** 63n - 1n || sec < -(2n ** 63n)) throw new InvalidParameter(`invalid seconds ${JSON.stringify(s)}: value out of range`);
  if (n === '' || /^0+$/.test(n)) return sec * 1_000_000_000n;
  if (n.length > 20) throw new InvalidParameter(`invalid nanoseconds: length ${n.length} exceeds maximum 20`);
  const bad = /[^0-9]/.exec(n);
  if (bad) throw new InvalidParameter(`invalid nanoseconds: invalid character '${bad[0]}' at position ${bad.index}`);
  return sec * 1_000_000_000n + BigInt(n.slice(0, 9).padEnd(9, '0'));
}

/**
 * moby's timestamp.Parse. Durations count back from `reference` ("10m" = ten minutes before
 * it); dates without a zone are in the reference's local zone. Throws InvalidParameter.
 */
export function parseTimestamp(value: string, reference: Date = new Date()): Timestamp {
  if (value.trim() === '') throw new InvalidParameter('failed to parse value as time or duration: value is empty');
  if (value !== '0') {
    const d = tryParseGoDuration(value);
    if (d !== undefined) return new Timestamp(BigInt(reference.getTime()) * 1_000_000n - d);
  }
  const parseInLocation = !/[zZ+]/.test(value) && value.split('-').length - 1 !== 3;
  let layout: Layout;
  if (value.includes('.')) {
    layout = parseInLocation ? LAYOUTS.nanoLocal : LAYOUTS.nano;
  } else if (value.includes('T')) {
    let colons = value.split(':').length - 1;
    if (!parseInLocation && !/[zZ]/.test(value) && colons > 0) colons--; // the zone offset's colon
    if (parseInLocation) layout = colons === 0 ? LAYOUTS.hourLocal : colons === 1 ? LAYOUTS.minuteLocal : LAYOUTS.secondLocal;
    else layout = colons === 0 ? LAYOUTS.hour : colons === 1 ? LAYOUTS.minute : LAYOUTS.second;
  } else {
    layout = parseInLocation ? LAYOUTS.dateLocal : LAYOUTS.date;
  }
  try {
    return new Timestamp(parseLayout(value, layout, -reference.getTimezoneOffset(), !parseInLocation));
  } catch (err) {
    // With a '-' it was meant as a date: report the date error. Otherwise try Unix seconds.
    if (value.includes('-')) throw err;
    try {
      return new Timestamp(parseUnixSeconds(value));
    } catch (e) {
      throw new InvalidParameter(`failed to parse value as time or duration: ${(e as Error).message}`);
    }
  }
}

/** moby's ParseUnixTimestamp: "seconds[.nanoseconds]" only; "" means none (undefined). */
export function parseUnixTimestamp(value: string): Timestamp | undefined {
  if (value === '') return undefined;
  try {
    return new Timestamp(parseUnixSeconds(value));
  } catch (e) {
    throw new InvalidParameter(`invalid timestamp ${JSON.stringify(value)}: ${(e as Error).message}`);
  }
}
