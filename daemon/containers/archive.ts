// docker cp: stat, read and write paths inside a container (HEAD/GET/PUT /containers/{id}/archive),
// as moby's daemon/archive.go with pkg/archive's rules, every path resolved inside the container's
// root (rootfs-path.ts) so neither the request nor the container's own links reach host files.
// Extraction works by fd as moby's chrooted unpacker works in its chroot: each entry's parent is
// opened in the root (openat2 RESOLVE_IN_ROOT), and the entry is created, removed, chmod-ed,
// chown-ed and timed with *at calls on that fd (never following its last component) or through the
// fd of the file it created, so a container re-pointing links or swapping directories meanwhile
// cannot make any of it land on the host.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import * as tar from 'tar-stream';
import type { Containerd } from '../../runtime/containerd';
import * as sfs from '../../runtime/safe-fs';
import { lookupUser } from '../../runtime/user';
import { decompressStream } from '../images/compression';
import type { EventBus } from '../events';
import { errorMessage, InvalidParameter, NotFound, SystemError } from '../../lib/errors';
import { containerEventAttributes } from './model';
import { openContainerRoot, withContainerRoot, type HostMounts, type RootOwner } from './rootfs-access';
import {
  followInScope,
  goBase,
  lstatResolved,
  mkdirInScope,
  mountSource,
  resolvePath,
  withRootFd,
  type ContainerRoot,
} from './rootfs-path';
import { tarTree } from './tar-tree';

const writeFd = promisify(fs.write);

/** The X-Docker-Container-Path-Stat document (types.ContainerPathStat); mode in Go's FileMode bits. */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface ContainerLookup {
  get(input: string): RootOwner;
  /**
   * Runs `fn` holding the container's lifecycle lock, as moby's extraction holds the container's
   * lock: a restart then neither unmounts the rootfs under an upload nor mounts it beside one.
   */
  exclusive?<T>(id: string, fn: () => Promise<T>): Promise<T>;
}

export interface ArchiveDeps {
  ctd: Containerd;
  containers: ContainerLookup;
  events: EventBus;
  /** The container's volumes and binds, mounted for each operation as dockerd mounts them. */
  hostMounts?: HostMounts;
}

// Go's os.FileMode type bits.
const GoMode = {
  Dir: 2 ** 31,
  Symlink: 2 ** 27,
  Device: 2 ** 26,
  NamedPipe: 2 ** 25,
  Socket: 2 ** 24,
  Setuid: 2 ** 23,
  Setgid: 2 ** 22,
  CharDevice: 2 ** 21,
  Sticky: 2 ** 20,
} as const;

/** An lstat result (or a raw st_mode) as Go's FileMode. */
export function goFileMode(st: { mode: number }): number {
  const mode = st.mode;
  let m = mode & 0o777;
  if (mode & 0o4000) m += GoMode.Setuid;
  if (mode & 0o2000) m += GoMode.Setgid;
  if (mode & 0o1000) m += GoMode.Sticky;
  switch (mode & 0o170000) {
    case 0o040000:
      return m + GoMode.Dir;
    case 0o120000:
      return m + GoMode.Symlink;
    case 0o010000:
      return m + GoMode.NamedPipe;
    case 0o140000:
      return m + GoMode.Socket;
    case 0o020000:
      return m + GoMode.Device + GoMode.CharDevice;
    case 0o060000:
      return m + GoMode.Device;
    default:
      return m;
  }
}

/** Go's time.Time JSON form (RFC 3339 with nanoseconds, trailing zeros dropped), in UTC. */
export function goTime(st: { mtimeNs: bigint }): string {
  const ns = st.mtimeNs;
  const secs = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

function isNotExist(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function fileNotFound(p: string, container: string): NotFound {
  return new NotFound(`Could not find the file ${p} in container ${container}`);
}

/** StatPath: lstat of the resolved path; a symlink's target fully resolved in scope. */
function statResolved(
  r: ContainerRoot,
  p: string,
): { stat: ContainerPathStat; lst: sfs.SafeStat; resolved: ReturnType<typeof resolvePath> } {
  const resolved = resolvePath(r, p);
  const lst = lstatResolved(r, resolved);
  const linkTarget = sfs.isSymlink(lst) ? followInScope(r, resolved.absPath) : '';
  const stat = { name: goBase(resolved.absPath), size: lst.size, mode: goFileMode(lst), mtime: goTime(lst), linkTarget };
  return { stat, lst, resolved };
}

export class ContainerArchive {
  /** Uploads into one container run one at a time: a stopped one gets one read-write mount. */
  private readonly writers = new Map<string, Promise<void>>();

  constructor(private readonly deps: ArchiveDeps) {}

  private async serialized(id: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.writers.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.writers.set(id, tail);
    try {
      await run;
    } finally {
      if (this.writers.get(id) === tail) this.writers.delete(id);
    }
  }

  async stat(input: string, p: string): Promise<ContainerPathStat> {
    const { id } = this.deps.containers.get(input).record;
    const unlock = await this.hold(id);
    try {
      // Looked up again under the lock: a remove may have won the race for it.
      const c = this.deps.containers.get(id);
      return await withContainerRoot(
        this.deps.ctd,
        c,
        'read',
        async (r) => {
          try {
            return statResolved(r, p).stat;
          } catch (err) {
            if (isNotExist(err)) throw fileNotFound(p, input);
            throw err;
          }
        },
        this.deps.hostMounts,
      );
    } finally {
      unlock();
    }
  }

  /**
   * Takes the container's lifecycle lock until the returned function is called. As dockerd's
   * archive path holds the container's lock until the archive is read, a remove (or a stop) waits
   * instead of taking the snapshot from under the temporary mount.
   */
  private async hold(id: string): Promise<() => void> {
    const { exclusive } = this.deps.containers;
    if (!exclusive) return () => undefined;
    let unlock!: () => void;
    const held = new Promise<void>((resolve) => (unlock = resolve));
    await new Promise<void>((entered) => {
      exclusive
        .call(this.deps.containers, id, async () => {
          entered();
          await held;
        })
        .catch(() => undefined);
    });
    return unlock;
  }

  /** The tar of `p` with its stat; the stream releases the container's filesystem when done. */
  async archive(input: string, p: string): Promise<{ stat: ContainerPathStat; tar: Readable }> {
    const { id } = this.deps.containers.get(input).record;
    const unlock = await this.hold(id);
    let opened: Awaited<ReturnType<typeof openContainerRoot>>;
    let c: ReturnType<ContainerLookup['get']>;
    try {
      c = this.deps.containers.get(id);
      opened = await openContainerRoot(this.deps.ctd, c, 'read', this.deps.hostMounts);
    } catch (err) {
      unlock();
      throw err;
    }
    const { r } = opened;
    const release = async (): Promise<void> => {
      try {
        await opened.release();
      } finally {
        unlock();
      }
    };
    try {
      let st: ReturnType<typeof statResolved>;
      try {
        st = statResolved(r, p);
      } catch (err) {
        if (isNotExist(err)) throw fileNotFound(p, input);
        throw err;
      }
      // TarResourceRebase: a dir's content is named after the asked path's base ("." for
      // "dir/."), anything else (a symlink included: it is not followed) under its own base.
      const isDir = sfs.isDirectory(st.lst);
      const rebase = goBase(st.resolved.absPath);
      // The root is named "/" and its entries "/bin", "/etc"... as moby's rebase does.
      const name = isDir && st.resolved.absPath.endsWith('/.') ? '.' : rebase;
      const pack = tarTree({ r, containerPath: st.resolved.containerPath, name }, release);
      this.deps.events.publish('container', 'archive-path', c.record.id, containerEventAttributes(c.record));
      const tar = Readable.from(pack);
      // However the reader ends (a client gone before the first read included), the tree walk
      // stops and releases the mount and the lock.
      tar.once('close', () => pack.destroy());
      return { stat: st.stat, tar };
    } catch (err) {
      await release();
      throw err;
    }
  }

  async extract(input: string, p: string, body: Readable, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    const found = this.deps.containers.get(input);
    const id = found.record.id;
    const run = (): Promise<void> => this.extractInto(input, id, p, body, opts);
    const containers = this.deps.containers;
    await this.serialized(id, () => (containers.exclusive ? containers.exclusive(id, run) : run()));
    this.deps.events.publish('container', 'extract-to-dir', found.record.id, containerEventAttributes(found.record));
  }

  private async extractInto(
    input: string,
    id: string,
    p: string,
    body: Readable,
    opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean },
  ): Promise<void> {
    // Looked up again: the container may have started or stopped while waiting for its turn.
    const c = this.deps.containers.get(id);
    await withContainerRoot(
      this.deps.ctd,
      c,
      'write',
      async (r) => {
        const dest = followInScope(r, path.posix.join('/', p));
        const st = withRootFd(r, (fd) => {
          try {
            return sfs.withFd(sfs.openInRoot(fd, dest, sfs.constants.O_PATH), (d) => sfs.fstat(d));
          } catch (err) {
            if (isNotExist(err)) throw fileNotFound(p, input);
            throw err;
          }
        });
        // dockerd answers both with a plain error, hence 500.
        if (!sfs.isDirectory(st)) throw new SystemError('extraction point is not a directory');
        // moby's checkIfPathIsInAVolume: the first mount holding the path decides; outside every
        // mount, a read-only rootfs refuses.
        const mount = (c.record.mounts ?? []).find(
          (m) => m.type !== 'tmpfs' && (dest === m.destination || dest.startsWith(`${m.destination.replace(/\/$/, '')}/`)),
        );
        if (mount && !mount.rw) throw new SystemError('mounted volume is marked read-only');
        if (!mount && c.record.hostConfig.ReadonlyRootfs) throw new SystemError('container rootfs is marked read-only');
        let owner: { uid: number; gid: number } | undefined;
        if (opts.copyUIDGID && (c.record.config.User ?? '') !== '') {
          // Type-checked and capped: a FIFO or /dev/zero there fails at once, as a missing file.
          const read = (f: string): string | undefined => {
            try {
              return withRootFd(r, (fd) => sfs.readSmallFile(fd, f).toString('utf8'));
            } catch {
              return undefined;
            }
          };
          const u = lookupUser(c.record.config.User ?? '', [], read('/etc/passwd'), read('/etc/group'));
          owner = { uid: u.uid, gid: u.gid };
        }
        await untarInScope(r, dest, body, { noOverwriteDirNonDir: opts.noOverwriteDirNonDir, owner });
      },
      this.deps.hostMounts,
    );
  }
}

export interface UntarOptions {
  noOverwriteDirNonDir: boolean;
  /** Owner of every extracted entry instead of the archive's (copyUIDGID). */
  owner?: { uid: number; gid: number };
  /** Permission bits of every extracted entry instead of the archive's (a build's COPY --chmod). */
  mode?: number;
}

/** A refused archive: dockerd's text (its chrooted unpacker's exit status included), as 400. */
function badArchive(msg: string): InvalidParameter {
  return new InvalidParameter(`Error processing tar file(exit status 1): ${msg}`);
}

const C = sfs.constants;

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Removes `name` in `dirFd` and, for a directory, all below it, by fd: each subdirectory opened
 * O_NOFOLLOW beneath its parent, so a directory swapped for a link to a host dir meanwhile has only
 * the link removed. `tries` bounds a container flipping an entry between dir and non-dir.
 */
function removeAt(dirFd: number, name: sfs.FsName, isDir: boolean, tries = 8): void {
  if (isDir) {
    let sub: number | undefined;
    try {
      sub = sfs.openBeneath(dirFd, name, C.O_PATH | C.O_DIRECTORY | C.O_NOFOLLOW);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT') return;
      if (code !== 'ELOOP' && code !== 'ENOTDIR') throw err;
    }
    if (sub !== undefined) {
      try {
        for (const n of sfs.listDirRaw(sub)) {
          let st: sfs.SafeStat;
          try {
            st = sfs.fstatAt(sub, n, true);
          } catch (err) {
            if (errCode(err) === 'ENOENT') continue;
            throw err;
          }
          removeAt(sub, n, sfs.isDirectory(st));
        }
      } finally {
        sfs.closeFd(sub);
      }
      try {
        sfs.unlinkAt(dirFd, name, true);
      } catch (err) {
        const code = errCode(err);
        if (code === 'ENOENT') return;
        if (code === 'ENOTDIR' && tries > 0) return removeAt(dirFd, name, false, tries - 1);
        throw err;
      }
      return;
    }
  }
  try {
    sfs.unlinkAt(dirFd, name, false);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT') return;
    if (code === 'EISDIR' && tries > 0) return removeAt(dirFd, name, true, tries - 1);
    throw err;
  }
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) void _;
}

/** Writes the entry's data to an opened fd (owned by the caller). */
async function writeEntryData(stream: AsyncIterable<unknown>, fd: number): Promise<void> {
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    let off = 0;
    while (off < buf.length) off += (await writeFd(fd, buf, off, buf.length - off)).bytesWritten;
  }
}

/** Opens the source of a bind-mounted file (Berth's own file) for writing through. */
function openMountSource(src: string): number {
  return sfs.withFd(sfs.openRoot(path.dirname(src)), (d) =>
    sfs.openBeneath(d, path.basename(src), C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_NOFOLLOW | C.O_NONBLOCK, 0o644),
  );
}

function dateNs(d: Date): bigint {
  return BigInt(d.getTime()) * 1_000_000n;
}

const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** Extracts a (possibly compressed) tar into the container dir `dest` as pkg/archive's Unpack. */
export async function untarInScope(r: ContainerRoot, dest: string, body: Readable, opts: UntarOptions): Promise<void> {
  const own = r.fd === undefined ? sfs.openRoot(r.root) : undefined;
  try {
    await untarFd({ ...r, fd: own ?? r.fd }, own ?? (r.fd as number), dest, body, opts);
  } finally {
    if (own !== undefined) sfs.closeFd(own);
  }
}

async function untarFd(r: ContainerRoot, rootFd: number, dest: string, body: Readable, opts: UntarOptions): Promise<void> {
  const dirTimes: Array<{ cpath: string; mtime: bigint }> = [];
  let input: Readable;
  try {
    input = await decompressStream(body, 'archives');
  } catch (err) {
    throw badArchive(errorMessage(err));
  }
  const ex = tar.extract();
  input.on('error', (err) => ex.destroy(err));
  input.pipe(ex);
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const clean = path.posix.normalize(h.name).replace(/\/+$/, '') || '.';
      const target = path.posix.join(dest, clean);
      const rel = path.posix.relative(dest, target);
      if (rel === '..' || rel.startsWith('../')) throw badArchive(`${JSON.stringify(h.name)} is outside of ${JSON.stringify(dest)}`);
      if (rel === '') {
        await drain(entry);
        continue;
      }
      const parent = mkdirInScope(r, rootFd, path.posix.dirname(target));
      try {
        await extractEntry(r, rootFd, parent, entry, target, dest, opts, dirTimes);
      } finally {
        sfs.closeFd(parent.fd);
      }
    }
  } catch (err) {
    ex.destroy();
    input.destroy();
    if (err instanceof InvalidParameter || err instanceof NotFound) throw err;
    const msg = errorMessage(err);
    // tar-stream's parse errors, in Go's archive/tar words.
    if (/Invalid tar header/i.test(msg)) throw badArchive('archive/tar: invalid tar header');
    if (/Unexpected end of data/i.test(msg)) throw badArchive('unexpected EOF');
    throw err;
  }
  // Directory times last: extracting into a dir changed them. Each is found again in the root and
  // set without following its last component.
  for (const d of dirTimes.reverse()) {
    try {
      sfs.withFd(sfs.openInRoot(rootFd, path.posix.dirname(d.cpath), C.O_PATH | C.O_DIRECTORY), (pfd) =>
        sfs.utimensAt(pfd, path.posix.basename(d.cpath), d.mtime, d.mtime, true),
      );
    } catch (err) {
      if (!isNotExist(err)) throw err;
    }
  }
}

async function extractEntry(
  r: ContainerRoot,
  rootFd: number,
  parent: { fd: number; path: string },
  entry: AsyncIterable<unknown> & { header: tar.Header },
  target: string,
  dest: string,
  opts: UntarOptions,
  dirTimes: Array<{ cpath: string; mtime: bigint }>,
): Promise<void> {
  const h = entry.header;
  const pfd = parent.fd;
  const base = path.posix.basename(target);
  const cpath = path.posix.join(parent.path, base);
  const src = mountSource(r, cpath);
  const mounted = src !== undefined;
  const isDir = h.type === 'directory';
  const isFile = h.type === 'file' || h.type === 'contiguous-file';
  // A bind-mounted file only takes new content: replacing its source by a link or a dir would
  // redirect what the next start mounts into the container. dockerd fails the same way.
  if (mounted && !isFile) throw new SystemError(`unlinkat ${cpath}: device or resource busy`);
  let existing: sfs.SafeStat | undefined;
  try {
    existing = sfs.fstatAt(pfd, base, true);
  } catch (err) {
    if (!isNotExist(err)) throw err;
  }
  if (existing) {
    const exDir = sfs.isDirectory(existing);
    if (opts.noOverwriteDirNonDir && exDir && !isDir) {
      throw badArchive(`cannot overwrite directory ${JSON.stringify(cpath)} with non-directory ${JSON.stringify(dest)}`);
    }
    if (opts.noOverwriteDirNonDir && !exDir && isDir) {
      throw badArchive(`cannot overwrite non-directory ${JSON.stringify(cpath)} with directory ${JSON.stringify(dest)}`);
    }
    // A bind-mounted file is written through, as it would be in the container.
    const keep = (exDir && isDir) || mounted;
    if (!keep) removeAt(pfd, base, exDir);
  }
  const mode = opts.mode ?? (h.mode ?? 0o644) & 0o7777;
  const uid = opts.owner?.uid ?? h.uid ?? 0;
  const gid = opts.owner?.gid ?? h.gid ?? 0;
  const mtime = dateNs(h.mtime ?? new Date());
  switch (h.type) {
    case 'directory':
      if (!existing || !sfs.isDirectory(existing)) sfs.mkdirAt(pfd, base, mode);
      break;
    case 'file':
    case 'contiguous-file': {
      // O_EXCL|O_NOFOLLOW beneath the parent: whatever the container put there since is refused.
      const fd =
        src !== undefined ? openMountSource(src) : sfs.openBeneath(pfd, base, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode);
      try {
        await writeEntryData(entry, fd);
        if (!mounted) {
          sfs.fchown(fd, uid, gid);
          sfs.fchmod(fd, mode);
        }
        sfs.futimens(fd, mtime, mtime);
      } finally {
        sfs.closeFd(fd);
      }
      return;
    }
    case 'symlink': {
      const linkname = h.linkname ?? '';
      const resolvedTarget = path.posix.join(path.posix.dirname(target), linkname);
      const lrel = path.posix.relative(dest, resolvedTarget);
      if (lrel === '..' || lrel.startsWith('../'))
        throw badArchive(`invalid symlink ${JSON.stringify(target)} -> ${JSON.stringify(linkname)}`);
      sfs.symlinkAt(linkname, pfd, base);
      break;
    }
    case 'link': {
      const linkname = h.linkname ?? '';
      const linkTarget = path.posix.join(dest, linkname);
      const lrel = path.posix.relative(dest, linkTarget);
      if (lrel === '..' || lrel.startsWith('../'))
        throw badArchive(`invalid hardlink ${JSON.stringify(target)} -> ${JSON.stringify(linkname)}`);
      // Linked within the root itself (its dir resolved in the root), never to a mount's source.
      sfs.withFd(sfs.openInRoot(rootFd, path.posix.dirname(linkTarget), C.O_PATH | C.O_DIRECTORY), (tfd) =>
        sfs.linkAt(tfd, path.posix.basename(linkTarget), pfd, base),
      );
      break;
    }
    case 'character-device':
    case 'block-device':
      sfs.mknodAt(pfd, base, (h.type === 'block-device' ? S_IFBLK : S_IFCHR) | mode, sfs.makedev(h.devmajor ?? 0, h.devminor ?? 0));
      break;
    case 'fifo':
      sfs.mknodAt(pfd, base, S_IFIFO | mode, 0);
      break;
    default:
      await drain(entry);
      return;
  }
  await drain(entry);
  // By name in the parent's fd, never following the last component: a link swapped in since
  // makes these fail (EOPNOTSUPP for chmod) or change the link itself, never its target.
  sfs.fchownAt(pfd, base, uid, gid, true);
  if (h.type === 'link') return;
  if (h.type !== 'symlink') sfs.fchmodAt(pfd, base, mode, true);
  if (isDir) dirTimes.push({ cpath, mtime });
  else sfs.utimensAt(pfd, base, mtime, mtime, true);
}
