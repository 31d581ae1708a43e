// daemon.json: reading (UTF-8/UTF-16 with BOM), flattening, typing each key, and the conflicts
// with flags (dockerd's findConfigurationConflicts, printed as Go's %v prints the values).

import * as fs from 'node:fs';
import { ConfigError, type JsonValue, type Layer, type PoolValue, type Ulimit, type Value, isRecord } from './types';
import { BY_FLAG, BY_KEY, FLAT_KEYS, type Option } from './options';
import type { CliResult } from './cli';
import { ramInBytes } from '../../lib/units';
import { checkUlimit } from './checks';
import { compareStrings } from '../../lib/order';

const describe = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'object'
        ? 'an object'
        : `a ${typeof v === 'boolean' ? 'boolean' : typeof v}`;

function decodeConfigText(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Reads a file as dockerd does: UTF-8, UTF-8 with BOM, or UTF-16 LE/BE with BOM. */
export function defaultReadFile(p: string): string {
  const buf = fs.readFileSync(p);
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return buf.subarray(2).toString('utf16le');
  if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) {
    const swapped = Buffer.from(buf.subarray(2));
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  return buf.toString('utf8');
}

/** Top-level keys plus the contents of non-flat objects (e.g. "proxies"), as dockerd's configValuesSet. */
function flattenFile(obj: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(obj)) {
    if (isRecord(v) && !FLAT_KEYS.has(k)) {
      for (const [k2, v2] of Object.entries(v)) out.set(k2, v2);
    } else {
      out.set(k, v);
    }
  }
  return out;
}

function fileValue(o: Option, v: unknown): Value {
  const k = o.key;
  const fail = (what: string): never => {
    throw new Error(`"${k}" must be ${what}, not ${describe(v)}`);
  };
  const str = (x: unknown, what: string): string => (typeof x === 'string' ? x : fail(what));
  switch (o.kind) {
    case 'string':
      return o.check ? o.check(str(v, 'a string')) : str(v, 'a string');
    case 'bool':
      return typeof v === 'boolean' ? v : fail('a boolean (true or false)');
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v) ? v : fail('an integer');
    case 'bytes':
      return ramInBytes(str(v, 'a size string such as "64m"'));
    case 'list': {
      if (!Array.isArray(v)) return fail('an array of strings');
      const bad = v.findIndex((x) => typeof x !== 'string');
      if (bad !== -1) throw new Error(`"${k}" must be an array of strings; element ${bad} is ${describe(v[bad])}`);
      return (v as string[]).map((x) => (o.check ? o.check(x) : x));
    }
    case 'map': {
      if (!isRecord(v)) return fail('an object of strings');
      const bad = Object.entries(v).find(([, x]) => typeof x !== 'string');
      if (bad) throw new Error(`"${k}" must be an object of strings; "${bad[0]}" is ${describe(bad[1])}`);
      return { ...(v as Record<string, string>) };
    }
    case 'mapmap': {
      if (!isRecord(v) || !Object.values(v).every((x) => isRecord(x) && Object.values(x).every((y) => typeof y === 'string'))) {
        return fail('an object of objects of strings');
      }
      return v as Record<string, Record<string, string>>;
    }
    case 'ulimit': {
      if (!isRecord(v)) return fail('an object such as {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}');
      const out: Record<string, Ulimit> = {};
      for (const [name, u] of Object.entries(v)) {
        if (!isRecord(u)) throw new Error(`"${k}.${name}" must be an object with Name, Soft and Hard, not ${describe(u)}`);
        const field = (f: string): unknown => Object.entries(u).find(([fk]) => fk.toLowerCase() === f)?.[1];
        const num = (f: string): number => {
          const x = field(f);
          if (x === undefined) return 0;
          if (typeof x !== 'number' || !Number.isSafeInteger(x))
            throw new Error(`"${k}.${name}.${f}" must be an integer, not ${describe(x)}`);
          return x;
        };
        const given = field('name');
        if (given !== undefined && given !== name) throw new Error(`"${k}.${name}.Name" must be "${name}", not ${JSON.stringify(given)}`);
        out[name] = checkUlimit({ Name: name, Soft: num('soft'), Hard: num('hard') });
      }
      return out;
    }
    case 'pool': {
      if (!Array.isArray(v)) return fail('an array of {"base": CIDR, "size": prefix length}');
      return v.map((p, i) => {
        if (!isRecord(p)) throw new Error(`"${k}[${i}]" must be an object with base and size, not ${describe(p)}`);
        const field = (f: string): unknown => Object.entries(p).find(([fk]) => fk.toLowerCase() === f)?.[1];
        const base = field('base');
        const size = field('size');
        if (typeof base !== 'string') throw new Error(`"${k}[${i}].base" must be a string, not ${describe(base)}`);
        if (typeof size !== 'number' || !Number.isSafeInteger(size))
          throw new Error(`"${k}[${i}].size" must be an integer, not ${describe(size)}`);
        return { base, size };
      });
    }
    case 'json':
      return v as JsonValue;
  }
}

export interface FileResult {
  layer: Layer;
  /** Every key set in the file (after flattening), with its JSON value, for conflict reports. */
  raw: Map<string, unknown>;
  warnings: string[];
}

export function loadFile(file: string, text: string): FileResult {
  const wrap = (msg: string): ConfigError => new ConfigError(`unable to configure the Docker daemon with file ${file}: ${msg}`);
  const body = decodeConfigText(text).trim();
  const layer: Layer = new Map();
  const raw = new Map<string, unknown>();
  if (body === '') return { layer, raw, warnings: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw wrap(`invalid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(parsed)) throw wrap(`the configuration must be a JSON object, not ${describe(parsed)}`);

  const unknown: string[] = [];
  const ignored: string[] = [];
  const misnamed: string[] = [];
  const refused: string[] = [];
  for (const [key, value] of flattenFile(parsed)) {
    if (value === null) continue; // as Go's decoder: null leaves the default in place
    const o = BY_KEY.get(key);
    if (!o) {
      const byFlag = BY_FLAG.get(key);
      if (byFlag && byFlag.support !== 'cli' && byFlag.key !== key) misnamed.push(`${key} (the key is "${byFlag.key}")`);
      else unknown.push(key);
      continue;
    }
    raw.set(key, value);
    if (o.support === 'warn') {
      ignored.push(key);
      continue;
    }
    if (o.support === 'refuse') {
      if (isSet(value)) refused.push(key);
      continue;
    }
    try {
      layer.set(key, fileValue(o, value));
    } catch (err) {
      throw wrap((err as Error).message);
    }
  }
  if (refused.length > 0) throw wrap(refusalMessage(refused));
  const warnings: string[] = [];
  const all = [...unknown.sort(), ...misnamed.sort()];
  if (all.length > 0)
    warnings.push(`${file}: the following directives don't match any configuration option and are ignored: ${all.join(', ')}`);
  if (ignored.length > 0)
    warnings.push(`${file}: the following directives are not supported by Berth and are ignored: ${ignored.sort().join(', ')}`);
  return { layer, raw, warnings };
}

export function isSet(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.length > 0;
  return v !== null && v !== undefined;
}

export function refusalMessage(keys: string[]): string {
  return `not supported by Berth, refusing to start rather than ignore: ${keys.join(', ')}`;
}

function goFormat(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  if (isRecord(v)) {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goFormat(v[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}

function flagString(o: Option, v: Value): string {
  switch (o.kind) {
    case 'ulimit':
      return `[${Object.keys(v as Record<string, Ulimit>)
        .sort()
        .map((n) => {
          const u = (v as Record<string, Ulimit>)[n];
          return `${u.Name}=${u.Soft}:${u.Hard}`;
        })
        .join(' ')}]`;
    case 'pool':
      return (v as PoolValue[]).map((p) => `${p.base} ${p.size}`).join(', ');
    default:
      return goFormat(v);
  }
}

/** user:password in a proxy URL is printed as xxxxx:xxxxx, as dockerd's MaskCredentials. */
function maskCredentials(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username === '' && u.password === '') return raw;
    u.username = 'xxxxx';
    u.password = 'xxxxx';
    return u.toString();
  } catch {
    return raw;
  }
}

export function findConflicts(cli: CliResult, file: FileResult): string[] {
  const conflicts: string[] = [];
  const flags = [...cli.given].filter((o) => o.support !== 'cli').sort((a, b) => compareStrings(a.flag as string, b.flag as string));
  for (const o of flags) {
    if (!file.raw.has(o.key)) continue;
    let flagValue = flagString(o, cli.layer.get(o.key) as Value);
    let fileValue = goFormat(file.raw.get(o.key));
    if (o.key === 'http-proxy' || o.key === 'https-proxy') {
      flagValue = maskCredentials(flagValue);
      fileValue = maskCredentials(fileValue);
    }
    conflicts.push(`${o.key}: (from flag: ${flagValue}, from file: ${fileValue})`);
  }
  return conflicts;
}
