// Go's time.ParseDuration ("1h30m", "1.5s", "300ms"), in nanoseconds, with Go's error texts.
// Used for Dockerfile-style HEALTHCHECK options and for relative times in API filters.

import { goQuote } from '../lib/go-quote';

export class DurationError extends Error {}

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n],
  ['\u03bcs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const MAX_INT64 = 9_223_372_036_854_775_807n;

/** Nanoseconds of a Go duration; throws DurationError with Go's message when it is not one. */
export function parseGoDuration(orig: string): bigint {
  const invalid = (): DurationError => new DurationError(`time: invalid duration ${goQuote(orig)}`);
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s);
    const intPart = m?.[1] ?? '';
    const fracPart = m?.[2];
    if (intPart === '' && (fracPart === undefined || fracPart === '')) throw invalid();
    s = s.slice(m?.[0].length ?? 0);
    const unit = /^[^0-9.]*/.exec(s)?.[0] ?? '';
    if (unit === '') throw new DurationError(`time: missing unit in duration ${goQuote(orig)}`);
    s = s.slice(unit.length);
    const scale = UNITS.get(unit);
    if (scale === undefined) throw new DurationError(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(orig)}`);
    let v = BigInt(intPart === '' ? '0' : intPart) * scale;
    if (fracPart !== undefined && fracPart !== '') v += (BigInt(fracPart) * scale) / 10n ** BigInt(fracPart.length);
    total += v;
    if (total > MAX_INT64) throw invalid();
  }
  return neg ? -total : total;
}

/** The duration in nanoseconds, or undefined when `value` is not a Go duration. */
export function tryParseGoDuration(value: string): bigint | undefined {
  try {
    return parseGoDuration(value);
  } catch (err) {
    if (err instanceof DurationError) return undefined;
    throw err;
  }
}

/** Go's time.Duration.String ("30s", "1m30s", "1.5ms", "0s") for nanoseconds. */
export function formatGoDuration(ns: bigint | number): string {
  let u = BigInt(ns);
  if (u === 0n) return '0s';
  const sign = u < 0n ? '-' : '';
  if (u < 0n) u = -u;
  // `v` scaled down by 10^digits, the fraction's trailing zeros dropped (Go's fmtFrac).
  const frac = (v: bigint, digits: number): string => {
    const scale = 10n ** BigInt(digits);
    const f = (v % scale).toString().padStart(digits, '0').replace(/0+$/, '');
    return `${v / scale}${f ? `.${f}` : ''}`;
  };
  if (u < 1_000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${frac(u, 3)}\u00b5s`;
  if (u < 1_000_000_000n) return `${sign}${frac(u, 6)}ms`;
  const h = u / 3_600_000_000_000n;
  u -= h * 3_600_000_000_000n;
  const m = u / 60_000_000_000n;
  u -= m * 60_000_000_000n;
  const s = `${frac(u, 9)}s`;
  if (h > 0n) return `${sign}${h}h${m}m${s}`;
  if (m > 0n) return `${sign}${m}m${s}`;
  return `${sign}${s}`;
}
