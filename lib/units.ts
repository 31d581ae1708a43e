// docker/go-units v0.5.0 (the release moby vendors): human sizes parsed ("64m", "1.5 GiB") and
// printed ("1.5GB"), with its error texts, which dockerd passes on to clients.
import { parseFloat64 } from './go-strconv';

const DECIMAL_UNITS: Readonly<Record<string, number>> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };
const BINARY_UNITS: Readonly<Record<string, number>> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
const DECIMAL_ABBRS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

const INT64_MIN = -(2 ** 63);

/** Go's int64(f) on amd64: truncation, and the "integer indefinite" min int64 when out of range. */
function toInt64(f: number): number {
  const t = Math.trunc(f);
  return Number.isFinite(t) && t < 2 ** 63 && t >= INT64_MIN ? t : INT64_MIN;
}

/**
 * go-units parseSize: "<number>[ ][k|m|g|t|p][i][b]", suffix case-insensitive, the number as Go's
 * ParseFloat reads it. Throws "invalid size: '…'", "invalid suffix: '…'" or a StrconvError.
 */
function parseSize(sizeStr: string, units: Readonly<Record<string, number>>): number {
  let sep = -1;
  for (let i = sizeStr.length - 1; i >= 0 && sep < 0; i--) if ('0123456789. '.includes(sizeStr[i]!)) sep = i;
  if (sep === -1) throw new Error(`invalid size: '${sizeStr}'`);
  // A space ends the number and is not part of either half.
  const num = sizeStr[sep] === ' ' ? sizeStr.slice(0, sep) : sizeStr.slice(0, sep + 1);
  let sfx = sizeStr.slice(sep + 1);
  let size = parseFloat64(num);
  if (size < 0) throw new Error(`invalid size: '${sizeStr}'`);
  if (sfx.length === 0) return toInt64(size);
  const badSuffix = (): Error => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw badSuffix();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw badSuffix();
    return toInt64(size);
  }
  const mul = units[sfx[0]!];
  if (mul === undefined) throw badSuffix();
  size *= mul;
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw badSuffix();
  return toInt64(size);
}

/** go-units FromHumanSize: decimal multiples whatever the suffix ("10m" and "10MiB" are 10,000,000). */
export function fromHumanSize(s: string): number {
  return parseSize(s, DECIMAL_UNITS);
}

/** go-units RAMInBytes: binary multiples ("1m" is 1,048,576). */
export function ramInBytes(s: string): number {
  return parseSize(s, BINARY_UNITS);
}

/** Go's %.4g: four significant digits, trailing zeros dropped, exponent form once rounding reaches 1e4. */
function formatG4(v: number): string {
  const rounded = Number(v.toPrecision(4));
  if (rounded !== 0 && (Math.abs(rounded) >= 1e4 || Math.abs(rounded) < 1e-4)) {
    const [mant = '', exp = '0'] = rounded.toExponential(3).split('e');
    const e = Number(exp);
    return `${mant.replace(/\.?0+$/, '')}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return String(rounded);
}

/** go-units HumanSize: decimal units, four significant digits ("1.049MB", "796kB", "0B"). */
export function humanSize(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < DECIMAL_ABBRS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${formatG4(v)}${DECIMAL_ABBRS[i]!}`;
}

/** go-units' ulimit names (ParseUlimit's ulimitNameMapping), for --ulimit and --default-ulimit. */
export const ULIMIT_NAMES: ReadonlySet<string> = new Set([
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);
