// Resolves Config.User and HostConfig.GroupAdd to numeric ids from the container's own /etc/passwd
// and /etc/group, with the rules dockerd uses (github.com/moby/sys/user GetExecUser): "" means uid 0,
// numeric ids need no passwd entry, a name must have one; the primary group comes from passwd unless
// "user:group" names one; supplementary groups are the /etc/group memberships of a named user (only
// when no group was given) plus GroupAdd.
//
// The files are read from the container's filesystem before it is mounted: the overlay layer
// directories, upper first. A path is resolved through the union the way overlayfs shows it (a
// whiteout, a 0/0 character device, hides lower layers; a non-directory hides lower directories),
// and symlinks are followed inside the container's root, never out of it. Every look into a layer
// is fd-relative and beneath the layer's dir (openat2 RESOLVE_BENEATH), and the file is opened
// non-blocking, checked to be a regular file and read up to a cap: a running container swapping a
// directory for a link to a host path, or putting a FIFO or /dev/zero at /etc/passwd, gets an
// error or "no such file", never a host file, a stalled daemon or a ballooned read.

import { dirname, basename, join } from 'node:path';
import { InvalidParameter } from '../lib/errors';
import * as sfs from './safe-fs';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** The primary gid first, then the supplementary ones, without duplicates. */
  additionalGids: number[];
  umask?: number;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;
const MAX_SYMLINKS = 40;
const RANGE_ERROR = `uids and gids must be in range 0-${MAX_ID}`;

/** Go's strconv.Atoi on a field of a misbehaving file: non-numbers count as 0. */
function atoi(s: string | undefined): number {
  if (s === undefined || !/^[+-]?\d+$/.test(s)) return 0;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : 0;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const f = line.split(':');
    out.push({ name: f[0] ?? '', uid: atoi(f[2]), gid: atoi(f[3]), home: f[5] ?? '' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    out.push({ name: f[0] ?? '', gid: atoi(f[2]), members: f[3] ? f[3].split(',') : [] });
  }
  return out;
}

/** A uid/gid argument: numeric (in range) or a name. */
function parseNumericId(val: string): { id: number; numeric: boolean } {
  if (val === '' || !/^[+-]?\d+$/.test(val)) return { id: 0, numeric: false };
  const id = Number(val);
  if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) throw new InvalidParameter(RANGE_ERROR);
  return { id, numeric: true };
}

/**
 * The user lookup itself, on file contents (undefined = the file is missing). Error texts are
 * dockerd's: "unable to find user foo: no matching entries in passwd file".
 */
export function lookupUser(spec: string, groupAdd: readonly string[], passwd: string | undefined, group: string | undefined): ResolvedUser {
  const fields = spec.split(':');
  const userArg = fields[0] ?? '';
  const groupArg = fields[1] ?? '';
  const u = parseNumericId(userArg);
  const g = parseNumericId(groupArg);

  const users = passwd === undefined ? [] : parsePasswd(passwd);
  const match = users.find((e) => (userArg === '' ? e.uid === 0 : u.numeric ? e.uid === u.id : e.name === userArg));
  let uid = 0;
  let gid = 0;
  let matchedName = '';
  if (match) {
    matchedName = match.name;
    uid = match.uid;
    gid = match.gid;
  } else if (userArg !== '') {
    if (!u.numeric) throw new InvalidParameter(`unable to find user ${userArg}: no matching entries in passwd file`);
    uid = u.id;
  }

  let sgids: number[] = [];
  if (groupArg !== '' || matchedName !== '') {
    const groups = group === undefined ? [] : parseGroup(group);
    if (groupArg !== '') {
      const found = groups.find((e) => (g.numeric ? e.gid === g.id : e.name === groupArg));
      if (found) gid = found.gid;
      else if (!g.numeric) throw new InvalidParameter(`unable to find group ${groupArg}: no matching entries in group file`);
      else gid = g.id;
    } else {
      sgids = groups.filter((e) => e.members.includes(matchedName)).map((e) => e.gid);
    }
  }

  const extra: number[] = [];
  if (groupAdd.length > 0) {
    const groups = group === undefined ? [] : parseGroup(group);
    for (const name of groupAdd) {
      const arg = parseNumericId(name);
      const found = groups.find((e) => (arg.numeric ? e.gid === arg.id : e.name === name));
      if (found) {
        if (found.gid < 0 || found.gid > MAX_ID) throw new InvalidParameter(RANGE_ERROR);
        extra.push(found.gid);
      } else if (!arg.numeric) {
        throw new InvalidParameter(`unable to find group ${name}: no matching entries in group file`);
      } else {
        extra.push(arg.id);
      }
    }
  }
  return { uid, gid, additionalGids: [...new Set([gid, ...sgids, ...extra])] };
}

// ---- reading a file through the layers ---------------------------------------------------------

type Found = { layer: string; rel: string; stat: sfs.SafeStat } | undefined;

function isWhiteout(st: sfs.SafeStat): boolean {
  return (st.mode & 0o170000) === 0o020000 && st.rdev === 0;
}

function notExist(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // ELOOP/EXDEV: a component swapped for a link since it was checked; treated as absent.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EXDEV';
}

/** Runs `fn` on an O_PATH fd of `rel`'s parent dir, beneath `layer`. */
function inParent<T>(layer: string, rel: string, fn: (dirFd: number, name: string) => T): T {
  return sfs.withFd(sfs.openRoot(layer), (layerFd) =>
    sfs.withFd(sfs.openBeneath(layerFd, dirname(rel), sfs.constants.O_PATH | sfs.constants.O_DIRECTORY), (dfd) => fn(dfd, basename(rel))),
  );
}

function lstatOrUndefined(layer: string, rel: string): sfs.SafeStat | undefined {
  try {
    return inParent(layer, rel, (dfd, name) => sfs.fstatAt(dfd, name, true));
  } catch (err) {
    if (notExist(err)) return undefined;
    throw err;
  }
}

/**
 * What the union shows at `parts` (already free of symlinks in its parents): the top-most layer
 * that has an entry, unless a layer above it hides it with a whiteout or a non-directory on the way.
 */
function unionLstat(layers: readonly string[], parts: readonly string[]): Found {
  for (const layer of layers) {
    for (let k = 1; k <= parts.length; k++) {
      const rel = parts.slice(0, k).join('/');
      const st = lstatOrUndefined(layer, rel);
      if (!st) break; // Nothing here in this layer: look in the next one down.
      if (isWhiteout(st)) return undefined;
      if (k === parts.length) return { layer, rel, stat: st };
      if (!sfs.isDirectory(st)) return undefined; // A file or symlink over a directory hides lower ones.
    }
  }
  return undefined;
}

/** Resolves `path` inside the union root, following symlinks within it: the layer and path of a regular file. */
function resolveFound(layers: readonly string[], path: string): { layer: string; rel: string } | undefined {
  let pending = path.split('/').filter((p) => p !== '' && p !== '.');
  let resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const name = pending[0];
    pending = pending.slice(1);
    if (name === '..') {
      resolved = resolved.slice(0, -1); // ".." at the root stays at the root.
      continue;
    }
    const candidate = [...resolved, name];
    const found = unionLstat(layers, candidate);
    if (!found) return undefined;
    if (sfs.isSymlink(found.stat)) {
      if (++hops > MAX_SYMLINKS) return undefined;
      let target: string;
      try {
        target = inParent(found.layer, found.rel, (dfd, n) => sfs.readlinkAt(dfd, n));
      } catch (err) {
        if (notExist(err) || (err as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
        throw err;
      }
      if (target.startsWith('/')) resolved = [];
      pending = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...pending];
      continue;
    }
    if (pending.length > 0 && !sfs.isDirectory(found.stat)) return undefined;
    if (pending.length === 0) return sfs.isRegular(found.stat) ? { layer: found.layer, rel: found.rel } : undefined;
    resolved = candidate;
  }
  return undefined;
}

/** Resolves `path` inside the union root, following symlinks within it; the host path of a regular file (for messages and tests). */
export async function resolveInLayers(layers: readonly string[], path: string): Promise<string | undefined> {
  const found = resolveFound(layers, path);
  return found === undefined ? undefined : join(found.layer, found.rel);
}

/** A cap on /etc/passwd and /etc/group: real ones are a few KiB. */
const MAX_USER_FILE = sfs.SMALL_FILE_CAP;

/** The text of a file in the container's filesystem, or undefined when it has none (or none that is a small regular file). */
export async function readContainerFile(layers: readonly string[], path: string): Promise<string | undefined> {
  const found = resolveFound(layers, path);
  if (!found) return undefined;
  try {
    // Beneath the layer, not following the last component (checked to be a regular file: if it is
    // anything else now, this fails), non-blocking, type-checked again on the fd, capped.
    const fd = sfs.withFd(sfs.openRoot(found.layer), (layerFd) =>
      sfs.openBeneath(layerFd, found.rel, sfs.constants.O_RDONLY | sfs.constants.O_NOFOLLOW | sfs.constants.O_NONBLOCK),
    );
    return sfs.withFd(fd, (f) => sfs.readSmallFd(f, MAX_USER_FILE, path).toString('utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (notExist(err) || code === 'EINVAL' || code === 'EFBIG') return undefined;
    throw err;
  }
}

/**
 * Resolves `user` ('' | name | uid | name:group | uid:gid ...) and `groupAdd` against the passwd and
 * group files of the container whose filesystem is `rootDirs` (overlay layer dirs, upper first).
 */
export async function resolveUser(rootDirs: readonly string[], user: string, groupAdd: readonly string[] = []): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([readContainerFile(rootDirs, '/etc/passwd'), readContainerFile(rootDirs, '/etc/group')]);
  return lookupUser(user, groupAdd, passwd, group);
}
