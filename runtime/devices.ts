// Host device nodes for containers: one requested device (a node, or a directory of them), every
// device under /dev (for privileged containers), and the major:minor of block devices. Takes its
// own typed requests; daemon/oci/devices.ts maps Docker's HostConfig onto them.

import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidParameter } from '../lib/errors';

/** A device to create in the container, with the cgroup access it gets. */
export interface HostDevice {
  /** Path inside the container. */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Permission bits of the host node (mode & 07777). */
  fileMode: number;
  uid: number;
  gid: number;
  /** Device cgroup access: some of "rwm". */
  permissions: string;
}

/** One device to give a container (Docker's DeviceMapping, without the Docker names). */
export interface DeviceRequest {
  pathOnHost: string;
  /** Default: pathOnHost. */
  pathInContainer?: string;
  /** Device cgroup access, some of "rwm"; default "rwm". */
  permissions?: string;
}

export interface DeviceNumber {
  major: number;
  minor: number;
}

/** Linux's dev_t split (glibc gnu_dev_major/minor). */
export function deviceNumber(rdev: number): DeviceNumber {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

type NodeKind = 'c' | 'b' | 'p';

function nodeKind(st: Stats): NodeKind | undefined {
  if (st.isCharacterDevice()) return 'c';
  if (st.isBlockDevice()) return 'b';
  if (st.isFIFO()) return 'p';
  return undefined;
}

/** A device node at `path` (lstat, not following links), or undefined if it is not one. */
async function deviceAt(
  path: string,
  containerPath: string,
  permissions: string,
): Promise<(Omit<HostDevice, 'type'> & { type: NodeKind }) | undefined> {
  const st = await lstat(path);
  const kind = nodeKind(st);
  if (!kind) return undefined;
  return { path: containerPath, type: kind, ...deviceNumber(st.rdev), fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid, permissions };
}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const texts: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    ENOTDIR: 'not a directory',
    ELOOP: 'too many levels of symbolic links',
  };
  return (code && texts[code]) ?? (err instanceof Error ? err.message : String(err));
}

async function walk(dir: string, visit: (path: string, entry: Dirent) => Promise<void>): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    await visit(p, e);
    if (e.isDirectory()) await walk(p, visit);
  }
}

/**
 * The devices for one HostConfig.Devices entry (`/dev/fuse:/dev/fuse:rwm`): the node itself (a
 * symlink on the host is followed), or every device node below a directory, mapped under
 * pathInContainer. Errors as dockerd: `error gathering device information while adding custom
 * device "/dev/x": no such file or directory`.
 */
export async function resolveDevice(request: DeviceRequest): Promise<HostDevice[]> {
  const onHost = request.pathOnHost;
  const inContainer = request.pathInContainer || onHost;
  const permissions = request.permissions || 'rwm';
  const fail = (why: string): InvalidParameter =>
    new InvalidParameter(`error gathering device information while adding custom device ${JSON.stringify(onHost)}: ${why}`);

  let resolved = onHost;
  try {
    if ((await lstat(onHost)).isSymbolicLink()) resolved = await realpath(onHost);
  } catch {
    // Reported below by the lstat of the device itself.
  }
  let first: Awaited<ReturnType<typeof deviceAt>>;
  try {
    first = await deviceAt(resolved, inContainer, permissions);
  } catch (err) {
    throw fail(errnoText(err));
  }
  if (first) {
    if (first.type === 'p') return [];
    return [first as HostDevice];
  }

  const out: HostDevice[] = [];
  const st = await stat(resolved).catch(() => undefined);
  if (st?.isDirectory()) {
    await walk(resolved, async (p) => {
      const dev = await deviceAt(p, inContainer + p.slice(resolved.length), permissions).catch(() => undefined);
      if (dev && dev.type !== 'p') out.push(dev as HostDevice);
    });
  }
  if (out.length === 0) throw fail('not a device node');
  return out;
}

/** Directories under /dev that privileged containers do not get copies of. */
const SKIPPED_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every character and block device under `root` (default /dev), for privileged containers. */
export async function hostDevices(root = '/dev'): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIPPED_DEV_DIRS.has(e.name)) await visit(p);
        continue;
      }
      if (e.name === 'console') continue;
      const dev = await deviceAt(p, join('/dev', p.slice(root.length)), 'rwm').catch(() => undefined);
      if (dev && dev.type !== 'p') out.push(dev as HostDevice);
    }
  };
  await visit(root);
  return out;
}

/** major:minor of each block device path, keyed by the path given. */
export async function blockDeviceNumbers(paths: Iterable<string>): Promise<Record<string, DeviceNumber>> {
  const out: Record<string, DeviceNumber> = {};
  for (const p of paths) {
    try {
      out[p] = deviceNumber((await stat(p)).rdev);
    } catch (err) {
      throw new InvalidParameter(`stat ${p}: ${errnoText(err)}`);
    }
  }
  return out;
}
