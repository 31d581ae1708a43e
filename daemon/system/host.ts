// Facts about the host, read the way dockerd's pkg/sysinfo, pkg/parsers/operatingsystem and
// meminfo read them. Every reader takes the filesystem root so tests can point it at a fake tree.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function readText(root: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(root, file), 'utf8');
  } catch {
    return undefined;
  }
}

function exists(root: string, file: string): boolean {
  return fs.existsSync(path.join(root, file));
}

// ---------------------------------------------------------------- operating system

export interface OsRelease {
  /** PRETTY_NAME, or "Linux" when unset (the os-release default). */
  prettyName: string;
  /** VERSION_ID, or "" when unset. */
  versionId: string;
}

function osReleaseValue(text: string, key: string): string {
  let value = '';
  for (const line of text.split('\n')) {
    if (line.startsWith(key + '=')) value = line.slice(key.length + 1).replace(/^["' ]+|["' ]+$/g, '');
  }
  return value;
}

export function readOsRelease(root = '/'): OsRelease {
  const text = readText(root, 'etc/os-release') ?? readText(root, 'usr/lib/os-release') ?? '';
  return { prettyName: osReleaseValue(text, 'PRETTY_NAME') || 'Linux', versionId: osReleaseValue(text, 'VERSION_ID') };
}

/** dockerd's IsContainerized: PID 1 sits in a cgroup other than the root (or init.scope). */
export function isContainerized(root = '/'): boolean {
  const text = readText(root, 'proc/1/cgroup');
  if (text === undefined) return false;
  return text.split('\n').some((line) => line.length > 0 && !line.endsWith(':/') && !line.endsWith(':/init.scope'));
}

/** Go's runtime.GOARCH for Node's process.arch. */
export function goArch(arch: string = process.arch): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm: 'arm',
    arm64: 'arm64',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
    mips: 'mips',
    mipsel: 'mipsle',
  };
  return map[arch] ?? arch;
}

/** uname -m, as dockerd's platform.Architecture reports it. */
export function machineArchitecture(): string {
  return os.machine();
}

/** MemTotal from /proc/meminfo, in bytes. */
export function memTotal(root = '/'): number {
  const text = readText(root, 'proc/meminfo');
  const m = text === undefined ? null : /^MemTotal:\s+([0-9]+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : os.totalmem();
}

/** Open file descriptors of this process (dockerd's NFd). */
export function openFileDescriptors(root = '/'): number {
  try {
    return fs.readdirSync(path.join(root, 'proc/self/fd')).length;
  } catch {
    return -1;
  }
}

// ---------------------------------------------------------------- kernel features

/** A /proc/sys boolean: true when the file holds "1". */
export function readProcBool(root: string, file: string): boolean {
  return (readText(root, file) ?? '').trim() === '1';
}

export interface SecurityFeatures {
  apparmor: boolean;
  seccomp: boolean;
  cgroupNamespaces: boolean;
}

export function securityFeatures(root = '/'): SecurityFeatures {
  return {
    apparmor: (readText(root, 'sys/module/apparmor/parameters/enabled') ?? '').trim() === 'Y',
    // The kernel lists a Seccomp field in /proc/PID/status exactly when built with CONFIG_SECCOMP.
    seccomp: /^Seccomp:/m.test(readText(root, 'proc/self/status') ?? ''),
    cgroupNamespaces: exists(root, 'proc/self/ns/cgroup'),
  };
}

// ---------------------------------------------------------------- cgroups

export interface CgroupFeatures {
  version: '1' | '2';
  memoryLimit: boolean;
  swapLimit: boolean;
  oomKillDisable: boolean;
  cpuCfs: boolean;
  cpuShares: boolean;
  cpuset: boolean;
  pidsLimit: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioReadBpsDevice: boolean;
  blkioWriteBpsDevice: boolean;
  blkioReadIOpsDevice: boolean;
  blkioWriteIOpsDevice: boolean;
}

interface MountInfo {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function readMountInfo(root: string): MountInfo[] {
  const text = readText(root, 'proc/self/mountinfo') ?? '';
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    if (pre.length < 5 || post.length < 3) continue;
    out.push({ mountPoint: unescapeMount(pre[4]), fsType: post[0], superOptions: post[2].split(',') });
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * cgroup v2 ("unified") when /sys/fs/cgroup itself is a cgroup2 mount, as containerd's
 * cgroups.Mode() decides (hybrid hosts, with v2 only under /sys/fs/cgroup/unified, count as v1).
 */
export function cgroupVersion(root = '/'): '1' | '2' {
  const mounts = readMountInfo(root);
  const top = mounts.filter((m) => m.mountPoint === '/sys/fs/cgroup').pop();
  if (top) return top.fsType === 'cgroup2' ? '2' : '1';
  return exists(root, 'sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
}

/** Controllers this process is in, from /proc/self/cgroup (v1 lines: "4:memory,foo:/path"). */
function v1Subsystems(root: string): Set<string> {
  const out = new Set<string>();
  for (const line of (readText(root, 'proc/self/cgroup') ?? '').split('\n')) {
    const parts = line.split(':');
    if (parts.length < 3 || parts[1] === '') continue;
    for (const s of parts[1].split(',')) out.add(s);
  }
  return out;
}

/** Each v1 controller's mount point (first mount carrying it), like findCgroupV1Mountpoints. */
function v1MountPoints(root: string): Map<string, string> {
  const wanted = v1Subsystems(root);
  const out = new Map<string, string>();
  for (const m of readMountInfo(root)) {
    if (m.fsType !== 'cgroup') continue;
    for (const opt of m.superOptions) {
      if (wanted.has(opt) && !out.has(opt.replace(/^name=/, ''))) out.set(opt.replace(/^name=/, ''), m.mountPoint);
    }
  }
  return out;
}

export function cgroupFeatures(root = '/'): CgroupFeatures {
  const version = cgroupVersion(root);
  if (version === '2') return cgroupV2Features(root);
  const mounts = v1MountPoints(root);
  const has = (controller: string, file: string): boolean => {
    const mp = mounts.get(controller);
    return mp !== undefined && exists(root, path.join(mp, file));
  };
  const memory = mounts.has('memory');
  return {
    version,
    memoryLimit: memory,
    swapLimit: has('memory', 'memory.memsw.limit_in_bytes'),
    oomKillDisable: has('memory', 'memory.oom_control'),
    cpuCfs: has('cpu', 'cpu.cfs_quota_us'),
    cpuShares: has('cpu', 'cpu.shares'),
    cpuset: mounts.has('cpuset'),
    pidsLimit: mounts.has('pids'),
    blkioWeight: has('blkio', 'blkio.weight'),
    blkioWeightDevice: has('blkio', 'blkio.weight_device'),
    blkioReadBpsDevice: has('blkio', 'blkio.throttle.read_bps_device'),
    blkioWriteBpsDevice: has('blkio', 'blkio.throttle.write_bps_device'),
    blkioReadIOpsDevice: has('blkio', 'blkio.throttle.read_iops_device'),
    blkioWriteIOpsDevice: has('blkio', 'blkio.throttle.write_iops_device'),
  };
}

function cgroupV2Features(root: string): CgroupFeatures {
  const controllers = new Set((readText(root, 'sys/fs/cgroup/cgroup.controllers') ?? '').trim().split(/\s+/).filter(Boolean));
  // Swap limits need memory.swap.max in this process's own group ("0::/path").
  const own = /^0::(.*)$/m.exec(readText(root, 'proc/self/cgroup') ?? '')?.[1];
  const swap = own !== undefined && own !== '' && exists(root, path.join('sys/fs/cgroup', own, 'memory.swap.max'));
  const io = controllers.has('io');
  return {
    version: '2',
    memoryLimit: controllers.has('memory'),
    swapLimit: controllers.has('memory') && swap,
    oomKillDisable: false,
    cpuCfs: controllers.has('cpu'),
    cpuShares: controllers.has('cpu'),
    cpuset: controllers.has('cpuset'),
    pidsLimit: controllers.has('pids'),
    blkioWeight: io,
    blkioWeightDevice: io,
    blkioReadBpsDevice: io,
    blkioWriteBpsDevice: io,
    blkioReadIOpsDevice: io,
    blkioWriteIOpsDevice: io,
  };
}
