// docker diff: what the container changed, read from its snapshot's upper dir against the image's
// layers. Whiteouts (0/0 char devices) and opaque dirs (their lower children hidden in the merged
// view) are deletions; a dir that holds a change, or whose owner or mode changed, is modified.
// Paths dockerd keeps in its init layer (mount points, /etc/hosts...) are not reported.
// Walked by fd (runtime/safe-fs.ts) so a running container's links never lead the walk outside.
import * as path from 'node:path';
import type { Containerd } from '../../runtime/containerd';
import * as sfs from '../../runtime/safe-fs';
import { mountReadOnlyLayers, type TempMount } from '../../runtime/mount';
import type { ContainerLookup } from './archive';
import { containerLayerDirs } from './rootfs-access';
import { compareStrings } from '../../lib/order';

export const enum ChangeKind {
  Modified = 0,
  Added = 1,
  Deleted = 2,
}

export interface FilesystemChange {
  Path: string;
  Kind: ChangeKind;
}

/** moby's initlayer paths: created for every container, never part of its changes. */
const INIT_PATHS = new Set([
  '/dev',
  '/dev/pts',
  '/dev/shm',
  '/dev/console',
  '/proc',
  '/sys',
  '/.dockerenv',
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/hostname',
  '/etc/mtab',
]);

const C = sfs.constants;

function gone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // ELOOP/ENOTDIR/EXDEV: swapped for a link or a non-directory by the running container.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EXDEV';
}

function statAt(dirFd: number | undefined, name: sfs.FsName): sfs.SafeStat | undefined {
  if (dirFd === undefined) return undefined;
  try {
    return sfs.fstatAt(dirFd, name, true);
  } catch (err) {
    if (gone(err)) return undefined;
    throw err;
  }
}

/** A subdirectory's O_PATH fd beneath `dirFd`, never through a link; undefined if it is none now. */
function openDir(dirFd: number | undefined, name: sfs.FsName): number | undefined {
  if (dirFd === undefined) return undefined;
  try {
    return sfs.openBeneath(dirFd, name, C.O_PATH | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch (err) {
    if (gone(err)) return undefined;
    throw err;
  }
}

function list(dirFd: number): Buffer[] {
  try {
    return sfs.listDirRaw(dirFd);
  } catch (err) {
    if (gone(err)) return [];
    throw err;
  }
}

function closeAll(...fds: Array<number | undefined>): void {
  for (const fd of fds) if (fd !== undefined) sfs.closeFd(fd);
}

function isWhiteout(st: sfs.SafeStat): boolean {
  return (st.mode & 0o170000) === 0o020000 && st.rdev === 0;
}

/**
 * Compares an upper dir with the lower view; `merged` tells which lower entries are hidden. The
 * walk goes by fd, each directory opened O_NOFOLLOW beneath its parent: the upper dir of a running
 * container changes under it, and a directory swapped for a link to a host dir must not be listed.
 */
export function upperChanges(upper: string, lower: string | undefined, merged: string): FilesystemChange[] {
  const out = new Map<string, ChangeKind>();
  const addTree = (p: string, dirFd: number): void => {
    for (const raw of list(dirFd)) {
      const cp = path.posix.join(p, raw.toString('utf8'));
      const st = statAt(dirFd, raw);
      if (st === undefined || isWhiteout(st)) continue;
      if (!INIT_PATHS.has(cp)) out.set(cp, ChangeKind.Added);
      if (sfs.isDirectory(st)) {
        const sub = openDir(dirFd, raw);
        if (sub === undefined) continue;
        try {
          addTree(cp, sub);
        } finally {
          sfs.closeFd(sub);
        }
      }
    }
  };
  // Returns whether anything under `p` was reported.
  const walk = (p: string, upFd: number, lowFd: number | undefined, mergedFd: number | undefined): boolean => {
    let changed = false;
    for (const raw of list(upFd)) {
      const cp = path.posix.join(p, raw.toString('utf8'));
      const st = statAt(upFd, raw);
      if (st === undefined) continue;
      const low = statAt(lowFd, raw);
      const ignored = INIT_PATHS.has(cp);
      if (isWhiteout(st)) {
        if (low && !ignored) {
          out.set(cp, ChangeKind.Deleted);
          changed = true;
        }
        continue;
      }
      if (!low) {
        if (!ignored) {
          out.set(cp, ChangeKind.Added);
          changed = true;
        }
        if (sfs.isDirectory(st)) {
          const before = out.size;
          const sub = openDir(upFd, raw);
          if (sub !== undefined) {
            try {
              addTree(cp, sub);
            } finally {
              sfs.closeFd(sub);
            }
          }
          if (out.size > before) changed = true;
        }
        continue;
      }
      if (sfs.isDirectory(st) && sfs.isDirectory(low)) {
        const subUp = openDir(upFd, raw);
        const subLow = openDir(lowFd, raw);
        const subMerged = openDir(mergedFd, raw);
        let inner = false;
        try {
          if (subUp !== undefined) inner = walk(cp, subUp, subLow, subMerged);
          // Lower children the merged view no longer shows: removed under an opaque dir.
          if (subLow !== undefined) {
            for (const lraw of list(subLow)) {
              const lp = path.posix.join(cp, lraw.toString('utf8'));
              if (!out.has(lp) && statAt(subMerged, lraw) === undefined && !INIT_PATHS.has(lp)) {
                out.set(lp, ChangeKind.Deleted);
                inner = true;
              }
            }
          }
        } finally {
          closeAll(subUp, subLow, subMerged);
        }
        const meta = st.mode !== low.mode || st.uid !== low.uid || st.gid !== low.gid;
        if ((inner || meta) && !ignored) out.set(cp, ChangeKind.Modified);
        if (inner || meta) changed = true;
        continue;
      }
      if (!ignored) {
        out.set(cp, ChangeKind.Modified);
        changed = true;
      }
      if (sfs.isDirectory(st)) {
        const sub = openDir(upFd, raw);
        if (sub !== undefined) {
          try {
            addTree(cp, sub);
          } finally {
            sfs.closeFd(sub);
          }
        }
      }
    }
    return changed;
  };
  const upFd = sfs.openRoot(upper);
  let lowFd: number | undefined;
  let mergedFd: number | undefined;
  try {
    lowFd = lower === undefined ? undefined : sfs.openRoot(lower);
    mergedFd = sfs.openRoot(merged);
    walk('/', upFd, lowFd, mergedFd);
  } finally {
    closeAll(upFd, lowFd, mergedFd);
  }
  return [...out.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([Path, Kind]) => ({ Path, Kind }));
}

export async function containerChanges(deps: { ctd: Containerd; containers: ContainerLookup }, input: string): Promise<FilesystemChange[]> {
  const c = deps.containers.get(input);
  const { upper, lower } = await containerLayerDirs(deps.ctd, c.record.id);
  const mounts: TempMount[] = [];
  try {
    let lowerView: string | undefined;
    if (lower.length === 1) lowerView = lower[0];
    else if (lower.length > 1) {
      const m = await mountReadOnlyLayers(lower);
      mounts.push(m);
      lowerView = m.path;
    }
    const merged = await mountReadOnlyLayers([upper, ...lower]);
    mounts.push(merged);
    return upperChanges(upper, lowerView, merged.path);
  } finally {
    for (const m of mounts) await m.release();
  }
}
