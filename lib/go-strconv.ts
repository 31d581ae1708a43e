// Go's strconv parsers that dockerd applies to user input, with their error texts
// (`strconv.ParseBool: parsing "x": invalid syntax`), because those texts reach clients verbatim.
import { goQuote } from './go-quote';

type NumErrorReason = 'invalid syntax' | 'value out of range';

/** Go's *strconv.NumError: the message is the text dockerd passes on. */
export class StrconvError extends Error {
  constructor(
    readonly func: string,
    readonly input: string,
    readonly reason: NumErrorReason,
  ) {
    super(`strconv.${func}: parsing ${goQuote(input)}: ${reason}`);
  }
}

/** strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False; nothing else. */
export function tryParseBool(s: string): boolean | undefined {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
    default:
      return undefined;
  }
}

/** strconv.ParseBool; throws StrconvError ("invalid syntax") for anything else. */
export function parseBool(s: string): boolean {
  const b = tryParseBool(s);
  if (b === undefined) throw new StrconvError('ParseBool', s, 'invalid syntax');
  return b;
}

/** A digit's value in bases up to 36, or 36 for anything else. */
function digitValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x7a ? lower - 0x61 + 10 : 36;
}

/**
 * strconv.ParseInt(s, base, bitSize), exactly: an optional sign; with base 0 the prefix picks the
 * base (0x, 0o, 0b, a leading 0 for octal, else 10) and "_" may separate digits. Throws
 * StrconvError under `func`'s name ("invalid syntax", or "value out of range", which Go reports
 * as soon as the digits read so far overflow).
 */
export function parseGoInt(s: string, base = 10, bitSize = 64, func = 'ParseInt'): bigint {
  const syntax = (): StrconvError => new StrconvError(func, s, 'invalid syntax');
  const range = (): StrconvError => new StrconvError(func, s, 'value out of range');
  let rest = s;
  const neg = rest[0] === '-';
  if (neg || rest[0] === '+') rest = rest.slice(1);
  if (rest === '') throw syntax();
  const base0 = base === 0;
  let b = base;
  const unsigned = rest;
  if (base0) {
    b = 10;
    if (rest[0] === '0') {
      const prefix = rest.length >= 3 ? { b: 2, o: 8, x: 16 }[rest[1]!.toLowerCase()] : undefined;
      b = prefix ?? 8;
      rest = rest.slice(prefix === undefined ? 1 : 2);
    }
  }
  const bits = BigInt(bitSize === 0 ? 64 : bitSize);
  const maxUint = (1n << bits) - 1n;
  let n = 0n;
  let overflow = false;
  let underscores = false;
  for (const c of rest) {
    if (c === '_' && base0) {
      underscores = true;
      continue;
    }
    if (digitValue(c) >= b) throw syntax();
    n = n * BigInt(b) + BigInt(digitValue(c));
    if (n > maxUint) {
      overflow = true;
      break;
    }
  }
  if (!overflow && underscores && !underscoreOK(unsigned)) throw syntax();
  const cutoff = 1n << (bits - 1n);
  if (overflow || (!neg && n >= cutoff) || (neg && n > cutoff)) throw range();
  return neg ? -n : n;
}

/** strconv.Atoi: ParseInt(s, 10, 0), its errors named Atoi. Beyond 2^53 the number is rounded. */
export function atoi(s: string): number {
  return Number(parseGoInt(s, 10, 64, 'Atoi'));
}

/** Go's underscoreOK: "_" only between digits, or between a base prefix and a digit. */
function underscoreOK(text: string): boolean {
  let s = text;
  if (s[0] === '+' || s[0] === '-') s = s.slice(1);
  let saw = '^';
  let i = 0;
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'bBoOxX'.includes(s[1]!)) {
    i = 2;
    saw = '0';
    hex = s[1] === 'x' || s[1] === 'X';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) saw = '0';
    else if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
    } else if (saw === '_') return false;
    else saw = '!';
  }
  return saw !== '_';
}

const SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;
const DECIMAL = /^[+-]?([0-9_]*\.?[0-9_]*)(?:[eE][+-]?[0-9_]+)?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F_]*\.?[0-9a-fA-F_]*)[pP]([+-]?[0-9_]+)$/;

/** x * 2^e, scaling in steps so no intermediate power of two overflows. */
function scale2(x: number, e: number): number {
  let v = x;
  let k = e;
  for (; k > 1000 && Number.isFinite(v); k -= 1000) v *= 2 ** 1000;
  for (; k < -1000 && v !== 0; k += 1000) v /= 2 ** 1000;
  return v * 2 ** k;
}

/** A hexadecimal float's mantissa digits times 2^exp. */
function hexFloat(mantissa: string, exp: number): number {
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  let e = exp - (dot < 0 ? 0 : 4 * (mantissa.length - dot - 1));
  let m = BigInt(`0x${digits}`);
  // 64 significant bits are more than a float64 keeps; the rest cannot change the result
  // except in a tie, which this truncation resolves downwards.
  const bits = m.toString(2).length;
  if (bits > 64) {
    m >>= BigInt(bits - 64);
    e += bits - 64;
  }
  return scale2(Number(m), e);
}

/**
 * strconv.ParseFloat(s, 64): decimal and hexadecimal (0x1p-2) literals with Go's underscores,
 * "inf"/"infinity" (signed) and "nan" in any case. Throws StrconvError: "invalid syntax", or
 * "value out of range" when the value overflows a float64 (underflow is a silent 0, as in Go).
 */
export function parseFloat64(s: string): number {
  const special = SPECIAL.exec(s);
  if (special) {
    if (special[2]!.toLowerCase() !== 'nan') return special[1] === '-' ? -Infinity : Infinity;
    if (special[1] === '') return Number.NaN;
  }
  const hex = HEX.exec(s);
  const mantissa = hex ? hex[2]! : DECIMAL.exec(s)?.[1];
  const digitPattern = hex ? /[0-9a-fA-F]/ : /[0-9]/;
  if (mantissa === undefined || !digitPattern.test(mantissa) || (s.includes('_') && !underscoreOK(s))) {
    throw new StrconvError('ParseFloat', s, 'invalid syntax');
  }
  let v: number;
  if (hex) {
    v = hexFloat(mantissa.replaceAll('_', ''), Number(hex[3]!.replaceAll('_', '')));
    if (hex[1] === '-') v = -v;
  } else v = Number(s.replaceAll('_', ''));
  if (!Number.isFinite(v)) throw new StrconvError('ParseFloat', s, 'value out of range');
  return v;
}
