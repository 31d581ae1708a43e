// Getting at a container's filesystem from the host. A running (or paused) container is reached
// through the shim's mount of its rootfs; otherwise its snapshot is mounted on a temp dir for the
// operation: read-only as a merged overlay of its layers, or read-write with the snapshot's own
// mounts. Files bind-mounted into the container are mapped to their sources by hand; its volumes
// and bind-mounted dirs are mounted over a private bind of that root for the operation, as
// dockerd's mountVolumes does, so docker cp reaches them whether the container runs or not.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Containerd } from '../../runtime/containerd';
import * as sfs from '../../runtime/safe-fs';
import { mountReadOnlyLayers, mountSnapshot, releaseTempMountPoint, tempMountPoint, type TempMount } from '../../runtime/mount';
import type { OciMount } from '../../runtime/oci-types';
import { overlayDirsFromMounts, snapshotMounts } from '../../runtime/snapshots';
import type { ContainerRecord, ContainerState } from './model';
import { mkdirInScope, type ContainerRoot } from './rootfs-path';
import { Conflict } from '../../lib/errors';

const LIVE_MOUNT_WAIT_MS = 5_000;
const LIVE_MOUNT_POLL_MS = 50;

export type RootMode = 'read' | 'write';

/** The container's volumes and bind mounts with their host sources, as runc is given them. */
export type HostMounts = (record: ContainerRecord) => Promise<{ mounts: OciMount[]; release: () => Promise<void> }>;

/** The files Berth bind-mounts into every container, as dockerd does. */
export function containerFileMounts(record: ContainerRecord): Map<string, string> {
  const mounts = new Map<string, string>();
  const add = (dest: string, src: string): void => {
    if (src !== '' && fs.existsSync(src)) mounts.set(dest, src);
  };
  add('/etc/resolv.conf', record.resolvConfPath);
  add('/etc/hostname', record.hostnamePath);
  add('/etc/hosts', record.hostsPath);
  return mounts;
}

/** The container's layer dirs, top (its own upper dir) first. */
export async function containerLayerDirs(ctd: Containerd, id: string): Promise<{ upper: string; lower: string[] }> {
  const dirs = overlayDirsFromMounts(await snapshotMounts(ctd, id));
  return { upper: dirs.UpperDir, lower: (dirs.LowerDir ?? '').split(':').filter(Boolean) };
}

/** A read-only merged view of the container's snapshot (never its bind mounts). */
export async function mountContainerSnapshotReadOnly(ctd: Containerd, id: string): Promise<TempMount> {
  const { upper, lower } = await containerLayerDirs(ctd, id);
  return mountReadOnlyLayers([upper, ...lower]);
}

/** mountinfo's octal escapes (\040 for a space...). */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Where the running container's rootfs overlay (upper dir `upper`) is mounted on the host: the
 * shim's <bundle>/rootfs. It holds the container's live files and none of the mounts made inside
 * the container (/proc, /sys, /dev...), which must never be reached from the host side.
 */
export function liveRootfsMount(upper: string, mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    if (post[0] !== 'overlay' || pre[3] !== '/') continue;
    if (!(post[2] ?? '').split(',').includes(`upperdir=${upper}`)) continue;
    return unescapeMountPath(pre[4]);
  }
  return undefined;
}

/** The container whose files are opened; taskGone: its last task's delete is over (its mount gone). */
export type RootOwner = { record: ContainerRecord; state: ContainerState; taskGone(): Promise<void> };

/**
 * The container's filesystem reachable on the host, until `release`. A running container's is its
 * live rootfs mount; otherwise the snapshot is mounted here (read-only for reads). The files Berth
 * bind-mounts into the container are mapped to their sources either way; with `hostMounts`, its
 * volumes and bind-mounted dirs are mounted in place.
 */
export async function openContainerRoot(
  ctd: Containerd,
  c: RootOwner,
  mode: RootMode,
  hostMounts?: HostMounts,
): Promise<{ r: ContainerRoot; release: () => Promise<void> }> {
  const base = await openBase(ctd, c, mode);
  const wanted = (c.record.mounts ?? []).some((m) => m.type === 'bind' || m.type === 'volume');
  let root = base.path;
  let release = base.release;
  if (hostMounts && wanted) {
    try {
      const tree = await mountTree(base.path, await hostMounts(c.record), mode);
      root = tree.path;
      release = async () => {
        await tree.release();
        await base.release();
      };
    } catch (err) {
      await base.release();
      throw err;
    }
  }
  let fd: number;
  try {
    // Every lookup goes through this fd (openat2 RESOLVE_IN_ROOT), never through the path.
    fd = sfs.openRoot(root);
  } catch (err) {
    await release();
    throw err;
  }
  return {
    r: { root, fd, mounts: containerFileMounts(c.record) },
    release: async () => {
      sfs.closeFd(fd);
      await release();
    },
  };
}

/** The rootfs alone: the live mount of a running container, else its snapshot mounted here. */
async function openBase(ctd: Containerd, c: RootOwner, mode: RootMode): Promise<{ path: string; release: () => Promise<void> }> {
  if (c.state.running) {
    const { upper } = await containerLayerDirs(ctd, c.record.id);
    // Between a restart's stop and its start the shim's mount is gone: writes wait for the new
    // one (dockerd's container lock makes them wait too), reads use the snapshot meanwhile.
    let live = liveRootfsMount(upper);
    for (let waited = 0; live === undefined && mode === 'write' && waited < LIVE_MOUNT_WAIT_MS; waited += LIVE_MOUNT_POLL_MS) {
      await new Promise((resolve) => setTimeout(resolve, LIVE_MOUNT_POLL_MS));
      live = liveRootfsMount(upper);
    }
    if (live !== undefined) return { path: live, release: async () => undefined };
    // Mounting the snapshot a second time, read-write, while a shim may mount it is unsafe.
    if (mode === 'write') throw new Conflict(`Container ${c.record.id} is restarting, wait until the container is running`);
  } else {
    // Until the ended task is deleted, the shim still has the snapshot mounted read-write.
    await c.taskGone();
  }
  const m =
    mode === 'read' ? await mountContainerSnapshotReadOnly(ctd, c.record.id) : await mountSnapshot(await snapshotMounts(ctd, c.record.id));
  return { path: m.path, release: () => m.release() };
}

const depth = (p: string): number => path.posix.normalize(p).split('/').filter(Boolean).length;

/**
 * A private bind of `base` with the container's bind mounts (volumes among them) mounted over
 * it, shallow destinations first as moby sorts them. A destination is opened inside the root
 * (its links followed in scope, never out) and the mount made onto that fd, so a running
 * container swapping path components meanwhile cannot move it onto a host path. A missing
 * destination is made for writes (as runc would at start) and skipped in a read-only view.
 */
async function mountTree(
  base: string,
  sources: { mounts: OciMount[]; release: () => Promise<void> },
  mode: RootMode,
): Promise<{ path: string; release: () => Promise<void> }> {
  const C = sfs.constants;
  const top = await tempMountPoint('dir');
  const release = async (): Promise<void> => {
    // Lazily detached as a whole (its submounts with it), then the mount point removed.
    try {
      sfs.umount2(top, C.MNT_DETACH);
    } catch {
      // not mounted (a failure before the first bind)
    }
    await releaseTempMountPoint(top);
    await sources.release();
  };
  try {
    sfs.mountBind(base, top, { recursive: false });
    // Private: a shared rootfs mount would otherwise carry the mounts below to its peers.
    sfs.mount('', top, '', C.MS_PRIVATE);
    const rootFd = sfs.openRoot(top);
    try {
      const binds = sources.mounts.filter((m) => m.type === 'bind' && m.source !== undefined);
      for (const m of binds.sort((a, b) => depth(a.destination) - depth(b.destination))) mountOne(rootFd, m, mode);
    } finally {
      sfs.closeFd(rootFd);
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { path: top, release };
}

function mountOne(rootFd: number, m: OciMount, mode: RootMode): void {
  const C = sfs.constants;
  const opts = m.options ?? [];
  const src = fs.openSync(m.source ?? '', C.O_PATH);
  try {
    const srcDir = sfs.isDirectory(sfs.fstat(src));
    const dst = openDestination(rootFd, m.destination, srcDir, mode);
    if (dst === undefined) return;
    try {
      sfs.mountBind(`/proc/self/fd/${src}`, `/proc/self/fd/${dst}`, { recursive: opts.includes('rbind') });
    } finally {
      sfs.closeFd(dst);
    }
    // Reopened: the destination is now the mount's root, which takes the flags.
    const mounted = sfs.openInRoot(rootFd, m.destination, C.O_PATH);
    try {
      sfs.mount('', `/proc/self/fd/${mounted}`, '', C.MS_PRIVATE | C.MS_REC);
      if (opts.includes('ro')) sfs.remountBind(`/proc/self/fd/${mounted}`, C.MS_RDONLY);
    } finally {
      sfs.closeFd(mounted);
    }
  } finally {
    sfs.closeFd(src);
  }
}

/** An O_PATH fd of the mount point inside the root, made when missing (writes only). */
function openDestination(rootFd: number, dest: string, dir: boolean, mode: RootMode): number | undefined {
  const C = sfs.constants;
  try {
    const fd = sfs.openInRoot(rootFd, dest, C.O_PATH);
    // A dir onto a file or a file onto a dir cannot be mounted; runc would fail the start.
    if (sfs.isDirectory(sfs.fstat(fd)) === dir) return fd;
    sfs.closeFd(fd);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code !== 'ENOENT' && code !== 'ENOTDIR') || mode === 'read') return undefined;
  }
  const r: ContainerRoot = { root: '', fd: rootFd, mounts: new Map() };
  if (dir) return mkdirInScope(r, rootFd, dest).fd;
  const parent = mkdirInScope(r, rootFd, path.posix.dirname(path.posix.join('/', dest)));
  try {
    const f = sfs.openBeneath(parent.fd, path.posix.basename(dest), C.O_CREAT | C.O_WRONLY | C.O_NOFOLLOW, 0o644);
    sfs.closeFd(f);
    return sfs.openBeneath(parent.fd, path.posix.basename(dest), C.O_PATH | C.O_NOFOLLOW);
  } finally {
    sfs.closeFd(parent.fd);
  }
}

/** Runs `fn` with the container's filesystem reachable on the host; cleans up after. */
export async function withContainerRoot<T>(
  ctd: Containerd,
  c: RootOwner,
  mode: RootMode,
  fn: (r: ContainerRoot) => Promise<T>,
  hostMounts?: HostMounts,
): Promise<T> {
  const { r, release } = await openContainerRoot(ctd, c, mode, hostMounts);
  try {
    return await fn(r);
  } finally {
    await release();
  }
}
