// Typed reads of query parameters with dockerd's parsing rules (httputils.BoolValue and
// friends). fastify's query parser yields a string, or an array when a key repeats; like Go's
// r.Form.Get, a single-valued read takes the first value.

import type { FastifyRequest } from 'fastify';
import { InvalidParameter } from '../lib/errors';
import { atoi, parseGoInt, StrconvError } from '../lib/go-strconv';
import { goQuote } from '../lib/go-quote';

export type Query = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The request's parsed query string. */
export function queryOf(request: FastifyRequest): Query {
  return (request.query ?? {}) as Query;
}

/** First value of `key`, or undefined when absent (like r.Form.Get, but telling absent from ""). */
export function queryString(query: Query, key: string): string | undefined {
  const v = query[key];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  return v.length > 0 ? v[0] : undefined;
}

/** Every value given for `key` (repeated keys), in order. */
export function queryValues(query: Query, key: string): string[] {
  const v = query[key];
  if (v === undefined) return [];
  return typeof v === 'string' ? [v] : [...v];
}

export function queryHas(query: Query, key: string): boolean {
  return query[key] !== undefined;
}

/** httputils.BoolValue: "", "0", "no", "false", "none" (any case, trimmed) are false; anything else true. */
export function parseBool(value: string | undefined): boolean {
  switch ((value ?? '').trim().toLowerCase()) {
    case '':
    case '0':
    case 'no':
    case 'false':
    case 'none':
      return false;
    default:
      return true;
  }
}

export function boolValue(query: Query, key: string): boolean {
  return parseBool(queryString(query, key));
}

/** httputils.BoolValueOrDefault: the default only when the key is absent altogether. */
export function boolValueOrDefault(query: Query, key: string, def: boolean): boolean {
  return queryHas(query, key) ? boolValue(query, key) : def;
}

/**
 * strconv.ParseInt(s, 10, 64) with Go's error text ("strconv.ParseInt: parsing "x": invalid
 * syntax" / "value out of range"), thrown as InvalidParameter. Values beyond 2^53 lose precision
 * in the returned number; use parseInt64BigInt when that matters.
 */
export function parseInt64(value: string): number {
  return Number(parseInt64BigInt(value));
}

export function parseInt64BigInt(value: string): bigint {
  return asInvalidParameter(() => parseGoInt(value, 10, 64));
}

/** strconv.Atoi as handlers apply it to a parameter: Go's error text, as InvalidParameter. */
export function atoiValue(value: string): number {
  return asInvalidParameter(() => atoi(value));
}

/**
 * A TTY dimension of a resize (`h`, `w`), as current moby's routes read it: an integer from 0 to
 * 2^32-1, else 400 `invalid resize height "x": invalid syntax` (absent counts as "") or
 * `...: value out of range` (negative ones too). dockerd 20.10 took any int and wrapped it.
 */
export function resizeDimension(query: Query, key: 'h' | 'w'): number {
  const v = queryString(query, key) ?? '';
  const invalid = (reason: string): InvalidParameter =>
    new InvalidParameter(`invalid resize ${key === 'h' ? 'height' : 'width'} ${goQuote(v)}: ${reason}`);
  let n: number;
  try {
    n = atoi(v);
  } catch (err) {
    if (err instanceof StrconvError) throw invalid(err.reason);
    throw err;
  }
  if (n < 0 || n > 0xffff_ffff) throw invalid('value out of range');
  return n;
}

function asInvalidParameter<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw err instanceof StrconvError ? new InvalidParameter(err.message) : err;
  }
}

/** httputils.Int64ValueOrDefault: the default when absent or empty, 400 when not an integer. */
export function int64ValueOrDefault(query: Query, key: string, def: number): number {
  const v = queryString(query, key);
  if (v === undefined || v === '') return def;
  return parseInt64(v);
}

/** httputils.Int64ValueOrZero: 0 when absent, empty or not an integer. */
export function int64ValueOrZero(query: Query, key: string): number {
  const v = queryString(query, key);
  if (v === undefined || v === '') return 0;
  try {
    return Number(parseGoInt(v, 10, 64));
  } catch {
    return 0;
  }
}

/**
 * httputils.Uint32Value: a non-negative 32-bit integer; "invalid syntax" / "value out of range"
 * (Go's bare strconv errors, as dockerd returns them) for anything else, including absent.
 */
export function uint32Value(query: Query, key: string): number {
  const raw = queryString(query, key) ?? '';
  const neg = raw.startsWith('-');
  const v = neg ? raw.slice(1) : raw;
  if (v === '' || !/^[0-9]+$/.test(v)) throw new InvalidParameter('invalid syntax');
  const n = BigInt(v);
  if (n > 0xffffffffn) throw new InvalidParameter('value out of range');
  if (neg) throw new InvalidParameter('value out of range');
  return Number(n);
}

/** A path parameter by name (fastify has already decoded it). */
export function pathParam(request: FastifyRequest, name: string): string {
  const params = (request.params ?? {}) as Record<string, string | undefined>;
  return params[name] ?? '';
}
