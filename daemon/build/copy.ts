// COPY and ADD as the classic builder runs them (builder/dockerfile/copy.go): sources from the
// context or another image (--from), wildcards in the last path element, the destination a
// directory when it ends in `/` or already is one, a directory's content copied into it, new
// files owned by root unless --chown, ADD unpacking a local tar archive. Sources are walked and
// written by fd inside their root (containers/tar-tree.ts), into the step container's root with
// `docker cp`'s confined extraction (containers/archive.ts).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { InvalidParameter, SystemError } from '../../lib/errors';
import * as sfs from '../../runtime/safe-fs';
import { lookupUser } from '../../runtime/user';
import { untarInScope } from '../containers/archive';
import { followInScope, lstatInRoot, mkdirInScope, withRootFd, type ContainerRoot } from '../containers/rootfs-path';
import { writeTree } from '../containers/tar-tree';
import { detectCompression } from '../images/compression';

export interface CopyItem {
  /** Resolved path of the source in its root. */
  containerPath: string;
  isDir: boolean;
  /** ADD: a regular file that is a tar archive (unpacked into the destination). */
  archive: boolean;
}

const GLOB = /[*?[\\]/;

function notFound(src: string): SystemError {
  return new SystemError(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
}

/** Go's filepath.Match for one path element, as an anchored RegExp on a short name. */
function globElement(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new InvalidParameter('syntax error in pattern');
      let cls = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls}]`;
      i = end;
    } else re += ch.replace(/[.+()|{}$^\]]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 's');
}

function statIn(r: ContainerRoot, p: string): sfs.SafeStat | undefined {
  return withRootFd(r, (fd) => lstatInRoot(fd, p));
}

async function isTarArchive(r: ContainerRoot, p: string): Promise<boolean> {
  const head = withRootFd(r, (fd) =>
    sfs.withFd(sfs.openInRoot(fd, p, sfs.constants.O_RDONLY | sfs.constants.O_NONBLOCK), (f) => {
      const buf = Buffer.alloc(512);
      const n = readAll(f, buf);
      return buf.subarray(0, n);
    }),
  );
  const c = detectCompression(head);
  if (c !== 'none') return true;
  return head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar';
}

function readAll(fd: number, buf: Buffer): number {
  let off = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, off, buf.length - off, null);
    if (n <= 0) return off;
    off += n;
    if (off >= buf.length) return off;
  }
}

function listIn(r: ContainerRoot, dir: string): string[] {
  try {
    return withRootFd(r, (fd) =>
      sfs.withFd(sfs.openInRoot(fd, dir, sfs.constants.O_RDONLY | sfs.constants.O_DIRECTORY), (d) => sfs.listDir(d)),
    ).sort();
  } catch {
    return [];
  }
}

/**
 * The paths matching a pattern with wildcards, element by element (as filepath.Match over the
 * walk: `*` never crosses a `/`), each directory listed inside the root.
 */
function expandGlob(r: ContainerRoot, pattern: string): string[] {
  let current = ['/'];
  for (const elem of pattern.split('/').filter((e) => e !== '' && e !== '.')) {
    const next: string[] = [];
    for (const dir of current) {
      if (!GLOB.test(elem)) {
        next.push(path.posix.join(dir, elem));
        continue;
      }
      const re = globElement(elem);
      const parent = followInScope(r, dir);
      for (const n of listIn(r, parent)) if (re.test(n)) next.push(path.posix.join(parent, n));
    }
    current = next;
  }
  return current.filter((p) => statIn(r, followInScope(r, p)) !== undefined);
}

/** The sources of one COPY/ADD, resolved and expanded (wildcards in any path element). */
export async function resolveSources(
  r: ContainerRoot,
  sources: readonly string[],
  opts: { add: boolean; context: boolean },
): Promise<CopyItem[]> {
  const items: CopyItem[] = [];
  for (const src of sources) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) {
      throw new InvalidParameter(
        `${opts.add ? 'ADD' : 'COPY'} from a URL (${src}) is not supported by Berth's builder; download it in a RUN step`,
      );
    }
    const clean = path.posix.normalize(src);
    if (opts.context && (clean === '..' || clean.startsWith('../')))
      throw new InvalidParameter(`Forbidden path outside the build context: ${src} ()`);
    const abs = path.posix.join('/', clean);
    const candidates: string[] = [];
    if (GLOB.test(abs)) {
      candidates.push(...expandGlob(r, abs));
      if (candidates.length === 0) throw new SystemError('COPY failed: no source files were specified');
    } else {
      candidates.push(abs);
    }
    for (const c of candidates) {
      const resolved = followInScope(r, c);
      const st = statIn(r, resolved);
      if (st === undefined) throw notFound(src);
      const isDir = sfs.isDirectory(st);
      const archive = opts.add && !isDir && sfs.isRegular(st) && (await isTarArchive(r, resolved));
      items.push({ containerPath: resolved, isDir, archive });
    }
  }
  return items;
}

/**
 * The content hash in the step's cache key: `file:`, `dir:` or `multi:` and a sha256. Mtimes are
 * left out, as moby's tarsum v1 leaves them out: a fresh checkout of the same files hits the cache.
 */
export async function sourceHash(r: ContainerRoot, items: readonly CopyItem[]): Promise<string> {
  const all = createHash('sha256');
  for (const item of items) {
    const pack = tar.pack();
    const h = createHash('sha256');
    const hashing = pipeline(pack, async (src: AsyncIterable<unknown>) => {
      for await (const chunk of src) h.update(chunk as Buffer);
    });
    await writeTree(pack, { r, containerPath: item.containerPath, name: path.posix.basename(item.containerPath) || '.', zeroMtime: true });
    pack.finalize();
    await hashing;
    const hex = h.digest('hex');
    if (items.length === 1) return `${item.isDir ? 'dir' : 'file'}:${hex}`;
    all.update(hex);
  }
  return `multi:${all.digest('hex')}`;
}

/** --chown: numeric or names from the step image's /etc/passwd and /etc/group. */
export function resolveChown(r: ContainerRoot, chown: string): { uid: number; gid: number } {
  const spec = chown.includes(':') ? chown : `${chown}:${chown}`;
  const read = (f: string): string | undefined => {
    try {
      return withRootFd(r, (fd) => sfs.readSmallFile(fd, f).toString('utf8'));
    } catch {
      return undefined;
    }
  };
  try {
    const u = lookupUser(spec, [], read('/etc/passwd'), read('/etc/group'));
    return { uid: u.uid, gid: u.gid };
  } catch (err) {
    throw new InvalidParameter(`unable to convert uid/gid chown string to host mapping: ${(err as Error).message}`);
  }
}

export function parseChmod(chmod: string): number | undefined {
  if (chmod === '') return undefined;
  if (!/^[0-7]{1,4}$/.test(chmod)) throw new InvalidParameter(`invalid chmod parameter: ${chmod}`);
  return parseInt(chmod, 8);
}

export interface CopyPlan {
  items: CopyItem[];
  /** Absolute destination as written (after WORKDIR), trailing `/` kept. */
  dest: string;
  owner?: { uid: number; gid: number };
  mode?: number;
  chown: string;
}

/** Writes the sources into the target root, as performCopyForInfo. */
export async function performCopy(src: ContainerRoot, target: ContainerRoot, plan: CopyPlan, cmdName: string): Promise<void> {
  const destIsDir = (() => {
    if (plan.dest.endsWith('/')) return true;
    const st = statIn(target, followInScope(target, plan.dest));
    return st !== undefined && sfs.isDirectory(st);
  })();
  if (plan.items.length > 1 && !destIsDir) {
    throw new InvalidParameter(
      `When using ${cmdName} with more than one source file, the destination must be a directory and end with a /`,
    );
  }
  const owner = plan.owner ?? (plan.chown === '' ? { uid: 0, gid: 0 } : undefined);
  for (const item of plan.items) {
    const destDir = destIsDir || item.isDir || item.archive ? plan.dest : path.posix.dirname(plan.dest);
    makeDestDir(target, destDir, plan.owner);
    if (item.archive) {
      const body = fileStream(src, item.containerPath);
      await untarInScope(target, destDir, body, { noOverwriteDirNonDir: false, owner: plan.owner, mode: plan.mode });
      continue;
    }
    const name = item.isDir ? '' : destIsDir ? path.posix.basename(item.containerPath) : path.posix.basename(plan.dest);
    const pack = tar.pack();
    const body = new PassThrough();
    pack.pipe(body);
    const writing = writeTree(pack, { r: src, containerPath: item.containerPath, name, skipTop: item.isDir }).then(
      () => pack.finalize(),
      (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    await Promise.all([untarInScope(target, destDir, body, { noOverwriteDirNonDir: false, owner, mode: plan.mode }), writing]);
  }
}

/** Makes the destination directory; one it makes is the --chown owner's, as dockerd's copier makes it. */
function makeDestDir(target: ContainerRoot, dir: string, owner: { uid: number; gid: number } | undefined): void {
  withRootFd(target, (rootFd) => {
    const existed = lstatInRoot(rootFd, followInScope(target, dir)) !== undefined;
    const made = mkdirInScope(target, rootFd, dir);
    sfs.closeFd(made.fd);
    if (existed || owner === undefined || made.path === '/') return;
    sfs.withFd(sfs.openInRoot(rootFd, path.posix.dirname(made.path), sfs.constants.O_PATH | sfs.constants.O_DIRECTORY), (pfd) =>
      sfs.fchownAt(pfd, path.posix.basename(made.path), owner.uid, owner.gid, true),
    );
  });
}

function fileStream(r: ContainerRoot, p: string): Readable {
  const fd = withRootFd(r, (root) => sfs.openInRoot(root, p, sfs.constants.O_RDONLY | sfs.constants.O_NONBLOCK));
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const buf = Buffer.alloc(64 * 1024);
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n <= 0) return;
        yield buf.subarray(0, n);
      }
    } finally {
      sfs.closeFd(fd);
    }
  }
  return Readable.from(chunks());
}
