// Paths inside a container's filesystem, resolved as the container sees them but from the host:
// every symlink is read and followed relative to the container's root, `..` stops at that root,
// so no path handed in by a client (or planted by the container) can name a host file. This is
// moby's symlink.FollowSymlinkInScope plus container.ResolvePath's trailing `/` and `/.` rules.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidParameter } from '../errors';

/** Linux's own limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 255;

/**
 * A container filesystem seen from the host: its root dir, and files bind-mounted over it
 * (/etc/hosts and friends), keyed by their clean absolute container path.
 */
export interface ContainerRoot {
  root: string;
  mounts: ReadonlyMap<string, string>;
}

/** Host path of a clean absolute container path (no symlink resolution). */
export function hostPath(r: ContainerRoot, containerPath: string): string {
  return r.mounts.get(containerPath) ?? path.join(r.root, containerPath);
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * Resolves `unsafePath` (a container path, relative ones taken from /) to a clean absolute
 * container path with every symlink followed inside the root, the last component included.
 * Components that do not exist are kept as they are.
 */
export function followInScope(r: ContainerRoot, unsafePath: string): string {
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
    const st = lstatOrUndefined(hostPath(r, candidate));
    if (st === undefined || !st.isSymbolicLink()) {
      resolved = candidate;
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new InvalidParameter(`too many links in ${unsafePath}`);
    const target = fs.readlinkSync(hostPath(r, candidate));
    // A link is read relative to its own dir, or to the container's root when absolute.
    if (target.startsWith('/')) resolved = '/';
    pending = [...target.split('/'), ...pending];
  }
  return resolved;
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
  /** Where that is on the host. */
  host: string;
}

/**
 * container.ResolvePath: the dir part is followed in scope, the last element is not (so the
 * stat of a symlink describes the link). A trailing `/` makes the last element part of the dir.
 */
export function resolvePath(r: ContainerRoot, p: string): ResolvedPath {
  const absPath = preserveTrailing(path.posix.join('/', p), p);
  const cut = absPath.lastIndexOf('/');
  const dir = absPath.slice(0, cut + 1);
  const base = absPath.slice(cut + 1);
  const dirResolved = followInScope(r, dir);
  const containerPath = base === '' || base === '.' ? dirResolved : path.posix.join(dirResolved, base);
  // A trailing `/` or `/.` asks for a dir: kept on the host path, lstat fails for anything else.
  const host = base === '.' ? `${hostPath(r, dirResolved)}/.` : base === '' && absPath !== '/' ? `${hostPath(r, dirResolved)}/` : hostPath(r, containerPath);
  return { absPath, containerPath, host };
}
