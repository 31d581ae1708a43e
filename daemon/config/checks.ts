// Value checks shared by flags and daemon.json, each spelled as dockerd's.

import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { ipFamily, isIP, isLoopbackHost, splitHostPort } from '../../lib/addresses';
import { parseGoInt } from '../../lib/go-strconv';
import { ULIMIT_NAMES } from '../../lib/units';
import {
  type AddressPool,
  type CgroupDriver,
  ConfigError,
  DEFAULT_CONTAINERD_NAMESPACE,
  DEFAULT_DATA_ROOT,
  DEFAULT_EXEC_ROOT,
  DEFAULT_HOST,
  DEFAULT_PIDFILE,
  type LogLevel,
  PIDFILE_NAME,
  type PoolValue,
  type Ulimit,
} from './types';

export function checkHostSyntax(raw: string): string {
  const host = raw.trim();
  if (host === '') return host; // "" means the default, as dockerd
  const sep = host.indexOf('://');
  const proto = sep === -1 ? 'tcp' : host.slice(0, sep);
  const addr = sep === -1 ? host : host.slice(sep + 3);
  switch (proto) {
    case 'unix':
      if (addr.includes('://')) throw new Error(`invalid bind address (${host}): invalid unix address: ${addr}`);
      return host;
    case 'fd':
      if (addr !== '' && addr !== '*' && !/^[0-9]+$/.test(addr)) {
        throw new Error(`invalid bind address (${host}): failed to parse systemd fd address: should be a number: ${addr}`);
      }
      if (addr !== '' && addr !== '*' && Number(addr) < 3) {
        throw new Error(`invalid bind address (${host}): systemd passes sockets from fd 3 on`);
      }
      return host;
    case 'tcp':
      throw new Error(
        `invalid bind address (${host}): Berth serves the API on unix sockets only (unix:///path or fd:// from systemd); tcp is not supported`,
      );
    default:
      throw new Error(`invalid bind address (${host}): unsupported proto '${proto}'`);
  }
}

/** Final form of a host: unix paths absolute, unix:// alone = the default socket, fd://* = fd://. */
export function normaliseHost(host: string): string {
  if (host === '') return DEFAULT_HOST;
  const sep = host.indexOf('://');
  const proto = host.slice(0, sep);
  const addr = host.slice(sep + 3);
  if (proto === 'unix') return addr === '' ? DEFAULT_HOST : `unix://${path.resolve(addr)}`;
  return addr === '*' || addr === '' ? 'fd://' : `fd://${Number(addr)}`;
}

export function checkIp(raw: string): string {
  const ip = raw.trim();
  if (!isIP(ip)) throw new Error(`${raw} is not an ip address`);
  return ip;
}

/** A domain for resolv.conf's search line; "." stands for the empty domain. */
export function checkDnsSearch(raw: string): string {
  const v = raw.replace(/^ +| +$/g, '');
  if (v === '.') return v;
  const label = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
  const m = new RegExp(`^(${label}(?:\\.${label})*)\\.?$`).exec(v);
  if (!/[a-zA-Z]/.test(v) || !m || m[1].length >= 255) throw new Error(`${raw} is not a valid domain`);
  return m[1];
}

export function checkLabel(raw: string): string {
  if (!raw.includes('=')) throw new Error(`bad attribute format: ${raw}`);
  const lower = raw.toLowerCase();
  if (lower.startsWith('com.docker.') || lower.startsWith('io.docker.') || lower.startsWith('org.dockerproject.')) {
    throw new Error(
      `label ${raw} is not allowed: the namespaces com.docker.*, io.docker.*, and org.dockerproject.* are reserved for internal use`,
    );
  }
  return raw;
}

export function checkUlimit(u: Ulimit): Ulimit {
  if (!ULIMIT_NAMES.has(u.Name)) throw new Error(`invalid ulimit type: ${u.Name}`);
  if (u.Soft > u.Hard) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  return u;
}

export function parseUlimitFlag(raw: string): Ulimit {
  const eq = raw.indexOf('=');
  if (eq === -1) throw new Error(`invalid ulimit argument: ${raw}`);
  const name = raw.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const parts = raw.slice(eq + 1).split(':');
  if (parts.length > 2) throw new Error(`too many limit value arguments - ${raw.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  // go-units ParseUlimit: strconv.ParseInt(v, 10, 64), its error passed on
  const soft = Number(parseGoInt(parts[0] ?? '', 10, 64));
  const hard = parts.length === 2 ? Number(parseGoInt(parts[1] ?? '', 10, 64)) : soft;
  return checkUlimit({ Name: name, Soft: soft, Hard: hard });
}

export function parsePoolFlag(raw: string): PoolValue {
  let base: string | undefined;
  let size: number | undefined;
  for (const field of raw.split(',')) {
    const eq = field.indexOf('=');
    if (eq === -1) throw new Error(`invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const val = field.slice(eq + 1);
    if (key === 'base') base = val;
    else if (key === 'size') {
      if (!/^[+-]?[0-9]+$/.test(val)) throw new Error(`invalid size value: ${JSON.stringify(raw)} (must be integer)`);
      size = Number(val);
    } else throw new Error(`unexpected key '${key}' in '${field}'`);
  }
  return { base: base ?? '', size: size ?? 0 };
}

interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

export function parseCidr(raw: string): Cidr | null {
  const slash = raw.indexOf('/');
  if (slash === -1) return null;
  const address = raw.slice(0, slash);
  const prefixText = raw.slice(slash + 1);
  const family = ipFamily(address);
  if (family === 0 || !/^[0-9]{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return null;
  return { address, prefix, family: family as 4 | 6 };
}

export function checkPool(p: PoolValue): AddressPool {
  const cidr = parseCidr(p.base);
  if (!cidr) throw new ConfigError(`invalid base pool ${JSON.stringify(p.base)}: invalid CIDR address: ${p.base}`);
  const bits = cidr.family === 4 ? 32 : 128;
  if (p.size <= 0 || p.size < cidr.prefix || p.size > bits) throw new ConfigError(`invalid pools size: ${p.size}`);
  return { base: p.base, size: p.size };
}

/** containerd's identifier rule for namespaces. */
export function checkNamespace(ns: string): string {
  if (ns.length === 0 || ns.length > 76 || !/^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/.test(ns)) {
    throw new ConfigError(
      `invalid containerd-namespace ${JSON.stringify(ns)}: must match [A-Za-z0-9]+([._-][A-Za-z0-9]+)* and be at most 76 characters`,
    );
  }
  return ns;
}

/** `berth` for the default data root, else `berth-<first 8 hex of sha256(data root)>`, so two daemons never share one. */
export function containerdNamespaceFor(dataRoot: string): string {
  const root = path.resolve(dataRoot);
  if (root === DEFAULT_DATA_ROOT) return DEFAULT_CONTAINERD_NAMESPACE;
  return `${DEFAULT_CONTAINERD_NAMESPACE}-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
}

/** The default pidfile for an exec root (see DEFAULT_PIDFILE). */
export function defaultPidfileFor(execRoot: string): string {
  const root = path.resolve(execRoot);
  return root === DEFAULT_EXEC_ROOT ? DEFAULT_PIDFILE : path.join(root, PIDFILE_NAME);
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'panic'];

export function checkLogLevel(raw: string): LogLevel {
  const level = raw.toLowerCase();
  // dockerd's "warning" is logrus' spelling of warn
  const normalised = level === 'warning' ? 'warn' : level;
  if (!(LOG_LEVELS as readonly string[]).includes(normalised)) throw new ConfigError(`unable to parse logging level: ${raw}`);
  return normalised as LogLevel;
}

export function parseExecOpts(list: string[]): { opts: Record<string, string>; cgroupDriver: CgroupDriver } {
  const opts: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    const k = (eq === -1 ? kv : kv.slice(0, eq)).trim().toLowerCase();
    const v = eq === -1 ? '' : kv.slice(eq + 1).trim();
    if (eq === -1 || k === '' || v === '') throw new ConfigError(`invalid exec-opt (${kv}): must be formatted 'opt=value'`);
    if (k === 'isolation') throw new ConfigError(`invalid exec-opt (${kv}): option '${k}' is only supported on windows`);
    if (k !== 'native.cgroupdriver') throw new ConfigError(`invalid exec-opt (${kv}): unknown option: '${k}'`);
    if (v !== 'cgroupfs' && v !== 'systemd') throw new ConfigError(`native.cgroupdriver option ${v} not supported`);
    opts[k] = v;
  }
  return { opts, cgroupDriver: (opts['native.cgroupdriver'] as CgroupDriver | undefined) ?? 'cgroupfs' };
}

/** Duplicate label keys must agree (GetConflictFreeLabels); duplicates collapse. */
export function conflictFreeLabels(labels: string[]): string[] {
  const seen = new Map<string, string>();
  for (const l of labels) {
    const eq = l.indexOf('=');
    const k = l.slice(0, eq);
    const v = l.slice(eq + 1);
    const prev = seen.get(k);
    if (prev !== undefined && prev !== v) throw new ConfigError(`conflict labels for ${k}=${v} and ${k}=${prev}`);
    seen.set(k, v);
  }
  return [...seen].map(([k, v]) => `${k}=${v}`);
}

export function absOrNull(p: string | undefined): string | null {
  return p === undefined || p === '' ? null : path.resolve(p);
}

/**
 * `--metrics-addr`: host:port; loopback only unless `allowRemote` (the series name every
 * container and image, which is not for the network to read by default).
 */
export function checkMetricsAddr(raw: string | null, allowRemote: boolean): string | null {
  if (raw === null) return null;
  const hp = splitHostPort(raw);
  if (!hp) throw new ConfigError(`invalid metrics-addr "${raw}": want host:port`);
  if (!allowRemote && !isLoopbackHost(hp.host)) {
    throw new ConfigError(`metrics-addr "${raw}" is not a loopback address; set metrics-allow-remote to serve metrics beyond this host`);
  }
  return raw;
}

/**
 * `--dashboard-addr`: host:port, loopback only and no switch to widen it: the dashboard can stop
 * and remove containers, and its only credential is a token printed in the daemon's log.
 */
export function checkDashboardAddr(raw: string | null): string | null {
  if (raw === null) return null;
  const hp = splitHostPort(raw);
  if (!hp) throw new ConfigError(`invalid dashboard-addr "${raw}": want host:port`);
  if (!isLoopbackHost(hp.host))
    throw new ConfigError(`dashboard-addr "${raw}" is not a loopback address; the dashboard is served on loopback only`);
  return raw;
}
