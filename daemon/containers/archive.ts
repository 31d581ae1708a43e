// docker cp: stat, read and write paths inside a container (HEAD/GET/PUT /containers/{id}/archive),
// as moby's daemon/archive.go with pkg/archive's rules, every path resolved inside the container's
// root (rootfs-path.ts) so neither the request nor the container's own links reach host files.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import * as tar from 'tar-stream';
import type { Containerd } from '../../runtime/containerd';
import { lookupUser } from '../../runtime/user';
import { decompressStream } from '../images/compression';
import type { EventBus } from '../events';
import { errorMessage, InvalidParameter, NotFound, SystemError } from '../errors';
import type { ContainerRecord, ContainerState } from './model';
import { openContainerRoot, withContainerRoot } from './rootfs-access';
import { followInScope, goBase, hostPath, resolvePath, type ContainerRoot } from './rootfs-path';
import { tarTree } from './tar-tree';

const runFile = promisify(execFile);

/** The X-Docker-Container-Path-Stat document (types.ContainerPathStat); mode in Go's FileMode bits. */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface ContainerLookup {
  get(input: string): { record: ContainerRecord; state: ContainerState };
}

export interface ArchiveDeps {
  ctd: Containerd;
  containers: ContainerLookup;
  events: EventBus;
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

/** An lstat result as Go's FileMode. */
export function goFileMode(st: fs.Stats): number {
  let m = st.mode & 0o777;
  if (st.mode & 0o4000) m += GoMode.Setuid;
  if (st.mode & 0o2000) m += GoMode.Setgid;
  if (st.mode & 0o1000) m += GoMode.Sticky;
  if (st.isDirectory()) m += GoMode.Dir;
  else if (st.isSymbolicLink()) m += GoMode.Symlink;
  else if (st.isFIFO()) m += GoMode.NamedPipe;
  else if (st.isSocket()) m += GoMode.Socket;
  else if (st.isCharacterDevice()) m += GoMode.Device + GoMode.CharDevice;
  else if (st.isBlockDevice()) m += GoMode.Device;
  return m;
}

/** Go's time.Time JSON form (RFC 3339 with nanoseconds, trailing zeros dropped), in UTC. */
export function goTime(st: fs.BigIntStats): string {
  const ns = st.mtimeNs;
  const secs = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** The attributes dockerd puts on a container's events: its labels, image and name. */
export function containerEventAttributes(record: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
  return { ...(record.config.Labels ?? {}), image: record.config.Image ?? '', name: record.name, ...extra };
}

function isNotExist(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function fileNotFound(p: string, container: string): NotFound {
  return new NotFound(`Could not find the file ${p} in container ${container}`);
}

/** StatPath: lstat of the resolved path; a symlink's target fully resolved in scope. */
function statResolved(r: ContainerRoot, p: string): { stat: ContainerPathStat; lst: fs.Stats; resolved: ReturnType<typeof resolvePath> } {
  const resolved = resolvePath(r, p);
  const lst = fs.lstatSync(resolved.host);
  const big = fs.lstatSync(resolved.host, { bigint: true });
  const linkTarget = lst.isSymbolicLink() ? followInScope(r, resolved.absPath) : '';
  const stat = { name: goBase(resolved.absPath), size: lst.size, mode: goFileMode(lst), mtime: goTime(big), linkTarget };
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
    const c = this.deps.containers.get(input);
    return withContainerRoot(this.deps.ctd, c, 'read', async (r) => {
      try {
        return statResolved(r, p).stat;
      } catch (err) {
        if (isNotExist(err)) throw fileNotFound(p, input);
        throw err;
      }
    });
  }

  /** The tar of `p` with its stat; the stream releases the container's filesystem when done. */
  async archive(input: string, p: string): Promise<{ stat: ContainerPathStat; tar: Readable }> {
    const c = this.deps.containers.get(input);
    const { r, release } = await openContainerRoot(this.deps.ctd, c, 'read');
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
      const isDir = st.lst.isDirectory();
      const rebase = goBase(st.resolved.absPath);
      // The root is named "/" and its entries "/bin", "/etc"... as moby's rebase does.
      const name = isDir && st.resolved.absPath.endsWith('/.') ? '.' : rebase;
      const pack = tarTree({ r, containerPath: st.resolved.containerPath, name }, release);
      this.deps.events.publish('container', 'archive-path', c.record.id, containerEventAttributes(c.record));
      return { stat: st.stat, tar: Readable.from(pack) };
    } catch (err) {
      await release();
      throw err;
    }
  }

  async extract(input: string, p: string, body: Readable, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    const found = this.deps.containers.get(input);
    await this.serialized(found.record.id, () => this.extractInto(input, found.record.id, p, body, opts));
    this.deps.events.publish('container', 'extract-to-dir', found.record.id, containerEventAttributes(found.record));
  }

  private async extractInto(input: string, id: string, p: string, body: Readable, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    // Looked up again: the container may have started or stopped while waiting for its turn.
    const c = this.deps.containers.get(id);
    await withContainerRoot(this.deps.ctd, c, 'write', async (r) => {
      const dest = followInScope(r, path.posix.join('/', p));
      let st: fs.Stats;
      try {
        st = fs.lstatSync(hostPath(r, dest));
      } catch (err) {
        if (isNotExist(err)) throw fileNotFound(p, input);
        throw err;
      }
      // dockerd answers both with a plain error, hence 500.
      if (!st.isDirectory()) throw new SystemError('extraction point is not a directory');
      if (c.record.hostConfig.ReadonlyRootfs) throw new SystemError('container rootfs is marked read-only');
      let owner: { uid: number; gid: number } | undefined;
      if (opts.copyUIDGID && (c.record.config.User ?? '') !== '') {
        const read = (f: string): string | undefined => {
          try {
            return fs.readFileSync(hostPath(r, followInScope(r, f)), 'utf8');
          } catch {
            return undefined;
          }
        };
        const u = lookupUser(c.record.config.User ?? '', [], read('/etc/passwd'), read('/etc/group'));
        owner = { uid: u.uid, gid: u.gid };
      }
      await untarInScope(r, dest, body, { noOverwriteDirNonDir: opts.noOverwriteDirNonDir, owner });
    });
  }
}

export interface UntarOptions {
  noOverwriteDirNonDir: boolean;
  /** Owner of every extracted entry instead of the archive's (copyUIDGID). */
  owner?: { uid: number; gid: number };
}

/** A refused archive: dockerd's text (its chrooted unpacker's exit status included), as 400. */
function badArchive(msg: string): InvalidParameter {
  return new InvalidParameter(`Error processing tar file(exit status 1): ${msg}`);
}

/**
 * Makes the (scope-resolved) container dir exist: its missing components are created one by one,
 * which cannot follow links as the tail of a scope-resolved path has none.
 */
function mkdirInScope(r: ContainerRoot, dir: string): string {
  const resolved = followInScope(r, dir);
  let cur = '/';
  for (const comp of resolved.split('/').filter(Boolean)) {
    cur = path.posix.join(cur, comp);
    const h = hostPath(r, cur);
    try {
      const st = fs.lstatSync(h);
      if (!st.isDirectory()) throw new InvalidParameter(`cannot create directory ${cur}: not a directory`);
    } catch (err) {
      if (!isNotExist(err)) throw err;
      fs.mkdirSync(h, 0o755);
    }
  }
  return resolved;
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) void _;
}

async function writeEntryFile(stream: AsyncIterable<unknown>, file: string, mode: number, inPlace: boolean): Promise<void> {
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW | (inPlace ? 0 : fs.constants.O_EXCL);
  const fh = await fs.promises.open(file, flags, mode);
  try {
    for await (const chunk of stream) await fh.write(chunk as Buffer);
  } finally {
    await fh.close();
  }
}

/** Extracts a (possibly compressed) tar into the container dir `dest` as pkg/archive's Unpack. */
export async function untarInScope(r: ContainerRoot, dest: string, body: Readable, opts: UntarOptions): Promise<void> {
  const dirTimes: Array<{ file: string; mtime: Date }> = [];
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
      const parent = mkdirInScope(r, path.posix.dirname(target));
      const cpath = path.posix.join(parent, path.posix.basename(target));
      const file = hostPath(r, cpath);
      const isDir = h.type === 'directory';
      let existing: fs.Stats | undefined;
      try {
        existing = fs.lstatSync(file);
      } catch (err) {
        if (!isNotExist(err)) throw err;
      }
      const mounted = r.mounts.has(cpath);
      // A bind-mounted file only takes new content: replacing its source by a link or a dir would
      // redirect what the next start mounts into the container. dockerd fails the same way.
      if (mounted && h.type !== 'file' && h.type !== 'contiguous-file') {
        throw new SystemError(`unlinkat ${cpath}: device or resource busy`);
      }
      if (existing) {
        if (opts.noOverwriteDirNonDir && existing.isDirectory() && !isDir) {
          throw badArchive(`cannot overwrite directory ${JSON.stringify(cpath)} with non-directory ${JSON.stringify(dest)}`);
        }
        if (opts.noOverwriteDirNonDir && !existing.isDirectory() && isDir) {
          throw badArchive(`cannot overwrite non-directory ${JSON.stringify(cpath)} with directory ${JSON.stringify(dest)}`);
        }
        // A bind-mounted file is written through, as it would be in the container.
        const keep = (existing.isDirectory() && isDir) || (mounted && (h.type === 'file' || h.type === 'contiguous-file'));
        if (!keep) fs.rmSync(file, { recursive: true, force: true });
      }
      const mode = (h.mode ?? 0o644) & 0o7777;
      switch (h.type) {
        case 'directory':
          if (!existing || !existing.isDirectory()) fs.mkdirSync(file, mode);
          break;
        case 'file':
        case 'contiguous-file':
          await writeEntryFile(entry, file, mode, mounted && existing !== undefined);
          break;
        case 'symlink': {
          const linkname = h.linkname ?? '';
          const resolvedTarget = path.posix.join(path.posix.dirname(target), linkname);
          const lrel = path.posix.relative(dest, resolvedTarget);
          if (lrel === '..' || lrel.startsWith('../')) throw badArchive(`invalid symlink ${JSON.stringify(target)} -> ${JSON.stringify(linkname)}`);
          fs.symlinkSync(linkname, file);
          break;
        }
        case 'link': {
          const linkname = h.linkname ?? '';
          const linkTarget = path.posix.join(dest, linkname);
          const lrel = path.posix.relative(dest, linkTarget);
          if (lrel === '..' || lrel.startsWith('../')) throw badArchive(`invalid hardlink ${JSON.stringify(target)} -> ${JSON.stringify(linkname)}`);
          const tdir = followInScope(r, path.posix.dirname(linkTarget));
          // Linked within the root itself, never to a bind-mounted file's source.
          fs.linkSync(path.join(r.root, tdir, path.posix.basename(linkTarget)), file);
          break;
        }
        case 'character-device':
        case 'block-device':
          await runFile('mknod', ['-m', mode.toString(8), file, h.type === 'block-device' ? 'b' : 'c', String(h.devmajor ?? 0), String(h.devminor ?? 0)]);
          break;
        case 'fifo':
          await runFile('mknod', ['-m', mode.toString(8), file, 'p']);
          break;
        default:
          await drain(entry);
          continue;
      }
      await drain(entry);
      const uid = opts.owner?.uid ?? h.uid ?? 0;
      const gid = opts.owner?.gid ?? h.gid ?? 0;
      if (!mounted) fs.lchownSync(file, uid, gid);
      const mtime = h.mtime ?? new Date();
      if (h.type === 'symlink') {
        fs.lutimesSync(file, mtime, mtime);
      } else if (h.type !== 'link') {
        if (!mounted) fs.chmodSync(file, mode);
        if (isDir) dirTimes.push({ file, mtime });
        else fs.utimesSync(file, mtime, mtime);
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
  // Directory times last: extracting into a dir changed them.
  for (const d of dirTimes.reverse()) fs.utimesSync(d.file, d.mtime, d.mtime);
}
