// Nanosecond wall-clock times as Go's time package keeps and prints them (time.RFC3339Nano), for
// container state, events, stats and logs. Node's Date has milliseconds only, so times travel as
// { sec, nsec }; the sub-millisecond digits come from the monotonic clock, anchored to Date.now().

/** A point in time with nanosecond precision, as Go's time.Time; `sec` is Unix seconds. */
export interface NanoTime {
  sec: number;
  nsec: number;
}

const NS_PER_MS = 1_000_000n;
let baseWallNs = 0n;
let baseHr = 0n;
function resync(): void {
  baseHr = process.hrtime.bigint();
  baseWallNs = BigInt(Date.now()) * NS_PER_MS;
}
resync();

let lastNs = 0n;
/** How far back a re-anchoring may go before it counts as a clock step and is followed. */
const STEP_NS = 1_000_000_000n;

/**
 * The current wall-clock time with sub-millisecond digits: Date.now() anchored, advanced by the
 * monotonic clock, and re-anchored when the two drift more than a millisecond apart. Successive
 * values increase, unless the wall clock is stepped back by a second or more (then, as Go's
 * time.Now, they follow it).
 */
export function preciseNow(): NanoTime {
  let ns = baseWallNs + (process.hrtime.bigint() - baseHr);
  const drift = Number(ns / NS_PER_MS) - Date.now();
  if (drift > 1 || drift < -1) {
    resync();
    ns = baseWallNs;
  }
  // Re-anchoring after the monotonic clock ran ahead would step back by that drift.
  if (ns <= lastNs && lastNs - ns < STEP_NS) ns = lastNs + 1n;
  lastNs = ns;
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

/** The NanoTime one nanosecond after `t`. */
export function nextNanosecond(t: NanoTime): NanoTime {
  return t.nsec < 999_999_999 ? { sec: t.sec, nsec: t.nsec + 1 } : { sec: t.sec + 1, nsec: 0 };
}

/** A Date (plus optional exact nanoseconds within its second) as a NanoTime. */
export function nanoTimeOf(date: Date, nsec?: number): NanoTime {
  const ms = date.getTime();
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: nsec ?? (ms - sec * 1000) * 1_000_000 };
}

/** The Date for a NanoTime (sub-millisecond digits dropped). */
export function toDate(t: NanoTime): Date {
  return new Date(t.sec * 1000 + Math.floor(t.nsec / 1_000_000));
}

export function compareNanoTime(a: NanoTime, b: NanoTime): number {
  return a.sec !== b.sec ? a.sec - b.sec : a.nsec - b.nsec;
}

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;
function pad4(n: number): string {
  const s = String(n);
  return s.length >= 4 ? s : '0000'.slice(s.length) + s;
}

// Most timestamps in a burst share their second: keep the last one's text.
let cachedSec = Number.NaN;
let cachedPrefix = '';
function secondsPrefix(sec: number): string {
  if (sec !== cachedSec) {
    const d = new Date(sec * 1000);
    cachedPrefix =
      `${pad4(d.getUTCFullYear())}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
      `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
    cachedSec = sec;
  }
  return cachedPrefix;
}

function nanoDigits(nsec: number): string {
  const s = String(nsec);
  return '000000000'.slice(s.length) + s;
}

/**
 * formatRFC3339Nano's text written into `buf` at `at` (ASCII, at most 30 bytes; the caller makes
 * room); answers the offset after it. For writers that encode a timestamp per log entry.
 */
export function writeRFC3339Nano(t: NanoTime, buf: Uint8Array, at: number): number {
  const prefix = secondsPrefix(t.sec);
  let p = at;
  for (let i = 0; i < prefix.length; i++) buf[p++] = prefix.charCodeAt(i);
  let n = t.nsec;
  if (n !== 0) {
    let digits = 9;
    while (n % 10 === 0) {
      n /= 10;
      digits--;
    }
    buf[p] = 0x2e; // .
    for (let i = digits; i > 0; i--) {
      buf[p + i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    p += digits + 1;
  }
  buf[p++] = 0x5a; // Z
  return p;
}

/** Go's time.RFC3339Nano in UTC: fraction with trailing zeros trimmed, none at all for whole seconds. */
export function formatRFC3339Nano(t: NanoTime): string {
  if (t.nsec === 0) return secondsPrefix(t.sec) + 'Z';
  let digits = nanoDigits(t.nsec);
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === 0x30) end--;
  digits = digits.slice(0, end);
  return `${secondsPrefix(t.sec)}.${digits}Z`;
}

/** Go's time.RFC3339 in UTC: whole seconds ("2026-11-28T14:21:03Z"). */
export function formatRFC3339(date: Date): string {
  return secondsPrefix(Math.floor(date.getTime() / 1000)) + 'Z';
}

/** dockerd's rfc3339NanoFixed in UTC: always nine fractional digits. */
export function formatRFC3339NanoFixed(t: NanoTime): string {
  return `${secondsPrefix(t.sec)}.${nanoDigits(t.nsec)}Z`;
}

/**
 * time.Now().UTC().Format(time.RFC3339Nano): preciseNow's digits, so two calls in a row never
 * print an earlier time second (unless the wall clock itself is stepped back).
 */
export function nowRFC3339Nano(): string {
  return formatRFC3339Nano(preciseNow());
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
let parsedPrefix = '';
let parsedPrefixSec = 0;

/** Parses an RFC 3339 timestamp with any number of fractional digits (beyond nine are dropped, as Go). */
export function parseRFC3339Nano(s: string): NanoTime | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  let sec: number;
  const prefix = s.slice(0, 19);
  if (prefix === parsedPrefix) sec = parsedPrefixSec;
  else {
    const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return undefined;
    const date = new Date(0);
    date.setUTCFullYear(y, mo - 1, d);
    date.setUTCHours(h, mi, se, 0);
    if (date.getUTCDate() !== d) return undefined;
    sec = date.getTime() / 1000;
    parsedPrefix = prefix;
    parsedPrefixSec = sec;
  }
  if (m[9] !== undefined) {
    const offset = (Number(m[10]) * 60 + Number(m[11])) * 60;
    sec -= m[9] === '+' ? offset : -offset;
  }
  const frac = m[7];
  const nsec = frac === undefined ? 0 : Number(frac.length > 9 ? frac.slice(0, 9) : frac + '000000000'.slice(frac.length));
  return { sec, nsec };
}
