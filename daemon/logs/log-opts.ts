// Log driver selection and log-opt checks, as dockerd: create-time validation
// (logger.ValidateLogOpts + jsonfilelog.ValidateLogOpt, 400 on failure) and start-time parsing
// of the values (jsonfilelog.New, "failed to initialize logging driver: …", 500 on failure).
// Berth implements the json-file and none drivers; any other name is answered as dockerd answers
// a driver that is not registered.
import { InvalidParameter, SystemError } from '../../lib/errors';
import { atoi, parseBool } from '../../lib/go-strconv';
import { fromHumanSize, ramInBytes } from '../../lib/units';

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
      parseBool(cacheDisabled);
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
    maxFile = atoi(mf);
    if (maxFile < 1) throw new Error('max-file cannot be less than 1');
  }
  const c = opts['compress'];
  if (c !== undefined) {
    compress = parseBool(c);
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
export function mergeLogConfig(
  cfg: ApiLogConfig,
  defaults: { Type: string; Config: Record<string, string> },
): { Type: string; Config: Record<string, string> } {
  const type = cfg.Type || defaults.Type;
  const config: Record<string, string> = { ...(cfg.Config ?? {}) };
  for (const [k, v] of Object.entries(defaults.Config)) {
    if (k in config) continue;
    if (type === defaults.Type || CACHE_OPTS.has(k)) config[k] = v;
  }
  validateLogOpts(type, config);
  return { Type: type, Config: config };
}
