// Validation and defaulting of a create request, and the merge with the image config, following
// dockerd (verifyContainerSettings, validateRestartPolicy, merge, getEntrypointAndArgs).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { isIP } from '../../lib/addresses';
import { InvalidParameter } from '../../lib/errors';
import { ULIMIT_NAMES } from '../../lib/units';
import { goQuote } from '../../lib/go-quote';
import { tryParsePortRange } from '../../lib/ports';
import { mulInt64 } from '../../lib/int64';
import type { ContainerConfig as ImageRuntimeConfig } from '../images/image-config';
import type { ContainerConfig, HealthConfig, HostConfig, RestartPolicy, Ulimit } from './api-types';
import { validateHealthCheck, withoutZeroFields } from './health-config';

const MIN_MEMORY = 6 * 1024 * 1024;
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
export const DEFAULT_STOP_TIMEOUT = 10;

export type RestartPolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export function restartPolicyName(p: RestartPolicy | undefined): RestartPolicyName {
  const n = p?.Name ?? '';
  return n === '' ? 'no' : (n as RestartPolicyName);
}

export function validateRestartPolicy(p: RestartPolicy | undefined): void {
  const name = p?.Name ?? '';
  const max = p?.MaximumRetryCount ?? 0;
  switch (name) {
    case 'always':
    case 'unless-stopped':
    case 'no':
    case '':
      if (max !== 0) throw new InvalidParameter(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
      return;
    case 'on-failure':
      if (max < 0) throw new InvalidParameter('invalid restart policy: maximum retry count cannot be negative');
      return;
    default:
      throw new InvalidParameter(
        `invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
      );
  }
}

/** Checks what dockerd checks before creating (or updating) a container; returns its warnings. */
export function verifySettings(config: ContainerConfig, host: HostConfig): string[] {
  const warnings: string[] = [];
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) {
    throw new InvalidParameter(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  }
  verifyProcessStrings(config);
  validateHealthCheck(config.Healthcheck);
  warnings.push(...verifyResources(host));
  validateRestartPolicy(host.RestartPolicy);
  if (host.AutoRemove && restartPolicyName(host.RestartPolicy) !== 'no') {
    throw new InvalidParameter(`can't create 'AutoRemove' container with restart policy`);
  }
  for (const h of host.ExtraHosts ?? []) validateExtraHost(h);
  for (const opts of Object.values(host.Tmpfs ?? {})) verifyTmpfsOptions(opts);
  if (host.ShmSize !== undefined && host.ShmSize < 0) throw new InvalidParameter('SHM size can not be less than 0');
  if (host.OomScoreAdj !== undefined && (host.OomScoreAdj < -1000 || host.OomScoreAdj > 1000)) {
    throw new InvalidParameter('Invalid value ' + host.OomScoreAdj + ', range for oom score adj is [-1000, 1000]');
  }
  for (const [port, bindings] of Object.entries(host.PortBindings ?? {})) {
    if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(port)) throw new InvalidParameter(`invalid port specification: "${port}"`);
    for (const b of bindings ?? []) {
      if (b.HostPort && !tryParsePortRange(b.HostPort)) throw new InvalidParameter(`invalid port specification: ${goQuote(b.HostPort)}`);
    }
  }
  return warnings;
}

/**
 * dockerd's verifyPlatformContainerResources, for what this host can enforce. With `update` the
 * request of `docker update` is checked, which may set a swap limit alone.
 */
export function verifyResources(r: HostConfig, opts: { update?: boolean } = {}): string[] {
  const warnings: string[] = [];
  const memory = r.Memory ?? 0;
  if (memory !== 0 && memory < MIN_MEMORY) throw new InvalidParameter('Minimum memory limit allowed is 6MB');
  const swap = r.MemorySwap ?? 0;
  if (memory > 0 && swap > 0 && swap < memory) {
    throw new InvalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (memory === 0 && swap > 0 && !opts.update) {
    throw new InvalidParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  const swappiness = r.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw new InvalidParameter(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  const reservation = r.MemoryReservation ?? 0;
  if (reservation !== 0 && reservation < MIN_MEMORY) throw new InvalidParameter('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw new InvalidParameter('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  if (r.OomKillDisable && memory === 0) {
    warnings.push(
      'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.',
    );
  }
  if ((r.CpuShares ?? 0) < 0) throw new InvalidParameter('shares: invalid argument');
  const period = r.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1_000_000)) {
    throw new InvalidParameter('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  const quota = r.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) throw new InvalidParameter('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  const nano = r.NanoCpus ?? 0;
  if (nano > 0 && period > 0) throw new InvalidParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0) throw new InvalidParameter('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  // Below 0.01 CPUs the CFS quota (NanoCpus × 100 ms period) is under the kernel's 1 ms minimum:
  // dockerd accepts it and the start fails; refused here with dockerd's own range text. The CPU
  // count (os.cpus() parses /proc/cpuinfo) only when NanoCpus is set.
  const cpus = nano !== 0 ? cpuFacts.cpuCount() : 0;
  if (nano < 0 || (nano > 0 && nano < 1e7) || (nano > 0 && nano > cpus * 1e9)) {
    throw new InvalidParameter(`Range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`);
  }
  // cgroup v2 takes a weight that runc derives from shares; beyond the kernel's maximum share
  // value the weight is out of range and the container could never start.
  const shares = r.CpuShares ?? 0;
  if (shares > MAX_CPU_SHARES) throw new InvalidParameter(`Invalid CPU shares ${shares}: the maximum is ${MAX_CPU_SHARES}`);
  if (r.BlkioWeight !== undefined && r.BlkioWeight !== 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000)) {
    throw new InvalidParameter('Range of blkio weight is from 10 to 1000');
  }
  if ((r.PidsLimit ?? 0) < -1) throw new InvalidParameter('invalid PIDs limit');
  if (r.CpusetCpus) {
    const available = cpuFacts.cpusetCpus();
    const ok = cpusetWithin(r.CpusetCpus, available);
    if (typeof ok === 'string') throw new InvalidParameter(`Invalid value ${r.CpusetCpus} for cpuset cpus: ${ok}`);
    if (!ok) throw new InvalidParameter(`Requested CPUs are not available - requested ${r.CpusetCpus}, available: ${available}`);
  }
  if (r.CpusetMems) {
    const available = cpuFacts.cpusetMems();
    const ok = cpusetWithin(r.CpusetMems, available);
    if (typeof ok === 'string') throw new InvalidParameter(`Invalid value ${r.CpusetMems} for cpuset mems: ${ok}`);
    if (!ok) throw new InvalidParameter(`Requested memory nodes are not available - requested ${r.CpusetMems}, available: ${available}`);
  }
  // Update ignores ulimits (as dockerd does); only create stores them.
  if (!opts.update) for (const u of r.Ulimits ?? []) verifyUlimit(u);
  return warnings;
}

/** The kernel's largest cpu.shares (moby's linuxMaxCPUShares). */
export const MAX_CPU_SHARES = 262144;

/** Host facts the resource checks compare against (replaceable in tests). */
export interface HostCpuFacts {
  cpuCount(): number;
  /** The CPUs containers may use, as cpuset list text ("0-1"). */
  cpusetCpus(): string;
  cpusetMems(): string;
}

function readCgroupList(file: string, fallback: string): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return text === '' ? fallback : text;
  } catch {
    return fallback;
  }
}

const hostFacts: HostCpuFacts = {
  cpuCount: () => os.cpus().length || 1,
  cpusetCpus: () => readCgroupList('/sys/fs/cgroup/cpuset.cpus.effective', `0-${(os.cpus().length || 1) - 1}`),
  cpusetMems: () => readCgroupList('/sys/fs/cgroup/cpuset.mems.effective', '0'),
};
let cpuFacts: HostCpuFacts = hostFacts;

/** For tests: checks against these host facts instead of the machine's (undefined restores). */
export function setHostCpuFacts(facts: HostCpuFacts | undefined): void {
  cpuFacts = facts ?? hostFacts;
}

/** The largest CPU or memory node number dockerd accepts in a cpuset (ParseUintListMaximum). */
const MAX_CPUSET_ID = 8192;

/** Ranges of a cpuset list ("0-3,7"), or Go's ParseUintListMaximum error text. */
export function parseCpuset(list: string): Array<[number, number]> | string {
  const out: Array<[number, number]> = [];
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return `invalid format: ${list}`;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return `invalid format: ${list}`;
    if (hi > MAX_CPUSET_ID) return `value of out range, maximum is ${MAX_CPUSET_ID}`;
    out.push([lo, hi]);
  }
  return out;
}

/** True when every CPU of `requested` is in `available`; Go's error text when `requested` is invalid. */
export function cpusetWithin(requested: string, available: string): boolean | string {
  const req = parseCpuset(requested);
  if (typeof req === 'string') return req;
  const parsed = parseCpuset(available);
  const avail = typeof parsed === 'string' ? [] : parsed;
  // Compared range by range, never expanded: "0-99999999999" must not allocate a set.
  return req.every(([lo, hi]) => {
    let next = lo;
    for (const [alo, ahi] of [...avail].sort((a, b) => a[0] - b[0])) {
      if (alo <= next && next <= ahi) next = ahi + 1;
      if (next > hi) return true;
    }
    return next > hi;
  });
}

function verifyUlimit(u: Ulimit | null): void {
  const name = u?.Name ?? '';
  if (!ULIMIT_NAMES.has(name)) throw new InvalidParameter(`invalid ulimit type: ${name}`);
  const soft = u?.Soft ?? 0;
  const hard = u?.Hard ?? 0;
  if (soft === -1 && hard !== -1) {
    throw new InvalidParameter(`ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${hard}`);
  }
  if (hard !== -1 && soft > hard)
    throw new InvalidParameter(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  if (soft < -1 || hard < -1) throw new InvalidParameter(`invalid ulimit value for ${name}: values below -1 (unlimited) are invalid`);
}

/** Linux's HOST_NAME_MAX: sethostname refuses anything longer, so the container could never start. */
const HOST_NAME_MAX = 64;

/** Strings that reach execve, sethostname or a mount: a NUL or an over-long name fails at start. */
function verifyProcessStrings(config: ContainerConfig): void {
  for (const e of config.Env ?? []) {
    // opts.ValidateEnv refuses an empty name; a NUL cannot be passed to execve.
    if (e.startsWith('=') || e.includes('\0')) throw new InvalidParameter(`invalid environment variable: ${e}`);
  }
  for (const [field, list] of [
    ['Cmd', config.Cmd],
    ['Entrypoint', config.Entrypoint],
  ] as const) {
    for (const a of list ?? [])
      if (a.includes('\0')) throw new InvalidParameter(`invalid ${field}: argument ${JSON.stringify(a)} contains a NUL byte`);
  }
  for (const [field, v] of [
    ['hostname', config.Hostname],
    ['domainname', config.Domainname],
  ] as const) {
    if (v === undefined || v === '') continue;
    if (v.length > HOST_NAME_MAX || v.includes('\0')) {
      throw new InvalidParameter(
        `invalid ${field} ${JSON.stringify(v.slice(0, 80))}: must be at most ${HOST_NAME_MAX} characters, without NUL`,
      );
    }
  }
}

/** Data options moby's ParseTmpfsOptions accepts; anything else is a flag from ParseOptions. */
const TMPFS_DATA = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);
const MOUNT_FLAGS = new Set([
  'defaults',
  'ro',
  'rw',
  'suid',
  'nosuid',
  'dev',
  'nodev',
  'exec',
  'noexec',
  'sync',
  'async',
  'dirsync',
  'remount',
  'mand',
  'nomand',
  'atime',
  'noatime',
  'diratime',
  'nodiratime',
  'bind',
  'rbind',
  'unbindable',
  'runbindable',
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'relatime',
  'norelatime',
  'strictatime',
  'nostrictatime',
  'tmpcopyup',
]);

/** HostConfig.Tmpfs options ("rw,size=64m"), checked at create so a bad one cannot fail every start. */
export function verifyTmpfsOptions(options: string): void {
  for (const o of options.split(',')) {
    if (o === '') continue;
    const eq = o.indexOf('=');
    const key = eq === -1 ? o : o.slice(0, eq);
    const value = eq === -1 ? '' : o.slice(eq + 1);
    const bad = (): never => {
      // Go's %q of the split option, as moby's "invalid tmpfs option %q".
      throw new InvalidParameter(`invalid tmpfs option [${(eq === -1 ? [o] : [key, value]).map((p) => JSON.stringify(p)).join(' ')}]`);
    };
    if (eq === -1) {
      if (!MOUNT_FLAGS.has(key)) bad();
      continue;
    }
    if (!TMPFS_DATA.has(key)) bad();
    if ((key === 'size' || key === 'nr_inodes' || key === 'nr_blocks') && !/^\d+[kKmMgGtTpPeE%]?$/.test(value)) bad();
    if (key === 'mode' && !/^[0-7]{1,4}$/.test(value)) bad();
    if ((key === 'uid' || key === 'gid') && !/^\d+$/.test(value)) bad();
  }
}

/** moby's opts.ValidateExtraHost: "host:ip" or "host=ip"; ip may be bracketed, or "host-gateway". */
function validateExtraHost(h: string): void {
  // The first "=" separates, else the first ":" (an IPv6 address holds more).
  const sep = h.includes('=') ? h.indexOf('=') : h.indexOf(':');
  const host = sep < 0 ? '' : h.slice(0, sep);
  if (host === '' || host.includes(':')) throw new InvalidParameter(`bad format for add-host: ${goQuote(h)}`);
  let ip = h.slice(sep + 1);
  if (ip === 'host-gateway') return;
  if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  // ValidateIPAddress trims white space before net.ParseIP.
  if (!isIP(ip.trim())) throw new InvalidParameter(`invalid IP address in add-host: ${goQuote(ip)}`);
}

const envKey = (e: string): string => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);

/**
 * dockerd's mergeAndVerifyConfig: image values fill in what the user left unset, then an
 * Entrypoint of [""] (`--entrypoint ""`) is reset, so it neither takes the image's entrypoint
 * nor its command. Mutates and returns `user`.
 */
export function mergeWithImage(user: ContainerConfig, image: ImageRuntimeConfig | undefined): ContainerConfig {
  if (image) mergeImageConfig(user, image);
  if (user.Healthcheck) user.Healthcheck = withoutZeroFields(user.Healthcheck);
  if (user.Entrypoint?.length === 1 && user.Entrypoint[0] === '') user.Entrypoint = null;
  return user;
}

function mergeImageConfig(user: ContainerConfig, image: ImageRuntimeConfig): void {
  if (!user.User) user.User = image.User ?? '';
  if (!user.ExposedPorts || Object.keys(user.ExposedPorts).length === 0) {
    user.ExposedPorts = image.ExposedPorts ?? null;
  } else if (image.ExposedPorts) {
    for (const p of Object.keys(image.ExposedPorts)) user.ExposedPorts[p] ??= {};
  }
  if (!user.Env || user.Env.length === 0) {
    user.Env = image.Env ?? [];
  } else if (image.Env) {
    const have = new Set(user.Env.map(envKey));
    for (const e of image.Env) if (!have.has(envKey(e))) user.Env.push(e);
  }
  user.Labels ??= {};
  for (const [k, v] of Object.entries(image.Labels ?? {})) if (!(k in user.Labels)) user.Labels[k] = v;
  if (!user.Entrypoint || user.Entrypoint.length === 0) {
    if (!user.Cmd || user.Cmd.length === 0) {
      user.Cmd = image.Cmd ?? null;
      if (image.ArgsEscaped !== undefined) user.ArgsEscaped = image.ArgsEscaped;
    }
    if (user.Entrypoint === undefined || user.Entrypoint === null) user.Entrypoint = image.Entrypoint ?? null;
  }
  if (image.Healthcheck) {
    // moby's merge: an unset healthcheck is the image's; an unset (zero) field takes the image's.
    const i = image.Healthcheck;
    const u: HealthConfig = user.Healthcheck ?? {};
    if (!u.Test || u.Test.length === 0) u.Test = i.Test ?? undefined;
    if (!u.Interval) u.Interval = i.Interval;
    if (!u.Timeout) u.Timeout = i.Timeout;
    if (!u.StartPeriod) u.StartPeriod = i.StartPeriod;
    if (!u.StartInterval) u.StartInterval = i.StartInterval;
    if (!u.Retries) u.Retries = i.Retries;
    user.Healthcheck = u;
  }
  if (!user.WorkingDir) user.WorkingDir = image.WorkingDir ?? '';
  if (!user.Volumes || Object.keys(user.Volumes).length === 0) {
    user.Volumes = image.Volumes ?? null;
  } else if (image.Volumes) {
    for (const v of Object.keys(image.Volumes)) user.Volumes[v] ??= {};
  }
  if (!user.StopSignal) user.StopSignal = image.StopSignal ?? undefined;
  if (!user.Shell || user.Shell.length === 0) user.Shell = image.Shell ?? undefined;
  if (!user.OnBuild || user.OnBuild.length === 0) user.OnBuild = image.OnBuild ?? null;
}

/** The process to run: entrypoint then command (dockerd's getEntrypointAndArgs). */
export function entrypointAndArgs(config: ContainerConfig): { path: string; args: string[] } {
  const entrypoint = config.Entrypoint ?? [];
  const cmd = config.Cmd ?? [];
  if (entrypoint.length === 0) {
    if (cmd.length === 0) throw new InvalidParameter('no command specified');
    return { path: cmd[0], args: cmd.slice(1) };
  }
  return { path: entrypoint[0], args: [...entrypoint.slice(1), ...cmd] };
}

/** HostConfig with dockerd's defaults applied where the client left fields unset. */
export function withHostDefaults(
  host: HostConfig,
  defaults: {
    shmSize: number;
    ipcMode: string;
    cgroupnsMode: 'host' | 'private';
    runtime: string;
    maskedPaths?: readonly string[];
    readonlyPaths?: readonly string[];
  },
): HostConfig {
  const out: HostConfig = { ...host };
  if (!out.NetworkMode) out.NetworkMode = 'default';
  if (!out.ShmSize) out.ShmSize = defaults.shmSize;
  if (!out.IpcMode) out.IpcMode = defaults.ipcMode;
  if (!out.CgroupnsMode) out.CgroupnsMode = defaults.cgroupnsMode;
  if (!out.LogConfig?.Type) out.LogConfig = { Type: 'json-file', Config: out.LogConfig?.Config ?? {} };
  out.RestartPolicy = { Name: out.RestartPolicy?.Name || 'no', MaximumRetryCount: out.RestartPolicy?.MaximumRetryCount ?? 0 };
  out.ConsoleSize ??= [0, 0];
  if (!out.Runtime) out.Runtime = defaults.runtime;
  // adaptContainerSettings: swap defaults to twice the memory limit, the OOM killer stays on.
  if ((out.Memory ?? 0) > 0 && !out.MemorySwap) out.MemorySwap = mulInt64(out.Memory ?? 0, 2);
  out.OomKillDisable ??= false;
  // -1 and 0 are the clients' "not set"; dockerd stores no value (null) for them.
  if (out.MemorySwappiness === -1) out.MemorySwappiness = null;
  if (out.PidsLimit !== undefined && out.PidsLimit !== null && out.PidsLimit <= 0) out.PidsLimit = null;
  if (!out.Privileged) {
    if (out.MaskedPaths === undefined || out.MaskedPaths === null)
      out.MaskedPaths = defaults.maskedPaths ? [...defaults.maskedPaths] : out.MaskedPaths;
    if (out.ReadonlyPaths === undefined || out.ReadonlyPaths === null)
      out.ReadonlyPaths = defaults.readonlyPaths ? [...defaults.readonlyPaths] : out.ReadonlyPaths;
  }
  // generateSecurityOpt: containers sharing the host's IPC or PID namespace, or privileged ones,
  // get SELinux labelling disabled unless the client chose a label option itself.
  if ((out.SecurityOpt === undefined || out.SecurityOpt === null) && (out.Privileged || out.IpcMode === 'host' || out.PidMode === 'host')) {
    out.SecurityOpt = ['label=disable'];
  }
  return out;
}
