// Getting at a container's filesystem from the host. A running (or paused) container is reached
// through the shim's mount of its rootfs; otherwise its snapshot is mounted on a temp dir for the
// operation: read-only as a merged overlay of its layers, or read-write with the snapshot's own
// mounts. Files bind-mounted into the container are mapped to their sources by hand.
import * as fs from 'node:fs';
import type { Containerd } from '../../runtime/containerd';
import * as sfs from '../../runtime/safe-fs';
import { mountReadOnlyLayers, mountSnapshot, type TempMount } from '../../runtime/mount';
import { overlayDirsFromMounts, snapshotMounts } from '../../runtime/snapshots';
import type { ContainerRecord, ContainerState } from './model';
import type { ContainerRoot } from './rootfs-path';
import { Conflict } from '../../lib/errors';

const LIVE_MOUNT_WAIT_MS = 5_000;
const LIVE_MOUNT_POLL_MS = 50;

export type RootMode = 'read' | 'write';

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

/**
 * The container's filesystem reachable on the host, until `release`. A running container's is its
 * live rootfs mount; otherwise the snapshot is mounted here (read-only for reads). The files Berth
 * bind-mounts into the container are mapped to their sources either way.
 */
export async function openContainerRoot(
  ctd: Containerd,
  c: { record: ContainerRecord; state: ContainerState },
  mode: RootMode,
): Promise<{ r: ContainerRoot; release: () => Promise<void> }> {
  const mounts = containerFileMounts(c.record);
  if (c.state.running) {
    const { upper } = await containerLayerDirs(ctd, c.record.id);
    // Between a restart's stop and its start the shim's mount is gone: writes wait for the new
    // one (dockerd's container lock makes them wait too), reads use the snapshot meanwhile.
    let live = liveRootfsMount(upper);
    for (let waited = 0; live === undefined && mode === 'write' && waited < LIVE_MOUNT_WAIT_MS; waited += LIVE_MOUNT_POLL_MS) {
      await new Promise((resolve) => setTimeout(resolve, LIVE_MOUNT_POLL_MS));
      live = liveRootfsMount(upper);
    }
    if (live !== undefined) {
      // Every lookup goes through this fd (openat2 RESOLVE_IN_ROOT), never through the path.
      const fd = sfs.openRoot(live);
      return { r: { root: live, fd, mounts }, release: async () => sfs.closeFd(fd) };
    }
    // Mounting the snapshot a second time, read-write, while a shim may mount it is unsafe.
    if (mode === 'write') throw new Conflict(`Container ${c.record.id} is restarting, wait until the container is running`);
  }
  const m = mode === 'read' ? await mountContainerSnapshotReadOnly(ctd, c.record.id) : await mountSnapshot(await snapshotMounts(ctd, c.record.id));
  let fd: number;
  try {
    fd = sfs.openRoot(m.path);
  } catch (err) {
    await m.release();
    throw err;
  }
  return {
    r: { root: m.path, fd, mounts },
    release: async () => {
      sfs.closeFd(fd);
      await m.release();
    },
  };
}

/** Runs `fn` with the container's filesystem reachable on the host; cleans up after. */
export async function withContainerRoot<T>(
  ctd: Containerd,
  c: { record: ContainerRecord; state: ContainerState },
  mode: RootMode,
  fn: (r: ContainerRoot) => Promise<T>,
): Promise<T> {
  const { r, release } = await openContainerRoot(ctd, c, mode);
  try {
    return await fn(r);
  } finally {
    await release();
  }
}
