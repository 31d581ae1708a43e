// Writes a tree of a container's filesystem into a tar stream as moby's archive.TarWithOptions
// does: lstat only (symlinks are stored as links, never followed), hard links detected by inode,
// sockets skipped. The walk goes by fd: each directory is opened beneath its parent's fd with
// O_NOFOLLOW and read through that fd, each file opened the same way (non-blocking, so a FIFO
// swapped in cannot stall it), so a container swapping a directory for a link to a host path
// meanwhile finds the walk skipping it, never following it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar-stream';
import * as sfs from '../../runtime/safe-fs';
import { mountSource, type ContainerRoot } from './rootfs-path';

const readFd = promisify(fs.read);

export interface TreeSource {
  r: ContainerRoot;
  /** Clean absolute container path of the top of the tree. */
  containerPath: string;
  /** Entry name of the top; its children are named below it. */
  name: string;
  /** Leave out the top dir itself (export). */
  skipTop?: boolean;
  /** Every entry's mtime is the epoch (a content hash that ignores mtimes, as tarsum v1 does). */
  zeroMtime?: boolean;
}

function entryType(st: sfs.SafeStat): tar.Header['type'] | undefined {
  switch (st.mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    case 0o020000:
      return 'character-device';
    case 0o060000:
      return 'block-device';
    case 0o010000:
      return 'fifo';
    default:
      return undefined;
  }
}

/** Host user and group names by id, as Go's tar.FileInfoHeader looks them up. */
const hostNames = new Map<string, Map<number, string>>();
function hostName(file: '/etc/passwd' | '/etc/group', id: number): string {
  let m = hostNames.get(file);
  if (m === undefined) {
    m = new Map();
    try {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && /^\d+$/.test(f[2]) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
      }
    } catch {
      // No names then.
    }
    hostNames.set(file, m);
  }
  return m.get(id) ?? '';
}

function child(name: string, base: string): string {
  if (name === '') return base;
  return name.endsWith('/') ? `${name}${base}` : `${name}/${base}`;
}

function entryDone(cb: (done: (err?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => cb((err) => (err ? reject(err) : resolve())));
}

/** Waits for room in the entry; a reader gone away (the pack destroyed) ends the walk. */
function drained(ws: NodeJS.WritableStream): Promise<void> {
  const ee = ws as unknown as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('tar stream closed'));
    };
    const cleanup = (): void => {
      ee.off('drain', onDrain);
      ee.off('close', onClose);
    };
    ee.on('drain', onDrain);
    ee.on('close', onClose);
  });
}

/** Writes a file entry from `fd` (owned by the caller); `fd` undefined writes zeros (file gone). */
async function writeFileEntry(pack: tar.Pack, header: tar.Header, fd: number | undefined, closed: Promise<never>): Promise<void> {
  const size = header.size ?? 0;
  let sink: ReturnType<tar.Pack['entry']> | undefined;
  const done = entryDone((cb) => {
    sink = pack.entry(header, cb);
    // A reader that leaves destroys the pack and this entry with an error: handled by `closed`.
    sink.on('error', () => undefined);
  });
  // Awaited on success; when the walk stops early the pack is destroyed and this is moot.
  done.catch(() => undefined);
  const ws = sink as unknown as NodeJS.WritableStream;
  // The header's size is what counts: a file that changed meanwhile is cut or zero-padded.
  let written = 0;
  let eof = fd === undefined;
  while (written < size) {
    const want = Math.min(64 * 1024, size - written);
    let chunk = Buffer.alloc(want);
    if (!eof) {
      const { bytesRead } = await readFd(fd as number, chunk, 0, want, null);
      if (bytesRead === 0) eof = true;
      else chunk = chunk.subarray(0, bytesRead);
    }
    written += chunk.length;
    if (!ws.write(chunk)) await Promise.race([drained(ws), closed]);
  }
  ws.end();
  await Promise.race([done, closed]);
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // ELOOP/ENOTDIR: swapped for a link or a non-directory since it was listed.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENXIO';
}

/** A regular file opened beneath `dirFd` (no link followed, no blocking), or undefined if it is none now. */
function openRegular(dirFd: number, name: sfs.FsName): number | undefined {
  const fd = sfs.openBeneath(dirFd, name, sfs.constants.O_RDONLY | sfs.constants.O_NOFOLLOW | sfs.constants.O_NONBLOCK);
  if (sfs.isRegular(sfs.fstat(fd))) return fd;
  sfs.closeFd(fd);
  return undefined;
}

/** Where an entry is: `name` in the directory `dirFd` ("" for dirFd itself), or a mount's source. */
interface Place {
  dirFd: number;
  name: sfs.FsName;
  /** Host path of a bind-mounted file's source (Berth's own file) standing in for it. */
  source?: string;
}

function statPlace(p: Place): sfs.SafeStat {
  if (p.source !== undefined) {
    const src = p.source;
    return sfs.withFd(sfs.openRoot(path.dirname(src)), (d) => sfs.fstatAt(d, path.basename(src), true));
  }
  return sfs.fstatAt(p.dirFd, p.name, true);
}

function openPlaceFile(p: Place): number | undefined {
  if (p.source !== undefined) {
    const src = p.source;
    return sfs.withFd(sfs.openRoot(path.dirname(src)), (d) => openRegular(d, path.basename(src)));
  }
  return openRegular(p.dirFd, p.name);
}

/** Writes the tree into `pack` (not finalized). */
export async function writeTree(pack: tar.Pack, src: TreeSource): Promise<void> {
  // The reader going away destroys the pack; whatever the walk awaits then must give up.
  const closed = new Promise<never>((_resolve, reject) => pack.once('close', () => reject(new Error('tar stream closed'))));
  closed.catch(() => undefined);
  const entry = (header: tar.Header): Promise<void> =>
    Promise.race([entryDone((cb) => pack.entry(header, cb).on('error', () => undefined)), closed]);
  const links = new Map<string, string>();
  const r = src.r;
  const visit = async (place: Place, containerPath: string, name: string, top: boolean): Promise<void> => {
    let st: sfs.SafeStat;
    try {
      st = statPlace(place);
    } catch (err) {
      // Gone while walking (a running container): skip it as a walk would.
      if (!top && isGone(err)) return;
      throw err;
    }
    const type = entryType(st);
    if (type === undefined) return;
    if (!(top && src.skipTop)) {
      const header: tar.Header = {
        name: type === 'directory' && !name.endsWith('/') ? `${name}/` : name,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: src.zeroMtime === true ? new Date(0) : new Date(Number(st.mtimeNs / 1_000_000n)),
        type,
        size: 0,
        linkname: '',
        uname: hostName('/etc/passwd', st.uid),
        gname: hostName('/etc/group', st.gid),
        devmajor: 0,
        devminor: 0,
      };
      if (type === 'symlink') {
        try {
          header.linkname = sfs.readlinkAt(place.dirFd, place.name);
        } catch (err) {
          if (!top && isGone(err)) return;
          throw err;
        }
      }
      if (type === 'character-device' || type === 'block-device') {
        header.devmajor = st.rdevMajor;
        header.devminor = st.rdevMinor;
      }
      if (type === 'file') {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          await entry({ ...header, type: 'link', linkname: first });
        } else {
          if (st.nlink > 1) links.set(key, name);
          let fd: number | undefined;
          try {
            fd = openPlaceFile(place);
          } catch (err) {
            if (!isGone(err)) throw err;
          }
          try {
            await writeFileEntry(pack, { ...header, size: st.size }, fd, closed);
          } finally {
            if (fd !== undefined) sfs.closeFd(fd);
          }
        }
      } else {
        await entry(header);
      }
    }
    if (type !== 'directory' || place.source !== undefined) return;
    let dirFd: number;
    try {
      dirFd =
        place.name === ''
          ? place.dirFd
          : sfs.openBeneath(place.dirFd, place.name, sfs.constants.O_PATH | sfs.constants.O_DIRECTORY | sfs.constants.O_NOFOLLOW);
    } catch (err) {
      if (!top && isGone(err)) return;
      throw err;
    }
    try {
      const names = sfs.listDirRaw(dirFd).sort(Buffer.compare);
      for (const raw of names) {
        const n = raw.toString('utf8');
        const cp = containerPath === '/' ? `/${n}` : `${containerPath}/${n}`;
        await visit({ dirFd, name: raw, source: mountSource(r, cp) }, cp, child(top && src.skipTop ? '' : name, n), false);
      }
    } finally {
      if (dirFd !== place.dirFd) sfs.closeFd(dirFd);
    }
  };
  const own = r.fd === undefined ? sfs.openRoot(r.root) : undefined;
  const rootFd = own ?? (r.fd as number);
  try {
    const cp = src.containerPath;
    const source = mountSource(r, cp);
    if (cp === '/' || source !== undefined) {
      await visit({ dirFd: rootFd, name: '', source }, cp, src.name, true);
    } else {
      const parent = sfs.openInRoot(rootFd, path.posix.dirname(cp), sfs.constants.O_PATH | sfs.constants.O_DIRECTORY);
      try {
        await visit({ dirFd: parent, name: path.posix.basename(cp) }, cp, src.name, true);
      } finally {
        sfs.closeFd(parent);
      }
    }
  } finally {
    if (own !== undefined) sfs.closeFd(own);
  }
}

/** A tar stream of the tree; errors end the stream with that error. */
export function tarTree(src: TreeSource, done?: () => Promise<void>): tar.Pack {
  const pack = tar.pack();
  writeTree(pack, src)
    .then(
      () => pack.finalize(),
      (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
    )
    .finally(() => done?.().catch(() => undefined))
    .catch(() => undefined);
  return pack;
}
