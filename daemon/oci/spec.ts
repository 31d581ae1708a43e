// The OCI runtime spec of a container, built the way dockerd builds it (daemon/oci_linux.go and the
// default spec of daemon/pkg/oci): process, root, mounts, namespaces, cgroups and resources
// (daemon/oci/resources.ts), devices, capabilities, seccomp, masked/readonly paths, sysctls, rlimits.
// It lives in the daemon layer because it reads Docker's API settings (ContainerConfig,
// HostConfig); runtime/ below it only knows OCI types and its own typed options.
//
// buildSpec() does no I/O when `host` is given: everything that needs the filesystem (the user's
// ids, device nodes, blkio device numbers, host facts) is resolved by the caller beforehand
// (runtime/user.ts, daemon/oci/devices.ts, runtime/spec-host.ts).
// Errors are InvalidParameter with dockerd's (or runc's) wording; dockerd reports any error from
// building the spec at start as a server error, which is the caller's mapping to make.

import { posix } from 'node:path';
import type { ContainerConfig, HostConfig, Resources, Ulimit } from '../containers/api-types';
import { InvalidParameter } from '../../lib/errors';
import { ULIMIT_NAMES } from '../../lib/units';
import { tryParseBool } from '../../lib/go-strconv';
import type { Int64 } from '../../lib/int64';
import { containerCapabilities } from '../../runtime/capabilities';
import type { DeviceNumber, HostDevice } from '../../runtime/devices';
import {
  OCI_VERSION,
  RLIM_INFINITY,
  type LinuxDevice,
  type LinuxDeviceCgroup,
  type LinuxNamespace,
  type LinuxSeccomp,
  type OciMount,
  type OciSpec,
  type PosixRlimit,
} from '../../runtime/oci-types';
import { builtinSeccompProfile, parseSeccompProfile, resolveSeccompProfile } from '../../runtime/seccomp';
import { DEFAULT_READONLY_PATHS, hostSpecFacts, type SpecHostFacts } from '../../runtime/spec-host';
import type { ResolvedUser } from '../../runtime/user';
import { buildResources, defaultDeviceRules, parseDeviceCgroupRules } from './resources';

export interface SpecInput {
  id: string;
  /** containerd namespace: the default cgroup parent and the systemd scope prefix. */
  namespace: string;
  /** Already merged with the image config. The process fields are taken from `process`, not from here. */
  config: ContainerConfig;
  hostConfig: HostConfig;
  process: { args: string[]; env: string[]; cwd: string; user: ResolvedUser; terminal: boolean };
  hostname: string;
  domainname: string;
  /** Mounts the daemon prepares (/etc/hostname, /etc/hosts, /etc/resolv.conf, volumes, binds). */
  mounts: OciMount[];
  /** The network namespace: a path to join, the host's, or a new one with only lo. */
  network: { path: string } | 'host' | 'private';
  /** /proc/<pid>/ns/<x> of the containers named by container:<id> modes. */
  joinNamespaces?: Partial<Record<'pid' | 'ipc' | 'uts', string>>;
  /** Daemon-level cgroup parent; HostConfig.CgroupParent wins. Default '/<namespace>' (cgroupfs) or 'system.slice'. */
  cgroupParent: string;
  cgroupDriver: 'cgroupfs' | 'systemd';
  cgroupVersion: '1' | '2';
  /** --init: bind-mount this binary at /sbin/docker-init and run the command under it. */
  init?: { hostPath: string };
  /**
   * The daemon's seccomp setting (dockerd's --seccomp-profile): undefined or 'builtin' for the
   * builtin default profile, 'unconfined' for none, else a profile's JSON text. A container's
   * SecurityOpt seccomp=... takes precedence.
   */
  seccompProfile?: string;
  /** The daemon's default ulimits (daemon.json default-ulimits), keyed by name. */
  defaultUlimits?: Record<string, Required<Ulimit>>;
  /** Daemon default for /dev/shm, bytes; HostConfig.ShmSize wins when set. */
  shmSize: number;
  /** Resolved devices (daemon/oci/devices.ts resolveContainerDevices): mappings, plus all host devices when privileged. */
  devices: HostDevice[];
  /** major:minor of the blkio device paths (daemon/oci/devices.ts resolveBlkioDevices). */
  blkioDevices?: Record<string, DeviceNumber>;
  /** Daemon default for no-new-privileges. */
  noNewPrivileges?: boolean;
  /** Host facts; read from this host (once) when left out. */
  host?: SpecHostFacts;
}

export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
const INIT_PATH = '/sbin/docker-init';

// ---- security options --------------------------------------------------------------------------

export interface SecurityOptions {
  noNewPrivileges?: boolean;
  writableCgroups?: boolean;
  /** 'unconfined', 'builtin' or a profile's JSON text. */
  seccomp?: string;
  apparmor?: string;
  labels: string[];
}

/** HostConfig.SecurityOpt as dockerd reads it ("key=value", the deprecated "key:value", and bare flags). */
export function parseSecurityOpt(opts: readonly string[] | undefined): SecurityOptions {
  const out: SecurityOptions = { labels: [] };
  for (const opt of opts ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'writable-cgroups') {
      out.writableCgroups = true;
      continue;
    }
    if (opt === 'disable') {
      out.labels.push('disable');
      continue;
    }
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw new InvalidParameter(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const i = opt.indexOf(sep);
    const k = opt.slice(0, i);
    const v = opt.slice(i + 1);
    switch (k) {
      case 'label':
        out.labels.push(v);
        break;
      case 'apparmor':
        out.apparmor = v;
        break;
      case 'seccomp':
        out.seccomp = v;
        break;
      case 'no-new-privileges':
      case 'writable-cgroups': {
        const b = tryParseBool(v);
        if (b === undefined) throw new InvalidParameter(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        if (k === 'no-new-privileges') out.noNewPrivileges = b;
        else out.writableCgroups = b;
        break;
      }
      default:
        throw new InvalidParameter(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}

// ---- namespace modes ---------------------------------------------------------------------------

type Mode = { kind: 'private' | 'host' | 'none' | 'shareable' } | { kind: 'container'; id: string };

function containerMode(mode: string): string | undefined {
  return mode.startsWith('container:') ? mode.slice('container:'.length) : undefined;
}

export function ipcMode(mode: string | undefined): Mode {
  const m = mode ?? '';
  if (m === '' || m === 'private') return { kind: 'private' };
  if (m === 'host' || m === 'none' || m === 'shareable') return { kind: m };
  const id = containerMode(m);
  if (id) return { kind: 'container', id };
  throw new InvalidParameter(`invalid IPC mode: ${m}`);
}

export function pidMode(mode: string | undefined): Mode {
  const m = mode ?? '';
  if (m === '') return { kind: 'private' };
  if (m === 'host') return { kind: 'host' };
  const id = containerMode(m);
  if (id) return { kind: 'container', id };
  throw new InvalidParameter(`invalid PID mode: ${m}`);
}

function utsMode(mode: string | undefined): Mode {
  const m = mode ?? '';
  if (m === '') return { kind: 'private' };
  if (m === 'host') return { kind: 'host' };
  throw new InvalidParameter(`invalid UTS mode: ${m}`);
}

/** The effective cgroup namespace mode: unset means private on cgroup v2, host on v1 (and for privileged on v1). */
export function cgroupnsMode(hostConfig: Pick<HostConfig, 'CgroupnsMode' | 'Privileged'>, cgroupVersion: '1' | '2'): 'private' | 'host' {
  const m: string = hostConfig.CgroupnsMode ?? '';
  if (m === 'private' || m === 'host') return m;
  if (m !== '') throw new InvalidParameter(`invalid cgroup namespace mode: ${m}`);
  if (hostConfig.Privileged && cgroupVersion !== '2') return 'host';
  return cgroupVersion === '2' ? 'private' : 'host';
}

function joinPath(input: SpecInput, ns: 'pid' | 'ipc' | 'uts', what: string, id: string): string {
  const p = input.joinNamespaces?.[ns];
  if (!p) throw new InvalidParameter(`failed to join ${what} namespace: container ${id} is not running`);
  return p;
}

// ---- mounts ------------------------------------------------------------------------------------

function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
  ];
}

/** Mount flags (fstab words) and the propagation ones, which count as a single flag. */
const FLAG_GROUPS: Record<string, string> = {
  ro: 'rdonly',
  rw: 'rdonly',
  suid: 'nosuid',
  nosuid: 'nosuid',
  dev: 'nodev',
  nodev: 'nodev',
  exec: 'noexec',
  noexec: 'noexec',
  sync: 'sync',
  async: 'sync',
  dirsync: 'dirsync',
  remount: 'remount',
  mand: 'mand',
  nomand: 'mand',
  atime: 'noatime',
  noatime: 'noatime',
  diratime: 'nodiratime',
  nodiratime: 'nodiratime',
  bind: 'bind',
  rbind: 'rbind',
  relatime: 'relatime',
  norelatime: 'relatime',
  strictatime: 'strictatime',
  nostrictatime: 'strictatime',
  unbindable: 'propagation',
  runbindable: 'propagation',
  private: 'propagation',
  rprivate: 'propagation',
  shared: 'propagation',
  rshared: 'propagation',
  slave: 'propagation',
  rslave: 'propagation',
};
const TMPFS_DATA = new Set(['', 'size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** Merges tmpfs options, later ones winning per flag or data key (dockerd's MergeTmpfsOptions). */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const flags = new Set<string>();
  const data = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i];
    if (o === 'defaults') continue;
    const group = FLAG_GROUPS[o];
    if (group) {
      if (!flags.has(group)) {
        out.unshift(o);
        flags.add(group);
      }
      continue;
    }
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    if (eq < 0 || !TMPFS_DATA.has(key)) throw new InvalidParameter(`invalid tmpfs option ${JSON.stringify(key)}`);
    if (!data.has(key)) {
      out.unshift(o);
      data.add(key);
    }
  }
  return out;
}

/** A HostConfig.Tmpfs entry ("/run": "rw,noexec,nosuid,size=65536k") as an OCI mount. */
export function tmpfsMount(destination: string, data: string): OciMount {
  const dest = destination.replaceAll('\\', '/');
  if (posix.normalize(dest) === '/' || posix.normalize(dest) === '//')
    throw new InvalidParameter("invalid specification: destination can't be '/'");
  if (!posix.isAbsolute(dest)) throw new InvalidParameter(`invalid mount path: '${dest}' mount path must be absolute`);
  const options = ['noexec', 'nosuid', 'nodev', 'rprivate', ...(data ? data.split(',') : [])];
  return { destination, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(options) };
}

const depth = (m: OciMount): number => (posix.normalize(m.destination).replace(/\/+$/, '').match(/\//g) ?? []).length;

interface MountContext {
  input: SpecInput;
  ipc: Mode;
  pidPrivate: boolean;
  writableCgroups: boolean;
}

function buildMounts({ input, ipc, pidPrivate, writableCgroups }: MountContext): OciMount[] {
  const hc = input.hostConfig;
  const user: OciMount[] = input.mounts.map((m) => ({ ...m, ...(m.options ? { options: [...m.options] } : {}) }));
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {})) user.push(tmpfsMount(dest, data));
  const userDests = new Set(user.map((m) => posix.normalize(m.destination)));
  if (ipc.kind === 'host' && !userDests.has('/dev/shm')) {
    // The host's /dev/shm, as dockerd mounts it for --ipc=host.
    user.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
    userDests.add('/dev/shm');
  }

  const shmSize = hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : input.shmSize || DEFAULT_SHM_SIZE;
  const userDev = userDests.has('/dev');
  const defaults: OciMount[] = [];
  for (const m of defaultMounts()) {
    if (userDests.has(m.destination)) continue;
    if (userDev && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm') {
      if (ipc.kind === 'none' || ipc.kind === 'container') continue;
      m.options = [...(m.options ?? []), `size=${shmSize}`];
    }
    defaults.push(m);
  }
  if (input.init && pidPrivate && !userDests.has(INIT_PATH)) {
    defaults.push({ destination: INIT_PATH, type: 'bind', source: input.init.hostPath, options: ['bind', 'ro'] });
  }

  if (hc.ReadonlyRootfs) {
    for (const m of defaults) {
      if (['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination)) continue;
      if (!m.options?.includes('ro')) m.options = [...(m.options ?? []), 'ro'];
    }
  }
  const clearRo = (m: OciMount): void => {
    m.options = (m.options ?? []).filter((o) => o !== 'ro');
  };
  for (const m of [...defaults, ...user]) {
    if (hc.Privileged && m.destination === '/sys') clearRo(m);
    if (writableCgroups && m.type === 'cgroup') clearRo(m);
  }

  // Defaults first, then the caller's; a stable sort by depth puts every parent before its children.
  const all = [...defaults, ...user];
  return all
    .map((m, i) => ({ m, i, d: depth(m) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((x) => x.m);
}

// ---- sysctls, rlimits --------------------------------------------------------------------------

const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** Checks that each sysctl is namespaced and its namespace is the container's own (runc's rules and wording). */
export function validateSysctls(sysctls: Record<string, string>, ns: { ipc: boolean; network: boolean; uts: boolean }): void {
  for (const name of Object.keys(sysctls)) {
    if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) {
      if (!ns.ipc) throw new InvalidParameter(`sysctl ${JSON.stringify(name)} is not allowed in the hosts ipc namespace`);
      continue;
    }
    if (name.startsWith('net.')) {
      if (!ns.network) throw new InvalidParameter(`sysctl ${JSON.stringify(name)} is not allowed in the hosts network namespace`);
      continue;
    }
    if (ns.uts && name === 'kernel.domainname') continue;
    if (ns.uts && name === 'kernel.hostname') {
      throw new InvalidParameter(`sysctl ${JSON.stringify(name)} is not allowed as it conflicts with the OCI "hostname" field`);
    }
    throw new InvalidParameter(`sysctl ${JSON.stringify(name)} is not in a separate kernel namespace`);
  }
}

/** The rlimits runc sets: go-units' names, and RLIMIT_AS, which the API may carry. */
const RLIMITS: ReadonlySet<string> = new Set(['as', ...ULIMIT_NAMES]);

const rlimitValue = (v: Int64): number | bigint => (v < 0 ? RLIM_INFINITY : v);

/** HostConfig.Ulimits merged over the daemon's defaults, as OCI rlimits (-1 = unlimited). */
export function buildRlimits(ulimits: Resources['Ulimits'], defaults: Record<string, Required<Ulimit>> = {}): PosixRlimit[] {
  const merged: Required<Ulimit>[] = (ulimits ?? []).map((u) => ({ Name: u.Name ?? '', Soft: u.Soft ?? 0, Hard: u.Hard ?? 0 }));
  const given = new Set(merged.map((u) => u.Name));
  for (const [name, u] of Object.entries(defaults)) if (!given.has(name)) merged.push(u);
  return merged.map((u) => {
    if (!RLIMITS.has(u.Name)) throw new InvalidParameter(`invalid ulimit type: ${u.Name}`);
    return { type: `RLIMIT_${u.Name.toUpperCase()}`, soft: rlimitValue(u.Soft), hard: rlimitValue(u.Hard) };
  });
}

// ---- seccomp -----------------------------------------------------------------------------------

function seccompFor(input: SpecInput, sec: SecurityOptions, bounding: readonly string[], host: SpecHostFacts): LinuxSeccomp | undefined {
  const ctx = { caps: bounding, arch: host.arch, kernelRelease: host.kernelRelease };
  const load = (p: string): LinuxSeccomp | undefined =>
    resolveSeccompProfile(p === 'builtin' ? builtinSeccompProfile() : parseSeccompProfile(p), ctx);
  const own = sec.seccomp ?? '';
  if (own === 'unconfined') return undefined;
  if (input.hostConfig.Privileged) return own !== '' ? load(own) : undefined;
  if (own !== '') return load(own);
  const daemon = input.seccompProfile ?? 'builtin';
  if (daemon === 'unconfined') return undefined;
  return load(daemon);
}

// ---- the spec ----------------------------------------------------------------------------------

export function cgroupsPath(input: Pick<SpecInput, 'id' | 'namespace' | 'cgroupParent' | 'cgroupDriver' | 'hostConfig'>): string {
  const systemd = input.cgroupDriver === 'systemd';
  const parent = input.hostConfig.CgroupParent || input.cgroupParent || (systemd ? 'system.slice' : `/${input.namespace}`);
  return systemd ? `${parent}:${input.namespace}:${input.id}` : posix.join(parent, input.id);
}

export function buildSpec(input: SpecInput): OciSpec {
  const hc = input.hostConfig;
  const host = input.host ?? hostSpecFacts();
  const privileged = hc.Privileged === true;
  const sec = parseSecurityOpt(hc.SecurityOpt);

  // Namespaces.
  const ipc = ipcMode(hc.IpcMode);
  const pid = pidMode(hc.PidMode);
  const uts = utsMode(hc.UTSMode);
  const cgroupns = cgroupnsMode(hc, input.cgroupVersion);
  const namespaces: LinuxNamespace[] = [{ type: 'mount' }];
  if (input.network !== 'host')
    namespaces.push(input.network === 'private' ? { type: 'network' } : { type: 'network', path: input.network.path });
  if (uts.kind !== 'host') namespaces.push(input.joinNamespaces?.uts ? { type: 'uts', path: input.joinNamespaces.uts } : { type: 'uts' });
  if (pid.kind === 'container') namespaces.push({ type: 'pid', path: joinPath(input, 'pid', 'PID', pid.id) });
  else if (pid.kind !== 'host') namespaces.push({ type: 'pid' });
  if (ipc.kind === 'container') namespaces.push({ type: 'ipc', path: joinPath(input, 'ipc', 'IPC', ipc.id) });
  else if (ipc.kind !== 'host') namespaces.push({ type: 'ipc' });
  if (cgroupns === 'private') namespaces.push({ type: 'cgroup' });

  // Process.
  const caps = containerCapabilities({ capAdd: hc.CapAdd, capDrop: hc.CapDrop, privileged }, host.capabilities);
  const pidPrivate = pid.kind === 'private';
  const args = input.init && pidPrivate ? [INIT_PATH, '--', ...input.process.args] : [...input.process.args];
  const u = input.process.user;
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: input.process.terminal,
      user: { uid: u.uid, gid: u.gid, ...(u.umask !== undefined ? { umask: u.umask } : {}), additionalGids: [...u.additionalGids] },
      args,
      env: [...input.process.env],
      cwd: input.process.cwd || '/',
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      oomScoreAdj: hc.OomScoreAdj ?? 0,
    },
    root: { path: 'rootfs', readonly: hc.ReadonlyRootfs === true },
    mounts: [],
    linux: { namespaces },
  };
  const size = hc.ConsoleSize ?? [];
  if (input.process.terminal && ((size[0] ?? 0) > 0 || (size[1] ?? 0) > 0)) {
    spec.process.consoleSize = { height: size[0] ?? 0, width: size[1] ?? 0 };
  }
  const rlimits = buildRlimits(hc.Ulimits, input.defaultUlimits);
  if (rlimits.length > 0) spec.process.rlimits = rlimits;
  if (sec.noNewPrivileges ?? input.noNewPrivileges) spec.process.noNewPrivileges = true;
  if (uts.kind !== 'host' && input.hostname) spec.hostname = input.hostname;

  // Mounts, with cgroups writable for privileged containers unless told otherwise.
  spec.mounts = buildMounts({ input, ipc, pidPrivate, writableCgroups: sec.writableCgroups ?? privileged });

  // Sysctls: dockerd's two defaults for a network namespace of the container's own, the NIS
  // domain name, then the user's (which win).
  const netMode = hc.NetworkMode ?? '';
  const ownNetwork = input.network !== 'host' && netMode !== 'host' && !netMode.startsWith('container:');
  const sysctl: Record<string, string> = {};
  if (ownNetwork) {
    if (host.sysctlExists('net.ipv4.ping_group_range')) sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    if (host.sysctlExists('net.ipv4.ip_unprivileged_port_start')) sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  if (input.domainname) sysctl['kernel.domainname'] = input.domainname;
  const userSysctls = hc.Sysctls ?? {};
  validateSysctls(
    { ...userSysctls, ...(input.domainname ? { 'kernel.domainname': input.domainname } : {}) },
    {
      ipc: ipc.kind !== 'host',
      network: input.network !== 'host',
      uts: uts.kind !== 'host',
    },
  );
  Object.assign(sysctl, userSysctls);
  if (Object.keys(sysctl).length > 0) spec.linux.sysctl = sysctl;

  // Cgroups, resources and devices.
  spec.linux.cgroupsPath = cgroupsPath(input);
  const resources = buildResources(hc, { blkioDevices: input.blkioDevices });
  const seen = new Set<string>();
  const devices: LinuxDevice[] = [];
  const deviceRules: LinuxDeviceCgroup[] = privileged ? [{ allow: true, access: 'rwm' }] : defaultDeviceRules();
  for (const d of input.devices) {
    if (seen.has(d.path)) continue;
    seen.add(d.path);
    devices.push({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid });
    if (!privileged) deviceRules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions });
  }
  if (!privileged) deviceRules.push(...parseDeviceCgroupRules(hc.DeviceCgroupRules));
  resources.devices = deviceRules;
  spec.linux.resources = resources;
  if (devices.length > 0) spec.linux.devices = devices;

  // Seccomp, resolved against the bounding set.
  const seccomp = seccompFor(input, sec, caps, host);
  if (seccomp) spec.linux.seccomp = seccomp;

  // Masked and readonly paths: none for privileged; HostConfig's lists win when set.
  let masked: readonly string[] = privileged ? [] : host.maskedPaths;
  let readonly: readonly string[] = privileged ? [] : DEFAULT_READONLY_PATHS;
  if (hc.MaskedPaths !== undefined && hc.MaskedPaths !== null) masked = hc.MaskedPaths;
  if (hc.ReadonlyPaths !== undefined && hc.ReadonlyPaths !== null) readonly = hc.ReadonlyPaths;
  if (masked.length > 0) spec.linux.maskedPaths = [...masked];
  if (readonly.length > 0) spec.linux.readonlyPaths = [...readonly];

  if (hc.Annotations && Object.keys(hc.Annotations).length > 0) spec.annotations = { ...hc.Annotations };
  return spec;
}
