// Copies a directory tree fd-relative: every entry is reached through its parent's open
// descriptor (`/proc/self/fd/<dir>/<name>`: the kernel takes the descriptor's own directory and
// then looks up one component), never through a path joined from strings. Symlinks are copied as
// links and never followed, in the source or in the destination, so neither an image's links nor
// a racer in a shared volume can point a read or a write at the host.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { lGetXattr, lListXattrs, lSetXattr, mknodAt, openBeneath } from './safe-fs';

/** O_PATH (not in Node's fs.constants): a handle to name an inode, not to read it. */
export const O_PATH = 0o10000000;
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = fs.constants;
const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** `name` inside the directory open as `dirFd`. */
export function fdPath(dirFd: number, name?: Buffer): Buffer {
  const base = Buffer.from(`/proc/self/fd/${dirFd}`);
  return name === undefined ? base : Buffer.concat([base, Buffer.from('/'), name]);
}

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

interface CopyState {
  /** First copy of a multiply-linked inode: its path under the destination root, as components. */
  links: Map<string, Buffer[]>;
  dstRootFd: number;
}

/** Copies the extended attributes of `src` to `dst` (neither followed); best effort, as cp -a. */
function copyXattrs(src: Buffer, dst: Buffer): void {
  let names: Buffer[];
  try {
    names = lListXattrs(src);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      lSetXattr(dst, name, lGetXattr(src, name));
    } catch {
      // not supported here, or not ours to set: left out
    }
  }
}

/**
 * Sets owner, then mode (chown clears set-id bits), then extended attributes (chown clears file
 * capabilities), then times, through an open descriptor (`xattrs`: the entries' names).
 */
async function setAttrs(fd: number, st: fs.Stats, xattrs?: { src: Buffer; dst: Buffer }): Promise<void> {
  await fsp.chown(fdPath(fd), st.uid, st.gid);
  await fsp.chmod(fdPath(fd), st.mode & 0o7777);
  if (xattrs) copyXattrs(xattrs.src, xattrs.dst);
  await fsp.utimes(fdPath(fd), st.atime, st.mtime);
}

async function copyFileData(src: fsp.FileHandle, dst: fsp.FileHandle): Promise<void> {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const { bytesRead } = await src.read(buf, 0, buf.length, null);
    if (bytesRead === 0) return;
    let off = 0;
    while (off < bytesRead) off += (await dst.write(buf, off, bytesRead - off)).bytesWritten;
  }
}

/** Hard-links the entry to the first copy of its inode; false when that cannot be done. */
async function linkToFirst(state: CopyState, first: Buffer[], dstDirFd: number, name: Buffer): Promise<boolean> {
  let parentFd = -1;
  try {
    const parents = first.slice(0, -1);
    // Beneath the destination root: a swapped parent of the first copy never leads out of it.
    parentFd =
      parents.length === 0
        ? fs.openSync(fdPath(state.dstRootFd), O_PATH | O_DIRECTORY)
        : openBeneath(
            state.dstRootFd,
            Buffer.concat(parents.flatMap((c, i) => (i === 0 ? [c] : [Buffer.from('/'), c]))),
            O_PATH | O_DIRECTORY,
          );
    await fsp.link(fdPath(parentFd, first[first.length - 1]), fdPath(dstDirFd, name));
    return true;
  } catch {
    return false;
  } finally {
    if (parentFd >= 0) fs.closeSync(parentFd);
  }
}

async function copyEntry(state: CopyState, srcDirFd: number, dstDirFd: number, name: Buffer, rel: Buffer[]): Promise<void> {
  const src = fdPath(srcDirFd, name);
  const dst = fdPath(dstDirFd, name);
  const st = await fsp.lstat(src);
  if (st.isDirectory()) {
    try {
      await fsp.mkdir(dst, 0o700);
    } catch (err) {
      if (code(err) !== 'EEXIST') throw err;
    }
    const s = await fsp.open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      // O_NOFOLLOW: what stands at the name now, if a racer swapped it, is refused (ELOOP/ENOTDIR).
      const d = await fsp.open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      try {
        await copyChildren(state, s.fd, d.fd, rel);
        await setAttrs(d.fd, st, { src, dst });
      } finally {
        await d.close();
      }
    } finally {
      await s.close();
    }
    return;
  }
  if (st.isSymbolicLink()) {
    const target = await fsp.readlink(src, { encoding: 'buffer' });
    await fsp.symlink(target, dst);
    await fsp.lchown(dst, st.uid, st.gid);
    copyXattrs(src, dst);
    await fsp.lutimes(dst, st.atime, st.mtime);
    return;
  }
  if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1) {
      const first = state.links.get(key);
      if (first && (await linkToFirst(state, first, dstDirFd, name))) return;
      if (!first) state.links.set(key, rel);
    }
    const s = await fsp.open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      const d = await fsp.open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        await copyFileData(s, d);
        await setAttrs(d.fd, st, { src, dst });
      } finally {
        await d.close();
      }
    } finally {
      await s.close();
    }
    return;
  }
  const type = st.mode & S_IFMT;
  if (type === S_IFCHR || type === S_IFBLK || type === S_IFIFO) {
    mknodAt(dstDirFd, name, (st.mode & S_IFMT) | 0o600, st.rdev);
    // The node, not whatever a racer may have put at its name since.
    const p = fs.openSync(dst, O_PATH | O_NOFOLLOW);
    try {
      if ((fs.fstatSync(p).mode & S_IFMT) === type) await setAttrs(p, st, { src, dst });
    } finally {
      fs.closeSync(p);
    }
  }
  // Sockets are not copied (as tar and dockerd's copy-up skip them).
}

async function copyChildren(state: CopyState, srcDirFd: number, dstDirFd: number, rel: Buffer[]): Promise<void> {
  const names = await fsp.readdir(fdPath(srcDirFd), { encoding: 'buffer' });
  for (const name of names) await copyEntry(state, srcDirFd, dstDirFd, name, [...rel, name]);
}

/**
 * Copies the contents of the directory open as `srcDirFd` into the one open as `dstDirFd`
 * (owner, mode, extended attributes, times kept; links copied as links; hard links kept within
 * the tree), then gives
 * the destination the source's owner and mode (dockerd's copyOwnership).
 */
export async function copyTreeAt(srcDirFd: number, dstDirFd: number): Promise<void> {
  const state: CopyState = { links: new Map(), dstRootFd: dstDirFd };
  await copyChildren(state, srcDirFd, dstDirFd, []);
  const st = await fsp.stat(fdPath(srcDirFd));
  await fsp.chown(fdPath(dstDirFd), st.uid, st.gid);
  await fsp.chmod(fdPath(dstDirFd), st.mode & 0o7777);
}
