// Writes a tree of a container's filesystem into a tar stream as moby's archive.TarWithOptions
// does: lstat only (symlinks are stored as links, never followed), hard links detected by inode,
// sockets skipped, regular files opened with O_NOFOLLOW so a swapped-in link is refused.
import * as fs from 'node:fs';
import * as tar from 'tar-stream';
import { hostPath, type ContainerRoot } from './rootfs-path';

export interface TreeSource {
  r: ContainerRoot;
  /** Clean absolute container path of the top of the tree. */
  containerPath: string;
  /** Entry name of the top; its children are named below it. */
  name: string;
  /** Leave out the top dir itself (export). */
  skipTop?: boolean;
}


function entryType(st: fs.BigIntStats): tar.Header['type'] | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  return undefined;
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

async function writeFileEntry(pack: tar.Pack, header: tar.Header, file: string, closed: Promise<never>): Promise<void> {
  const fh = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
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
    while (written < size) {
      const want = Math.min(64 * 1024, size - written);
      const { bytesRead, buffer } = await fh.read(Buffer.alloc(want), 0, want, null);
      const chunk = bytesRead > 0 ? buffer.subarray(0, bytesRead) : Buffer.alloc(want);
      written += chunk.length;
      if (!ws.write(chunk)) await Promise.race([drained(ws), closed]);
    }
    ws.end();
    await Promise.race([done, closed]);
  } finally {
    await fh.close();
  }
}

/** Writes the tree into `pack` (not finalized). */
export async function writeTree(pack: tar.Pack, src: TreeSource): Promise<void> {
  // The reader going away destroys the pack; whatever the walk awaits then must give up.
  const closed = new Promise<never>((_resolve, reject) => pack.once('close', () => reject(new Error('tar stream closed'))));
  closed.catch(() => undefined);
  const entry = (header: tar.Header): Promise<void> =>
    Promise.race([entryDone((cb) => pack.entry(header, cb).on('error', () => undefined)), closed]);
  const links = new Map<string, string>();
  const visit = async (containerPath: string, name: string, top: boolean): Promise<void> => {
    const file = hostPath(src.r, containerPath);
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(file, { bigint: true });
    } catch (err) {
      // Gone while walking (a running container): skip it as a walk would.
      if (!top && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const type = entryType(st);
    if (type === undefined) return;
    if (!(top && src.skipTop)) {
      const header: tar.Header = {
        name: type === 'directory' && !name.endsWith('/') ? `${name}/` : name,
        mode: Number(st.mode & BigInt(0o7777)),
        uid: Number(st.uid),
        gid: Number(st.gid),
        mtime: new Date(Number(st.mtimeMs)),
        type,
        size: 0,
        linkname: '',
        uname: hostName('/etc/passwd', Number(st.uid)),
        gname: hostName('/etc/group', Number(st.gid)),
        devmajor: 0,
        devminor: 0,
      };
      if (type === 'symlink') header.linkname = fs.readlinkSync(file);
      if (type === 'character-device' || type === 'block-device') {
        const rdev = Number(st.rdev);
        header.devmajor = (rdev >> 8) & 0xfff;
        header.devminor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
      }
      if (type === 'file') {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1n ? links.get(key) : undefined;
        if (first !== undefined) {
          await entry({ ...header, type: 'link', linkname: first });
        } else {
          if (st.nlink > 1n) links.set(key, name);
          await writeFileEntry(pack, { ...header, size: Number(st.size) }, file, closed);
        }
      } else {
        await entry(header);
      }
    }
    if (type !== 'directory') return;
    const names = fs.readdirSync(file).sort();
    for (const n of names) {
      await visit(containerPath === '/' ? `/${n}` : `${containerPath}/${n}`, child(top && src.skipTop ? '' : name, n), false);
    }
  };
  await visit(src.containerPath, src.name, true);
}

/** A tar stream of the tree; errors end the stream with that error. */
export function tarTree(src: TreeSource, done?: () => Promise<void>): tar.Pack {
  const pack = tar.pack();
  writeTree(pack, src).then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
  ).finally(() => done?.().catch(() => undefined));
  return pack;
}
