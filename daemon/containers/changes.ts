// docker diff: what the container changed, read from its snapshot's upper dir against the image's
// layers. Whiteouts (0/0 char devices) and opaque dirs (their lower children hidden in the merged
// view) are deletions; a dir that holds a change, or whose owner or mode changed, is modified.
// Paths dockerd keeps in its init layer (mount points, /etc/hosts...) are not reported.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Containerd } from '../../runtime/containerd';
import { mountReadOnlyLayers, type TempMount } from '../../runtime/mount';
import type { ContainerLookup } from './archive';
import { containerLayerDirs } from './rootfs-access';

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
const INIT_PATHS = new Set(['/dev', '/dev/pts', '/dev/shm', '/dev/console', '/proc', '/sys', '/.dockerenv', '/etc/resolv.conf', '/etc/hosts', '/etc/hostname', '/etc/mtab']);

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Compares an upper dir with the lower view; `merged` tells which lower entries are hidden. */
export function upperChanges(upper: string, lower: string | undefined, merged: string): FilesystemChange[] {
  const out = new Map<string, ChangeKind>();
  const addTree = (p: string): void => {
    for (const name of fs.readdirSync(path.join(upper, p))) {
      const cp = path.posix.join(p, name);
      const st = fs.lstatSync(path.join(upper, cp));
      if (isWhiteout(st)) continue;
      if (!INIT_PATHS.has(cp)) out.set(cp, ChangeKind.Added);
      if (st.isDirectory()) addTree(cp);
    }
  };
  // Returns whether anything under `p` was reported.
  const walk = (p: string): boolean => {
    let changed = false;
    const names = fs.readdirSync(path.join(upper, p));
    for (const name of names) {
      const cp = path.posix.join(p, name);
      const st = fs.lstatSync(path.join(upper, cp));
      const low = lower === undefined ? undefined : lstatOrUndefined(path.join(lower, cp));
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
        if (st.isDirectory()) {
          const before = out.size;
          addTree(cp);
          if (out.size > before) changed = true;
        }
        continue;
      }
      if (st.isDirectory() && low.isDirectory()) {
        let inner = walk(cp);
        // Lower children the merged view no longer shows: removed under an opaque dir.
        for (const lname of fs.readdirSync(path.join(lower as string, cp))) {
          const lp = path.posix.join(cp, lname);
          if (!out.has(lp) && !lstatOrUndefined(path.join(merged, lp)) && !INIT_PATHS.has(lp)) {
            out.set(lp, ChangeKind.Deleted);
            inner = true;
          }
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
      if (st.isDirectory()) addTree(cp);
    }
    return changed;
  };
  walk('/');
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([Path, Kind]) => ({ Path, Kind }));
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
