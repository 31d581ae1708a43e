// Path-safe file operations inside a container's root, over the native addon native/safefs.c.
// Every client-, image- or container-named path is resolved by the kernel (openat2 with
// RESOLVE_IN_ROOT or RESOLVE_BENEATH, magic links refused) relative to an fd of the root, and
// every change is made with *at calls on an opened parent's fd or on the opened file itself: a
// container that swaps links or directories concurrently can never send the daemon to a host
// file, which re-joining resolved path strings could not promise.
import * as fs from 'node:fs';
import { nativeAddon } from '../lib/native-addon';

/** A path or a single name: a string (UTF-8) or raw bytes. */
export type FsName = string | Buffer;

/** fstatat's result; times in nanoseconds. */
export interface SafeStat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  rdevMajor: number;
  rdevMinor: number;
  size: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

interface Addon {
  openRoot(p: FsName): number;
  openInRoot(fd: number, rel: FsName, flags: number, mode?: number): number;
  openBeneath(fd: number, rel: FsName, flags: number, mode?: number): number;
  mkdirAt(fd: number, name: FsName, mode: number): void;
  unlinkAt(fd: number, name: FsName, isDir: boolean): void;
  symlinkAt(target: FsName, fd: number, name: FsName): void;
  linkAt(oldFd: number, oldName: FsName, newFd: number, newName: FsName): void;
  mknodAt(fd: number, name: FsName, mode: number, dev: number): void;
  renameAt(oldFd: number, oldName: FsName, newFd: number, newName: FsName): void;
  readlinkAt(fd: number, name: FsName): Buffer;
  fstatAt(fd: number, name: FsName, noFollow: boolean): SafeStat;
  fchownAt(fd: number, name: FsName, uid: number, gid: number, noFollow: boolean): void;
  fchmodAt(fd: number, name: FsName, mode: number, noFollow: boolean): void;
  utimensAt(fd: number, name: FsName, as: number, an: number, ms: number, mn: number, noFollow: boolean): void;
  fchown(fd: number, uid: number, gid: number): void;
  fchmod(fd: number, mode: number): void;
  futimens(fd: number, as: number, an: number, ms: number, mn: number): void;
  listDir(fd: number): Buffer[];
  mount(source: FsName, target: FsName, fstype: string, flags: number, data: string): void;
  umount2(target: FsName, flags: number): void;
  closeFd(fd: number): void;
  constants: Record<string, number>;
}

const addon = nativeAddon<Addon>();

export const constants = {
  O_PATH: addon.constants.O_PATH,
  O_DIRECTORY: addon.constants.O_DIRECTORY,
  O_NOFOLLOW: addon.constants.O_NOFOLLOW,
  O_NONBLOCK: addon.constants.O_NONBLOCK,
  O_RDONLY: fs.constants.O_RDONLY,
  O_WRONLY: fs.constants.O_WRONLY,
  O_RDWR: fs.constants.O_RDWR,
  O_CREAT: fs.constants.O_CREAT,
  O_EXCL: fs.constants.O_EXCL,
  O_TRUNC: fs.constants.O_TRUNC,
  MS_RDONLY: addon.constants.MS_RDONLY,
  MS_NOSUID: addon.constants.MS_NOSUID,
  MS_NODEV: addon.constants.MS_NODEV,
  MS_NOEXEC: addon.constants.MS_NOEXEC,
  MS_REMOUNT: addon.constants.MS_REMOUNT,
  MS_BIND: addon.constants.MS_BIND,
  MS_REC: addon.constants.MS_REC,
  MS_PRIVATE: addon.constants.MS_PRIVATE,
  MS_SLAVE: addon.constants.MS_SLAVE,
  MNT_DETACH: addon.constants.MNT_DETACH,
  MNT_FORCE: addon.constants.MNT_FORCE,
  UMOUNT_NOFOLLOW: addon.constants.UMOUNT_NOFOLLOW,
} as const;

/** An O_PATH|O_DIRECTORY fd of a root to resolve paths in. */
export function openRoot(rootPath: FsName): number {
  return addon.openRoot(rootPath);
}

/**
 * openat2(rootFd, rel, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS): `..` and absolute links stop at the
 * root, as a chroot would resolve them. O_CLOEXEC is always added; "" or "/" opens the root.
 */
export function openInRoot(rootFd: number, rel: FsName, flags: number, mode?: number): number {
  return addon.openInRoot(rootFd, rel, flags, mode);
}

/** openat2 with RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS: any escape fails with EXDEV. */
export function openBeneath(dirFd: number, rel: FsName, flags: number, mode?: number): number {
  return addon.openBeneath(dirFd, rel, flags, mode);
}

/** mkdirat; `name` is one component (a '/' in it is refused with EINVAL). */
export function mkdirAt(dirFd: number, name: FsName, mode: number): void {
  addon.mkdirAt(dirFd, name, mode);
}

export function unlinkAt(dirFd: number, name: FsName, isDir: boolean): void {
  addon.unlinkAt(dirFd, name, isDir);
}

export function symlinkAt(target: FsName, dirFd: number, name: FsName): void {
  addon.symlinkAt(target, dirFd, name);
}

/** linkat; an empty oldName links the file oldDirFd is open on (AT_EMPTY_PATH). */
export function linkAt(oldDirFd: number, oldName: FsName, newDirFd: number, newName: FsName): void {
  addon.linkAt(oldDirFd, oldName, newDirFd, newName);
}

/** mknodat; `mode` carries the type bits (S_IFIFO, S_IFCHR...), `dev` is makedev(major, minor). */
export function mknodAt(dirFd: number, name: FsName, mode: number, dev: number): void {
  addon.mknodAt(dirFd, name, mode, dev);
}

/** Linux's makedev. */
export function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

export function renameAt(oldDirFd: number, oldName: FsName, newDirFd: number, newName: FsName): void {
  addon.renameAt(oldDirFd, oldName, newDirFd, newName);
}

/** A link's target as written (UTF-8); "" reads the link an O_PATH|O_NOFOLLOW fd is open on. */
export function readlinkAt(dirFd: number, name: FsName): string {
  return addon.readlinkAt(dirFd, name).toString('utf8');
}

export function readlinkAtBuffer(dirFd: number, name: FsName): Buffer {
  return addon.readlinkAt(dirFd, name);
}

/** fstatat; name "" stats dirFd itself (O_PATH fds included). */
export function fstatAt(dirFd: number, name: FsName, noFollow: boolean): SafeStat {
  return addon.fstatAt(dirFd, name, noFollow);
}

/** fstat of an fd, O_PATH ones included. */
export function fstat(fd: number): SafeStat {
  return addon.fstatAt(fd, '', false);
}

export function fchownAt(dirFd: number, name: FsName, uid: number, gid: number, noFollow: boolean): void {
  addon.fchownAt(dirFd, name, uid, gid, noFollow);
}

/** fchmodat2 (NOFOLLOW honoured; a symlink gives EOPNOTSUPP). name "" changes dirFd's file. */
export function fchmodAt(dirFd: number, name: FsName, mode: number, noFollow: boolean): void {
  addon.fchmodAt(dirFd, name, mode, noFollow);
}

function splitNs(ns: bigint): [number, number] {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

/** utimensat with times in ns since the epoch; name "" sets dirFd's own file. */
export function utimensAt(dirFd: number, name: FsName, atimeNs: bigint, mtimeNs: bigint, noFollow: boolean): void {
  const [as, an] = splitNs(atimeNs);
  const [ms, mn] = splitNs(mtimeNs);
  addon.utimensAt(dirFd, name, as, an, ms, mn, noFollow);
}

export function fchown(fd: number, uid: number, gid: number): void {
  addon.fchown(fd, uid, gid);
}

export function fchmod(fd: number, mode: number): void {
  addon.fchmod(fd, mode);
}

export function futimens(fd: number, atimeNs: bigint, mtimeNs: bigint): void {
  const [as, an] = splitNs(atimeNs);
  const [ms, mn] = splitNs(mtimeNs);
  addon.futimens(fd, as, an, ms, mn);
}

/** The entries of a directory fd as raw bytes (non-UTF-8 names survive). */
export function listDirRaw(dirFd: number): Buffer[] {
  return addon.listDir(dirFd);
}

/** The entries of a directory fd as strings (UTF-8). */
export function listDir(dirFd: number): string[] {
  return addon.listDir(dirFd).map((b) => b.toString('utf8'));
}

/** mount(2) as is: source "" for none, fstype "" for binds and remounts. */
export function mount(source: FsName, target: FsName, fstype: string, flags: number, data = ''): void {
  addon.mount(source, target, fstype, flags, data);
}

/** A bind mount (recursive unless told); `fromPath` may be /proc/self/fd/N of a resolved fd. */
export function mountBind(fromPath: FsName, toPath: FsName, opts: { recursive?: boolean } = {}): void {
  addon.mount(fromPath, toPath, '', constants.MS_BIND | (opts.recursive === false ? 0 : constants.MS_REC), '');
}

/** Remounts a bind with `flags` (MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC...). */
export function remountBind(target: FsName, flags: number): void {
  addon.mount('', target, '', constants.MS_REMOUNT | constants.MS_BIND | flags, '');
}

export function umount2(target: FsName, flags: number): void {
  addon.umount2(target, flags);
}

export function closeFd(fd: number): void {
  addon.closeFd(fd);
}

/** Runs `fn` with an fd, closing it after. */
export function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    addon.closeFd(fd);
  }
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

export function isRegular(st: SafeStat): boolean {
  return (st.mode & S_IFMT) === S_IFREG;
}

export function isDirectory(st: SafeStat): boolean {
  return (st.mode & S_IFMT) === S_IFDIR;
}

export function isSymlink(st: SafeStat): boolean {
  return (st.mode & S_IFMT) === S_IFLNK;
}

/** A file that is not one, or too big to read whole: its code tells which. */
function fileError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  err.code = code;
  return err;
}

/** The default cap of readSmallFile: /etc/passwd and /etc/group are far smaller. */
export const SMALL_FILE_CAP = 4 * 1024 * 1024;

/**
 * Reads a small regular file named inside the root: opened in root without blocking (a FIFO
 * answers at once), refused unless fstat says regular file (EINVAL: a device such as /dev/zero
 * never balloons the daemon), and refused past `cap` bytes (EFBIG), counting what is actually read.
 */
export function readSmallFile(rootFd: number, rel: FsName, cap = SMALL_FILE_CAP): Buffer {
  return withFd(openInRoot(rootFd, rel, constants.O_RDONLY | constants.O_NONBLOCK), (fd) => readSmallFd(fd, cap, String(rel)));
}

/** readSmallFile's checks and capped read on an fd already open for reading (not closed here). */
export function readSmallFd(fd: number, cap = SMALL_FILE_CAP, what = `fd ${fd}`): Buffer {
  const st = fstat(fd);
  if (!isRegular(st)) throw fileError('EINVAL', `not a regular file: ${what}`);
  if (st.size > cap) throw fileError('EFBIG', `file too large: ${what}`);
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.alloc(Math.min(64 * 1024, cap + 1 - total));
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
    if (total > cap) throw fileError('EFBIG', `file too large: ${what}`);
  }
  return Buffer.concat(chunks);
}

// ---- Extended attributes (mounts helper: copy-up keeps them). Never follow the final component.
interface XattrAddon {
  lListXattr(p: FsName): Buffer;
  lGetXattr(p: FsName, name: FsName): Buffer;
  lSetXattr(p: FsName, name: FsName, value: Buffer): void;
}
const xattrAddon = addon as unknown as XattrAddon;

/** The names of the extended attributes of `p` (its last component not followed). */
export function lListXattrs(p: FsName): Buffer[] {
  const raw = xattrAddon.lListXattr(p);
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0) continue;
    if (i > start) out.push(raw.subarray(start, i));
    start = i + 1;
  }
  return out;
}

export function lGetXattr(p: FsName, name: FsName): Buffer {
  return xattrAddon.lGetXattr(p, name);
}

export function lSetXattr(p: FsName, name: FsName, value: Buffer): void {
  xattrAddon.lSetXattr(p, name, value);
}
