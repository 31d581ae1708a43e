// Docker's int64 (and uint64) fields carried exactly. A double holds integers only up to 2^53,
// while dockerd accepts e.g. "Memory": 9223372036854775807 and shows it back digit for digit.
// Such a field is an Int64: a plain number while it is a safe integer (nearly always), a bigint
// only beyond ±2^53, so code that merely compares keeps working (JS compares bigint with number
// exactly) and only arithmetic needs the helpers below. Stored and answered JSON goes through
// exactStringify / exactParse, which write and read those bigints as bare digits.
import { parse as losslessParse } from 'lossless-json';

export type Int64 = number | bigint;

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** The canonical form: a number when exact as a double, else the bigint. */
export function int64(v: bigint): Int64 {
  return v > SAFE_MAX || v < -SAFE_MAX ? v : Number(v);
}

/** Go's int64 arithmetic wraps; Memory 2^63-1 doubled for the swap default is -2 in dockerd. */
export function mulInt64(a: Int64, b: Int64): Int64 {
  return int64(BigInt.asIntN(64, BigInt(a) * BigInt(b)));
}

/** A JSON value written like JSON.stringify, except bigints appear as their exact digits. */
export function exactStringify(value: unknown): string {
  // Nearly every value holds no bigint: the native stringify, without a replacer call per key,
  // then takes a fraction of the time. It throws a TypeError on a bigint (nothing defines
  // BigInt.prototype.toJSON), and only then the replacer below is needed.
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
  let tag: string | undefined;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    // A random tag per call: no client string can forge it.
    tag ??= `\u0000big${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}:`;
    return `${tag}${v.toString()}`;
  });
  if (tag === undefined) return text;
  const escaped = JSON.stringify(tag)
    .slice(1, -1)
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`"${escaped}(-?\\d+)"`, 'g'), '$1');
}

function parseNumber(text: string): Int64 {
  const n = Number(text);
  if (Number.isSafeInteger(n) || !/^-?\d+$/.test(text)) return n;
  return int64(BigInt(text));
}

/** JSON.parse for JSON written by exactStringify: integers beyond 2^53 come back as bigints. */
export function exactParse(text: string): unknown {
  // Without a value of 16+ digits there is no integer a double could round: the native parser is
  // exact. (Hex IDs inside strings follow '"', never ':' '[' ',', so they do not force the slow path.)
  if (!/(?:^|[:[,])\s*-?\d{16}/.test(text)) return JSON.parse(text) as unknown;
  return losslessParse(text, null, parseNumber);
}
