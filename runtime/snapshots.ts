// Snapshot queries and cleanup for Berth's single snapshotter (overlayfs).

import { randomBytes } from 'node:crypto';
import { SystemError } from '../lib/errors';
import type { Containerd } from './containerd';
import { Kind, type Info } from './gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots';
import type { Mount } from './gen/github.com/containerd/containerd/api/types/mount';
import { isNotFound } from './grpc-errors';

export const SNAPSHOTTER = 'overlayfs';

export { Kind as SnapshotKind };
export type { Mount };

export interface SnapshotInfo {
  name: string;
  parent: string;
  kind: Kind;
  labels: Record<string, string>;
  createdAt?: Date;
  updatedAt?: Date;
}

/** Docker's GraphDriver.Data keys for overlay2; LowerDir is absent for a single-layer chain. */
export type OverlayDirs = Record<string, string> & { UpperDir: string; WorkDir: string; LowerDir?: string };

/**
 * Snapshots whose Prepare runs behind the request that asked for them (`docker create` answers
 * before the container's rw snapshot exists: runtime's prepareRootfsLater). Every read or removal
 * of such a key waits for it first, here and in the runtime, so none sees the gap; a prepare that
 * failed then reads as a missing snapshot. Per containerd client: keys are only unique there.
 */
const pendingPrepares = new WeakMap<Containerd, Map<string, Promise<void>>>();

/** Registers a prepare of `key` in flight; it leaves the registry once settled. */
export function trackPrepare(ctd: Containerd, key: string, prepare: Promise<unknown>): void {
  const pending = pendingPrepares.get(ctd) ?? new Map<string, Promise<void>>();
  pendingPrepares.set(ctd, pending);
  const settled = prepare.then(
    () => undefined,
    () => undefined,
  );
  pending.set(key, settled);
  void settled.then(() => {
    if (pending.get(key) === settled) pending.delete(key);
  });
}

/** Settles once no prepare of `key` is in flight (at once when none was). Never rejects. */
export function prepareSettled(ctd: Containerd, key: string): Promise<void> | undefined {
  return pendingPrepares.get(ctd)?.get(key);
}

/** Every prepare in flight on this client (shutdown waits for them). */
export function pendingPreparesOf(ctd: Containerd): Promise<void>[] {
  return [...(pendingPrepares.get(ctd)?.values() ?? [])];
}

function toInfo(info: Info | undefined, key: string): SnapshotInfo {
  return {
    name: info?.name ?? key,
    parent: info?.parent ?? '',
    kind: info?.kind ?? Kind.UNKNOWN,
    labels: info?.labels ?? {},
    createdAt: info?.createdAt,
    updatedAt: info?.updatedAt,
  };
}

/** Disk usage of the snapshot's own layer (not its parents). */
export async function snapshotUsage(ctd: Containerd, key: string): Promise<{ size: number; inodes: number }> {
  await prepareSettled(ctd, key);
  const res = await ctd.snapshots.usage({ snapshotter: SNAPSHOTTER, key });
  return { size: res.size ?? 0, inodes: res.inodes ?? 0 };
}

export async function statSnapshot(ctd: Containerd, key: string): Promise<SnapshotInfo | undefined> {
  await prepareSettled(ctd, key);
  try {
    const res = await ctd.snapshots.stat({ snapshotter: SNAPSHOTTER, key });
    return toInfo(res.info, key);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Removes a snapshot; one already gone (often collected by GC) is fine. */
export async function removeSnapshot(ctd: Containerd, key: string): Promise<void> {
  await prepareSettled(ctd, key);
  try {
    await ctd.snapshots.remove({ snapshotter: SNAPSHOTTER, key });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

export async function snapshotMounts(ctd: Containerd, key: string): Promise<Mount[]> {
  await prepareSettled(ctd, key);
  const res = await ctd.snapshots.mounts({ snapshotter: SNAPSHOTTER, key });
  return res.mounts ?? [];
}

/** The overlayfs snapshotter keeps each snapshot in <root>/snapshots/<n>/{fs,work}. */
function workDirOf(fsDir: string): string {
  return fsDir.replace(/\/fs$/, '/work');
}

function option(m: Mount, name: string): string | undefined {
  const prefix = `${name}=`;
  return m.options?.find((o) => o.startsWith(prefix))?.slice(prefix.length);
}

/** Reads the on-disk dirs out of the overlayfs snapshotter's mount list. */
export function overlayDirsFromMounts(mounts: Mount[]): OverlayDirs {
  const m = mounts[0];
  if (!m) throw new SystemError('snapshot has no mounts');
  if (m.type === 'bind') {
    // A single layer (a view of one committed layer, or an active snapshot without parent).
    const upper = m.source ?? '';
    return { UpperDir: upper, WorkDir: workDirOf(upper) };
  }
  if (m.type !== 'overlay') throw new SystemError(`unexpected mount type "${m.type ?? ''}"`);
  const lower = (option(m, 'lowerdir') ?? '').split(':').filter(Boolean);
  const upper = option(m, 'upperdir');
  if (upper !== undefined) {
    // An active (container) snapshot: its own rw dirs on top of the whole image chain.
    const dirs: OverlayDirs = { UpperDir: upper, WorkDir: option(m, 'workdir') ?? workDirOf(upper) };
    if (lower.length > 0) dirs.LowerDir = lower.join(':');
    return dirs;
  }
  // A view of a committed chain: lowerdirs run top layer first, as overlay2's UpperDir/LowerDir do.
  const [top, ...rest] = lower;
  if (!top) throw new SystemError('overlay mount without lowerdir');
  const dirs: OverlayDirs = { UpperDir: top, WorkDir: workDirOf(top) };
  if (rest.length > 0) dirs.LowerDir = rest.join(':');
  return dirs;
}

/**
 * On-disk dirs of a snapshot for inspect's GraphDriver.Data. Active snapshots report their own
 * mounts; a committed chain is read through a throwaway View (metadata only, nothing is mounted).
 */
export async function overlayDirs(ctd: Containerd, key: string): Promise<OverlayDirs> {
  await prepareSettled(ctd, key);
  const info = await ctd.snapshots.stat({ snapshotter: SNAPSHOTTER, key });
  if (info.info?.kind === Kind.ACTIVE) return overlayDirsFromMounts(await snapshotMounts(ctd, key));
  const viewKey = `berth-inspect-${randomBytes(6).toString('hex')}`;
  const view = await ctd.snapshots.view({ snapshotter: SNAPSHOTTER, key: viewKey, parent: key });
  try {
    return overlayDirsFromMounts(view.mounts ?? []);
  } finally {
    await removeSnapshot(ctd, viewKey).catch((err: unknown) => ctd.logger.warn({ err, key: viewKey }, 'could not remove inspect view'));
  }
}
