// Getting at a container's filesystem from the host. A running (or paused) container is reached
// through /proc/<pid>/root: its live view, bind mounts included. Otherwise its snapshot is
// mounted on a temp dir for the operation: read-only as a merged overlay of its layers, or
// read-write with the snapshot's own mounts; the bind-mounted files are mapped by hand.
import * as fs from 'node:fs';
import type { Containerd } from '../../runtime/containerd';
import { mountReadOnlyLayers, mountSnapshot, type TempMount } from '../../runtime/mount';
import { overlayDirsFromMounts, snapshotMounts } from '../../runtime/snapshots';
import type { ContainerRecord, ContainerState } from './model';
import type { ContainerRoot } from './rootfs-path';

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

/** The container's filesystem reachable on the host, until `release`. */
export async function openContainerRoot(
  ctd: Containerd,
  c: { record: ContainerRecord; state: ContainerState },
  mode: RootMode,
): Promise<{ r: ContainerRoot; release: () => Promise<void> }> {
  if (c.state.running && c.state.pid > 0) {
    const live = `/proc/${c.state.pid}/root`;
    if (fs.existsSync(live)) return { r: { root: live, mounts: new Map() }, release: async () => undefined };
  }
  const m = mode === 'read' ? await mountContainerSnapshotReadOnly(ctd, c.record.id) : await mountSnapshot(await snapshotMounts(ctd, c.record.id));
  return { r: { root: m.path, mounts: containerFileMounts(c.record) }, release: () => m.release() };
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
