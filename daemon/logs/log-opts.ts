// Log driver selection and log-opt checks, as dockerd: create-time validation
// (logger.ValidateLogOpts + jsonfilelog.ValidateLogOpt, 400 on failure) and start-time parsing
// of the values (jsonfilelog.New, "failed to initialize logging driver: …", 500 on failure).
// Berth implements the json-file and none drivers; any other name is answered as dockerd answers
// a driver that is not registered.
import { InvalidParameter, SystemError } from '../../lib/errors';

export type LogDriver = 'json-file' | 'none';
export const LOG_DRIVERS: readonly LogDriver[] = ['json-file', 'none'];
export const DEFAULT_LOG_DRIVER: LogDriver = 'json-file';

export interface LogConfig {
  driver: LogDriver;
  /** Bytes; -1 = no rotation. */
  maxSize: number;
  maxFile: number;
  compress: boolean;
  mode: 'blocking' | 'non-blocking';
  /** Bytes held for a slow sink in non-blocking mode (default 1m). */
  maxBufferSize: number;
  /** The options as given (labels, env, env-regex, labels-regex, tag feed extraAttributes). */
  opts: Record<string, string>;
}

/** Options every driver takes (moby builtInLogOpts plus the log cache's). */
const BUILTIN_OPTS = new Set(['mode', 'max-buffer-size', 'cache-disabled', 'cache-max-size', 'cache-max-file', 'cache-compress']);
const CACHE_OPTS = new Set(['cache-disabled', 'cache-max-size', 'cache-max-file', 'cache-compress']);
const JSON_FILE_OPTS = new Set(['env', 'env-regex', 'labels', 'labels-regex', 'tag', 'max-file', 'max-size', 'compress']);
const DEFAULT_MAX_BUFFER_SIZE = 1_000_000;

// ---- Go parsing helpers, with Go's error texts ----

const GO_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseGoFloat(s: string): number {
  if (!GO_FLOAT.test(s)) throw new Error(`strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax`);
  const v = Number(s);
  if (!Number.isFinite(v)) throw new Error(`strconv.ParseFloat: parsing ${goQuote(s)}: value out of range`);
  return v;
}

/** strconv.Quote for the ASCII texts that show up here. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

export function parseGoBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new Error(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
}

function parseGoAtoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.Atoi: parsing ${goQuote(s)}: invalid syntax`);
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw new Error(`strconv.Atoi: parsing ${goQuote(s)}: value out of range`);
  return v;
}

const DECIMAL: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };
const BINARY: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** go-units parseSize: "<number>[ ][unit][b|ib]", units k m g t p, case-insensitive. */
function parseSize(sizeStr: string, units: Record<string, number>): number {
  let sep = -1;
  for (let i = sizeStr.length - 1; i >= 0; i--) {
    if ('01234567890. '.includes(sizeStr[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${sizeStr}'`);
  const num = sizeStr[sep] !== ' ' ? sizeStr.slice(0, sep + 1) : sizeStr.slice(0, sep);
  let sfx = sizeStr.slice(sep + 1);
  let size = parseGoFloat(num);
  if (size < 0) throw new Error(`invalid size: '${sizeStr}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = (): Error => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const mul = units[sfx[0]!];
  if (mul === undefined) throw bad();
  size *= mul;
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw bad();
  return Math.trunc(size);
}

/** go-units FromHumanSize (decimal units: 10m = 10,000,000), which json-file uses for max-size. */
export function fromHumanSize(s: string): number {
  return parseSize(s, DECIMAL);
}

/** go-units RAMInBytes (binary units: 1m = 1,048,576), used for max-buffer-size. */
export function ramInBytes(s: string): number {
  return parseSize(s, BINARY);
}

// ---- validation ----

function unknownDriver(name: string): InvalidParameter {
  return new InvalidParameter(`logger: no log driver named '${name}' is registered`);
}

/** Create-time checks (dockerd ValidateLogOpts): InvalidParameter with dockerd's messages. */
export function validateLogOpts(driver: string, opts: Record<string, string>): void {
  if (driver === 'none') return;
  const mode = opts['mode'] ?? '';
  if (mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') {
    throw new InvalidParameter(`logger: logging mode not supported: ${mode}`);
  }
  const mbs = opts['max-buffer-size'];
  if (mbs !== undefined) {
    if (mode !== 'non-blocking') {
      throw new InvalidParameter("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
    }
    try {
      ramInBytes(mbs);
    } catch (err) {
      throw new InvalidParameter(`error parsing option max-buffer-size: ${(err as Error).message}`);
    }
  }
  const cacheDisabled = opts['cache-disabled'];
  if (cacheDisabled) {
    try {
      parseGoBool(cacheDisabled);
    } catch {
      throw new InvalidParameter(`invalid value for option cache-disabled: ${cacheDisabled}`);
    }
  }
  if (driver !== 'json-file') throw unknownDriver(driver);
  // Go walks a map (random order); the first unknown key in sorted order keeps answers stable.
  for (const key of Object.keys(opts).sort()) {
    if (BUILTIN_OPTS.has(key) || JSON_FILE_OPTS.has(key)) continue;
    throw new InvalidParameter(`unknown log opt '${key}' for json-file log driver`);
  }
  // dockerd checks these values only when the driver is created at start (a 500 then, and a
  // container that can never start); Berth refuses them at create with the same texts.
  try {
    jsonFileValues(opts);
  } catch (err) {
    throw new InvalidParameter((err as Error).message);
  }
}

/** json-file's rotation values with jsonfilelog.New's checks and texts (plain Errors). */
function jsonFileValues(opts: Record<string, string>): { maxSize: number; maxFile: number; compress: boolean } {
  let maxSize = -1;
  let maxFile = 1;
  let compress = false;
  const ms = opts['max-size'];
  if (ms !== undefined) {
    maxSize = fromHumanSize(ms);
    if (maxSize <= 0) throw new Error('max-size must be a positive number');
  }
  const mf = opts['max-file'];
  if (mf !== undefined) {
    maxFile = parseGoAtoi(mf);
    if (maxFile < 1) throw new Error('max-file cannot be less than 1');
  }
  const c = opts['compress'];
  if (c !== undefined) {
    compress = parseGoBool(c);
    if (compress && (maxFile === 1 || maxSize === -1)) {
      throw new Error('compress cannot be true when max-file is less than 2 or max-size is not set');
    }
  }
  return { maxSize, maxFile, compress };
}

function startFailure(err: unknown): SystemError {
  return new SystemError(`failed to initialize logging driver: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * The log configuration a container starts with: validateLogOpts, then the values parsed as the
 * json-file driver does when it is created. Value errors are what dockerd reports at start.
 */
export function parseLogOpts(driver: string, opts: Record<string, string>): LogConfig {
  // Records stored before the values were checked at create still fail here, as dockerd's start.
  let values: { maxSize: number; maxFile: number; compress: boolean } | undefined;
  if (driver === 'json-file') {
    try {
      values = jsonFileValues(opts);
    } catch (err) {
      throw startFailure(err);
    }
  }
  validateLogOpts(driver, opts);
  const mode = opts['mode'] === 'non-blocking' ? 'non-blocking' : 'blocking';
  const maxBufferSize = opts['max-buffer-size'] !== undefined ? ramInBytes(opts['max-buffer-size']) : DEFAULT_MAX_BUFFER_SIZE;
  const base: LogConfig = { driver: 'none', maxSize: -1, maxFile: 1, compress: false, mode, maxBufferSize, opts: { ...opts } };
  if (driver === 'none' || !values) return base;
  return { ...base, driver: 'json-file', ...values };
}

/** HostConfig.LogConfig as the API carries it. */
export interface ApiLogConfig {
  Type?: string;
  Config?: Record<string, string> | null;
}

/**
 * dockerd mergeAndVerifyLogConfig: an empty type takes the daemon's default driver; a container
 * on the default driver inherits default options it does not set itself, and every container
 * inherits the default log-cache options. Validates the result.
 */
export function mergeLogConfig(cfg: ApiLogConfig, defaults: { Type: string; Config: Record<string, string> }): { Type: string; Config: Record<string, string> } {
  const type = cfg.Type || defaults.Type;
  const config: Record<string, string> = { ...(cfg.Config ?? {}) };
  for (const [k, v] of Object.entries(defaults.Config)) {
    if (k in config) continue;
    if (type === defaults.Type || CACHE_OPTS.has(k)) config[k] = v;
  }
  validateLogOpts(type, config);
  return { Type: type, Config: config };
}
