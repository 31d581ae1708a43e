// Paths inside a container's filesystem, resolved as the container sees them but from the host:
// every symlink is read and followed relative to the container's root, `..` stops at that root,
// so no path handed in by a client (or planted by the container) can name a host file. This is
// moby's symlink.FollowSymlinkInScope plus container.ResolvePath's trailing `/` and `/.` rules.
// Every look at the filesystem goes through an fd of the root with openat2(RESOLVE_IN_ROOT)
// (runtime/safe-fs.ts): a container swapping path components meanwhile may change what is found,
// never make the daemon leave the root. Container path strings are only ever re-opened that way.
import * as path from 'node:path';
import * as sfs from '../../runtime/safe-fs';
import { InvalidParameter, SystemError } from '../../lib/errors';

/** Linux's own limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 255;
/** Linux's NAME_MAX and PATH_MAX, in bytes. */
const NAME_MAX = 255;
const PATH_MAX = 4096;

/**
 * A name the kernel would refuse as too long is dockerd's answer for it, a 500 from its lstat
 * (with the container path where dockerd shows the host one), before any syscall here: the
 * native calls refuse a path of PATH_MAX or more with a bare TypeError.
 */
function checkNameLength(p: string): void {
  if (Buffer.byteLength(p) >= PATH_MAX || p.split('/').some((c) => Buffer.byteLength(c) > NAME_MAX)) {
    throw new SystemError(`lstat ${path.posix.join('/', p)}: file name too long`);
  }
}

/**
 * A container filesystem seen from the host: its root dir (and an O_PATH fd of it, which every
 * lookup goes through), and files bind-mounted over it (/etc/hosts and friends, Berth's own files),
 * keyed by their clean absolute container path.
 */
export interface ContainerRoot {
  root: string;
  fd?: number;
  mounts: ReadonlyMap<string, string>;
}

/** Host path of a bind-mounted file's source, if `containerPath` is one. */
export function mountSource(r: ContainerRoot, containerPath: string): string | undefined {
  return r.mounts.get(containerPath);
}

/**
 * Host path of a clean absolute container path (no symlink resolution). Only for mount sources and
 * messages: opening it would follow whatever links the container put on the way.
 */
export function hostPath(r: ContainerRoot, containerPath: string): string {
  return r.mounts.get(containerPath) ?? path.join(r.root, containerPath);
}

/** Runs `fn` with an fd of the root: r.fd, or one opened for the call. */
export function withRootFd<T>(r: ContainerRoot, fn: (fd: number) => T): T {
  if (r.fd !== undefined) return fn(r.fd);
  return sfs.withFd(sfs.openRoot(r.root), fn);
}

function isNotExist(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** lstat of a container path in the root; undefined when it does not exist. */
export function lstatInRoot(rootFd: number, containerPath: string): sfs.SafeStat | undefined {
  if (containerPath === '/' || containerPath === '') return sfs.fstat(rootFd);
  let dfd: number;
  try {
    dfd = sfs.openInRoot(rootFd, path.posix.dirname(containerPath), sfs.constants.O_PATH | sfs.constants.O_DIRECTORY);
  } catch (err) {
    if (isNotExist(err)) return undefined;
    throw err;
  }
  try {
    return sfs.fstatAt(dfd, path.posix.basename(containerPath), true);
  } catch (err) {
    if (isNotExist(err)) return undefined;
    throw err;
  } finally {
    sfs.closeFd(dfd);
  }
}

/** readlink of a container path's last component, its dir resolved in the root. */
export function readlinkInRoot(rootFd: number, containerPath: string): string {
  return sfs.withFd(sfs.openInRoot(rootFd, path.posix.dirname(containerPath), sfs.constants.O_PATH | sfs.constants.O_DIRECTORY), (dfd) =>
    sfs.readlinkAt(dfd, path.posix.basename(containerPath)),
  );
}

/**
 * Resolves `unsafePath` (a container path, relative ones taken from /) to a clean absolute
 * container path with every symlink followed inside the root, the last component included.
 * Components that do not exist are kept as they are. The result is a name to show or to open
 * again in the root, never a host path.
 */
export function followInScope(r: ContainerRoot, unsafePath: string): string {
  checkNameLength(unsafePath);
  return withRootFd(r, (rootFd) => {
    let resolved = '/';
    let pending = unsafePath.split('/');
    let links = 0;
    while (pending.length > 0) {
      const comp = pending.shift() as string;
      if (comp === '' || comp === '.') continue;
      if (comp === '..') {
        resolved = path.posix.dirname(resolved);
        continue;
      }
      const candidate = path.posix.join(resolved, comp);
      // Bind-mounted files are no links whatever the root holds under them.
      const st = r.mounts.has(candidate) ? undefined : lstatInRoot(rootFd, candidate);
      if (st === undefined || !sfs.isSymlink(st)) {
        resolved = candidate;
        continue;
      }
      if (++links > MAX_SYMLINKS) throw new InvalidParameter(`too many links in ${unsafePath}`);
      const target = readlinkInRoot(rootFd, candidate);
      // A link is read relative to its own dir, or to the container's root when absolute.
      if (target.startsWith('/')) resolved = '/';
      pending = [...target.split('/'), ...pending];
    }
    return resolved;
  });
}

/** Go's filepath.Base: trailing slashes dropped, "/" for the root. */
export function goBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** archive.PreserveTrailingDotOrSeparator: keeps the `/` or `/.` the client wrote after cleaning. */
function preserveTrailing(cleaned: string, original: string): string {
  if (!cleaned.endsWith('.') && original.endsWith('/.')) return cleaned === '/' ? '/.' : `${cleaned}/.`;
  if (!cleaned.endsWith('/') && original.endsWith('/')) return `${cleaned}/`;
  return cleaned;
}

export interface ResolvedPath {
  /** The absolute container path as asked, cleaned, with its trailing `/` or `/.` kept. */
  absPath: string;
  /** Container path whose dir part is resolved in scope; the last component is not followed. */
  containerPath: string;
  /** A trailing `/` or `/.` asked for a directory: anything else is ENOTDIR. */
  mustBeDir: boolean;
}

/**
 * container.ResolvePath: the dir part is followed in scope, the last element is not (so the
 * stat of a symlink describes the link). A trailing `/` makes the last element part of the dir.
 */
export function resolvePath(r: ContainerRoot, p: string): ResolvedPath {
  checkNameLength(p);
  const absPath = preserveTrailing(path.posix.join('/', p), p);
  const cut = absPath.lastIndexOf('/');
  const dir = absPath.slice(0, cut + 1);
  const base = absPath.slice(cut + 1);
  const dirResolved = followInScope(r, dir);
  const containerPath = base === '' || base === '.' ? dirResolved : path.posix.join(dirResolved, base);
  return { absPath, containerPath, mustBeDir: base === '.' || (base === '' && absPath !== '/') };
}

/**
 * lstat of a resolved path: the bind-mounted file's source when it is one, else in the root (the
 * last component not followed). ENOTDIR when a directory was asked for and this is none.
 */
export function lstatResolved(r: ContainerRoot, p: ResolvedPath): sfs.SafeStat {
  const src = mountSource(r, p.containerPath);
  let st: sfs.SafeStat | undefined;
  if (src !== undefined) {
    // Berth's own file: no container can put a link there (it is a mount point inside).
    st = sfs.withFd(sfs.openRoot(path.dirname(src)), (dfd) => sfs.fstatAt(dfd, path.basename(src), true));
  } else {
    st = withRootFd(r, (fd) => lstatInRoot(fd, p.containerPath));
  }
  if (st === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, lstat '${p.absPath}'`), { code: 'ENOENT' });
  if (p.mustBeDir && !sfs.isDirectory(st))
    throw Object.assign(new Error(`ENOTDIR: not a directory, lstat '${p.absPath}'`), { code: 'ENOTDIR' });
  return st;
}

/**
 * Makes the container dir `dir` exist (its links followed in scope) and returns an O_PATH fd of it
 * (the caller closes it) and its resolved container path. Missing components are made with mkdirat
 * on their parent's fd and each is then opened O_NOFOLLOW beneath it: a component the container
 * swaps for a link meanwhile fails the entry, it is never followed.
 */
export function mkdirInScope(r: ContainerRoot, rootFd: number, dir: string): { fd: number; path: string } {
  const resolved = followInScope(r, dir);
  let cur = '/';
  let fd = sfs.openInRoot(rootFd, '/', sfs.constants.O_PATH | sfs.constants.O_DIRECTORY);
  try {
    for (const comp of resolved.split('/').filter(Boolean)) {
      cur = path.posix.join(cur, comp);
      let st: sfs.SafeStat | undefined;
      try {
        st = sfs.fstatAt(fd, comp, true);
      } catch (err) {
        if (!isNotExist(err)) throw err;
      }
      if (st === undefined) {
        try {
          sfs.mkdirAt(fd, comp, 0o755);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      } else if (!sfs.isDirectory(st)) {
        throw new InvalidParameter(`cannot create directory ${cur}: not a directory`);
      }
      const next = sfs.openBeneath(fd, comp, sfs.constants.O_PATH | sfs.constants.O_DIRECTORY | sfs.constants.O_NOFOLLOW);
      sfs.closeFd(fd);
      fd = next;
    }
    return { fd, path: resolved };
  } catch (err) {
    sfs.closeFd(fd);
    throw err;
  }
}
