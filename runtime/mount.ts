// Mounting snapshots on the host with mount(8): containerd hands out mount lists, and the daemon
// needs to look into a container's filesystem when no task holds it mounted.
//
// Every such mount lives under one directory of the data root (`<data-root>/tmp-mounts`, mode
// 0700, a private mount point): no unprivileged host user can reach an image's setuid binaries or
// device nodes through it, nothing propagates to other mount namespaces, and what a crash leaves
// there is unmounted and removed at the next start (`initTempMounts`).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SystemError } from '../lib/errors';
import type { Mount } from './gen/github.com/containerd/containerd/api/types/mount';
import { mountBind } from './safe-fs';

const run = promisify(execFile);

async function mountCmd(args: string[]): Promise<void> {
  try {
    await run('mount', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new SystemError(`mount failed: ${stderr.trim() || (err as Error).message}`);
  }
}

/** Flags of every temporary mount: nothing there is ever run, and no device is opened through it. */
export const TEMP_MOUNT_FLAGS = ['nosuid', 'nodev', 'noexec'];

export interface TempMount {
  path: string;
  release(): Promise<void>;
}

let tempRoot: string | undefined;

/** The directory holding the temporary mounts (after initTempMounts). */
export function tempMountsDir(): string {
  if (tempRoot === undefined) throw new SystemError('temporary mounts are not set up');
  return tempRoot;
}

/** mountinfo's octal escapes (\040 for a space...). */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountInfoEntry {
  mountPoint: string;
  /** The root of the mount within its filesystem. */
  root: string;
  fsType: string;
  source: string;
  superOptions: string;
}

export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    if (pre.length < 5) continue;
    out.push({
      mountPoint: unescapeMountPath(pre[4]),
      root: unescapeMountPath(pre[3]),
      fsType: post[0] ?? '',
      source: unescapeMountPath(post[1] ?? ''),
      superOptions: post[2] ?? '',
    });
  }
  return out;
}

const readMountInfo = (): MountInfoEntry[] => parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));

/** Unmounts `dir` (every mount stacked on it), detaching lazily what is busy. */
async function unmountAll(dir: string): Promise<void> {
  for (let i = 0; i < 16 && readMountInfo().some((m) => m.mountPoint === dir); i++) {
    await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
  }
}

/** Removes a leftover entry that is no longer a mount point: an empty dir or a file, never a tree. */
async function removeEntry(p: string): Promise<void> {
  const st = await fsp.lstat(p).catch(() => undefined);
  if (!st) return;
  if (st.isDirectory()) await fsp.rmdir(p);
  else await fsp.unlink(p);
}

/**
 * Leftover mounts of `/tmp/berth-mnt-*` made by earlier versions for this data root: overlays
 * whose layers are in it (a bind of one layer cannot be told apart, and is left alone).
 */
export function legacyTempMounts(dataRoot: string, mounts: MountInfoEntry[], tmp = os.tmpdir()): string[] {
  const prefix = path.join(tmp, 'berth-mnt-');
  const root = dataRoot.endsWith('/') ? dataRoot : `${dataRoot}/`;
  return mounts
    .filter((m) => m.mountPoint.startsWith(prefix) && !m.mountPoint.slice(prefix.length).includes('/'))
    .filter(
      (m) => m.fsType === 'overlay' && m.superOptions.split(',').some((o) => /^(lowerdir|upperdir)=/.test(o) && o.includes(`=${root}`)),
    )
    .map((m) => m.mountPoint);
}

/**
 * Creates `<dataRoot>/tmp-mounts` (root only, a private mount point) and clears what a previous
 * run left there, and the `/tmp/berth-mnt-*` mounts of earlier versions. Returns what it removed.
 */
export async function initTempMounts(dataRoot: string): Promise<string[]> {
  const dir = path.join(path.resolve(dataRoot), 'tmp-mounts');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new SystemError(`${dir} is not a directory`);
  fs.chownSync(dir, 0, 0);
  fs.chmodSync(dir, 0o700);
  const removed: string[] = [];
  // Deepest first, so stacked and nested leftovers come off before their parents.
  const leftovers = readMountInfo()
    .map((m) => m.mountPoint)
    .filter((p) => p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of new Set(leftovers)) {
    await unmountAll(p);
    removed.push(p);
  }
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (readMountInfo().some((m) => m.mountPoint === p)) continue;
    await removeEntry(p).catch(() => undefined);
    if (!removed.includes(p)) removed.push(p);
  }
  for (const p of legacyTempMounts(dir.slice(0, -'/tmp-mounts'.length), readMountInfo())) {
    await unmountAll(p);
    await fsp.rmdir(p).catch(() => undefined);
    removed.push(p);
  }
  // Its own mount point, private: the temp mounts never propagate to a peer (the host's shared /).
  if (!readMountInfo().some((m) => m.mountPoint === dir)) await mountCmd(['--bind', dir, dir]);
  await mountCmd(['--make-private', dir]);
  tempRoot = dir;
  return removed;
}

/** A fresh empty directory (or file) inside the temp-mounts dir, for a mount to come. */
export async function tempMountPoint(kind: 'dir' | 'file' = 'dir'): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(tempMountsDir(), 'm-'));
  if (kind === 'dir') return dir;
  const file = path.join(dir, 'f');
  await fsp.writeFile(file, '', { mode: 0o600, flag: 'wx' });
  return file;
}

/** Unmounts and removes a mount point made by tempMountPoint (also its parent for a file). */
export async function releaseTempMountPoint(p: string): Promise<void> {
  await unmountAll(p);
  const st = await fsp.lstat(p).catch(() => undefined);
  if (st && !st.isDirectory()) {
    await fsp.unlink(p).catch(() => undefined);
    await fsp.rmdir(path.dirname(p)).catch(() => undefined);
  } else await fsp.rmdir(p).catch(() => undefined);
}

/**
 * Mounts layer dirs (top first) as one read-only merged view: overlayfs with lowerdirs only, so
 * whiteouts and opaque dirs apply and nothing can be written. One dir is bound read-only.
 */
export async function mountReadOnlyLayers(layers: readonly string[]): Promise<TempMount> {
  if (layers.length === 0) throw new SystemError('no layers to mount');
  const dir = await tempMountPoint();
  const flags = TEMP_MOUNT_FLAGS.join(',');
  try {
    if (layers.length === 1) {
      await mountCmd(['--bind', layers[0], dir]);
      await mountCmd(['-o', `remount,bind,ro,${flags}`, dir]);
    } else {
      await mountCmd(['-t', 'overlay', 'overlay', '-o', `ro,${flags},lowerdir=${layers.join(':')}`, dir]);
    }
  } catch (err) {
    await releaseTempMountPoint(dir).catch(() => undefined);
    throw err;
  }
  return { path: dir, release: () => releaseTempMountPoint(dir) };
}

/** Mounts a snapshot's mount list (read-write, as containerd describes it) on a temp dir. */
export async function mountSnapshot(mounts: readonly Mount[]): Promise<TempMount> {
  const m = mounts[0];
  if (!m || mounts.length !== 1) throw new SystemError('unexpected snapshot mounts');
  const dir = await tempMountPoint();
  try {
    const opts = [...(m.options ?? []), ...TEMP_MOUNT_FLAGS].join(',');
    if (m.type === 'bind') await mountCmd(['-o', opts, m.source ?? '', dir]);
    else await mountCmd(['-t', m.type ?? 'overlay', m.source ?? 'none', '-o', opts, dir]);
  } catch (err) {
    await releaseTempMountPoint(dir).catch(() => undefined);
    throw err;
  }
  return { path: dir, release: () => releaseTempMountPoint(dir) };
}

/** At shutdown: detaches the temp-mounts dir's own mount (and anything still under it). */
export async function closeTempMounts(): Promise<void> {
  const dir = tempRoot;
  if (dir === undefined) return;
  tempRoot = undefined;
  await run('umount', ['-R', '-l', dir]).catch(() => undefined);
}

/**
 * Binds the inode open as `fd` (an O_PATH descriptor of a path already resolved safely) onto
 * `target`: mount(2) follows the descriptor's magic link, never a path that could be swapped.
 */
export function bindFd(fd: number, target: string): void {
  mountBind(`/proc/self/fd/${fd}`, target, { recursive: false });
}
