// Exclusive ownership of the pidfile, the data root and the exec root, so a second berthd pointed
// at any of them refuses to start instead of corrupting the first one's state.
//
// Node has no flock(2), so ownership is a file holding the owner's PID, judged by liveness:
//  * Creation is atomic: the file is written under a temporary name and link(2)ed into place,
//    which fails with EEXIST exactly like O_CREAT|O_EXCL but never exposes an empty file.
//    (Where link is unsupported we fall back to O_CREAT|O_EXCL and readers wait out a file that
//    is empty for less than FRESH_MS.)
//  * An existing file whose PID is alive and is a berthd/node process means "in use": refuse.
//    A dead PID, a zombie, an unrelated live program, our own PID (a PID reused after a reboot or
//    in a container) or unreadable content older than FRESH_MS is stale and is taken over.
//  * Stale take-over renames the file aside and checks that what it moved is the very file it
//    judged (inode, mtime, content). If another starter replaced it in between, the new file is
//    linked back. The remaining race: two starters judging the same stale file within
//    microseconds, one winning, the other moving the winner's fresh file aside and the winner's
//    file being re-linked only if nobody else got there first. It needs three daemons starting on
//    the same root at the same instant; a flock would close it, Node cannot.
//  * release() removes the file only if it is still ours (same inode and PID).

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Content younger than this that does not parse may be mid-write (O_EXCL fallback). */
const FRESH_MS = 1000;
const MAX_ATTEMPTS = 50;
const RETRY_SLEEP_MS = 25;

export class LockError extends Error {
  constructor(
    message: string,
    readonly path: string,
    /** The PID holding the lock, when another process holds it. */
    readonly ownerPid: number | null,
  ) {
    super(message);
    this.name = 'LockError';
  }
}

export interface LockOptions {
  /** The PID written and treated as "us" (default process.pid). */
  pid?: number;
  /** Where processes are looked up (default /proc); tests point it at a fake tree. */
  procRoot?: string;
}

export interface HeldLock {
  readonly path: string;
  readonly pid: number;
  /** Removes the file if it is still ours. Idempotent and synchronous (safe in an 'exit' handler). */
  release(): void;
}

/** 'berthd': alive and a berthd or node process; 'other': alive, some other program; 'dead': gone or a zombie. */
export type ProcessState = 'dead' | 'berthd' | 'other';

const BERTHD_NAMES = new Set(['berthd', 'node', 'nodejs']);

/** What a PID is now, judged from /proc/<pid>/stat and /proc/<pid>/cmdline. Unreadable → 'berthd' (refuse rather than steal). */
export function processState(pid: number, procRoot = '/proc'): ProcessState {
  if (!Number.isSafeInteger(pid) || pid <= 0) return 'dead';
  const dir = path.join(procRoot, String(pid));
  let stat: string;
  try {
    stat = fs.readFileSync(path.join(dir, 'stat'), 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'dead' : 'berthd';
  }
  // "pid (comm) S ..." where comm may itself contain ") "
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X' || state === 'x') return 'dead';
  let cmdline: string;
  try {
    cmdline = fs.readFileSync(path.join(dir, 'cmdline'), 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'dead' : 'berthd';
  }
  const args = cmdline.split('\0').filter((a) => a !== '');
  if (args.length === 0) return 'other'; // kernel thread
  if (BERTHD_NAMES.has(path.basename(args[0]))) return 'berthd';
  // `env node /usr/local/bin/berthd`, or a title set with process.title
  if (args.some((a) => path.basename(a) === 'berthd')) return 'berthd';
  return 'other';
}

/** A lock file as judged: who it names, and which file it was. */
export interface LockFileState {
  pid: number | null;
  ino: number;
  mtimeMs: number;
  content: string;
}

/** Reads a lock file with its identity (inode, mtime); null when absent. */
export function inspectLockFile(file: string): LockFileState | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    const content = fs.readFileSync(fd, 'utf8');
    const text = content.trim();
    const pid = /^[0-9]+$/.test(text) ? Number(text) : null;
    return { pid, ino: st.ino, mtimeMs: st.mtimeMs, content };
  } finally {
    fs.closeSync(fd);
  }
}

/** The PID recorded in a lock or pid file, or null when absent or unreadable. */
export function readLockOwner(file: string): number | null {
  return inspectLockFile(file)?.pid ?? null;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** Puts a file holding `pid` at `file` unless one exists. Returns its inode, or null on EEXIST. */
function createExclusive(file: string, pid: number): number | null {
  const tmp = `${file}.${pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, String(pid), { mode: 0o644, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
    return fs.statSync(file).ino;
  } catch (err) {
    if (code(err) === 'EEXIST') return null;
    if (code(err) !== 'EPERM' && code(err) !== 'ENOTSUP' && code(err) !== 'EOPNOTSUPP' && code(err) !== 'ENOSYS') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  // no hard links here (e.g. vfat): O_EXCL, then the content
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
  } catch (err) {
    if (code(err) === 'EEXIST') return null;
    throw err;
  }
  try {
    fs.writeSync(fd, String(pid));
    return fs.fstatSync(fd).ino;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Removes `file` if it is still exactly the stale file we judged; if another starter replaced it
 * in between, the replacement is put back. Exported for tests of that window.
 */
export function removeIfUnchanged(file: string, judged: LockFileState, pid: number = process.pid): void {
  const aside = `${file}.stale.${pid}.${randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if (code(err) === 'ENOENT') return; // someone else removed it; retry
    throw err;
  }
  const moved = inspectLockFile(aside);
  const same = moved !== null && moved.ino === judged.ino && moved.mtimeMs === judged.mtimeMs && moved.content === judged.content;
  if (!same) {
    // We moved a file created after we looked: put it back unless yet another one appeared.
    try {
      fs.linkSync(aside, file);
    } catch {
      // a newer file is in place; ours was not the live one either way
    }
  }
  fs.rmSync(aside, { force: true });
}

const heldHere = new Set<string>();

/**
 * Takes `file` for this process, writing our PID into it. `describe` builds the refusal message
 * from the owner's PID. Throws LockError when a live berthd holds it.
 */
export function acquireLockFile(file: string, describe: (ownerPid: number) => string, opts: LockOptions = {}): HeldLock {
  const target = path.resolve(file);
  const pid = opts.pid ?? process.pid;
  if (heldHere.has(target)) throw new LockError(`${target} is already held by this process`, target, pid);
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new LockError(`cannot create ${path.dirname(target)}: ${(err as Error).message}`, target, null);
  }

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let ino: number | null;
    try {
      ino = createExclusive(target, pid);
    } catch (err) {
      throw new LockError(`cannot create ${target}: ${(err as Error).message}`, target, null);
    }
    if (ino !== null) return holdLock(target, pid, ino);

    const owner = inspectLockFile(target);
    if (owner === null) continue; // vanished between create and read
    if (owner.pid === null) {
      if (Date.now() - owner.mtimeMs < FRESH_MS) {
        sleepSync(RETRY_SLEEP_MS); // possibly mid-write by an O_EXCL starter
        continue;
      }
    } else if (owner.pid !== pid && processState(owner.pid, opts.procRoot) === 'berthd') {
      throw new LockError(describe(owner.pid), target, owner.pid);
    }
    removeIfUnchanged(target, owner, pid);
  }
  throw new LockError(`cannot take ${target}: it keeps changing (is another berthd starting?)`, target, null);
}

function holdLock(file: string, pid: number, ino: number): HeldLock {
  heldHere.add(file);
  let released = false;
  return {
    path: file,
    pid,
    release(): void {
      if (released) return;
      released = true;
      heldHere.delete(file);
      const owner = inspectLockFile(file);
      if (owner !== null && owner.ino === ino && owner.pid === pid) fs.rmSync(file, { force: true });
    },
  };
}

/** dockerd's pidfile, with dockerd's wording when another daemon holds it. */
export function acquirePidfile(file: string, opts: LockOptions = {}): HeldLock {
  const target = path.resolve(file);
  return acquireLockFile(
    target,
    (owner) => `pid file found, ensure berthd is not running or delete ${target}: process with PID ${owner} is still running`,
    opts,
  );
}

export const LOCK_FILE_NAME = 'berthd.lock';

/** `<dir>/berthd.lock`; `what` names the directory's role in the message ("data root", "exec root"). */
export function acquireDirLock(dir: string, what: string, flag: string, opts: LockOptions & { mode?: number } = {}): HeldLock {
  const root = path.resolve(dir);
  try {
    fs.mkdirSync(root, { recursive: true, mode: opts.mode ?? 0o711 });
  } catch (err) {
    throw new LockError(`cannot create ${what} ${root}: ${(err as Error).message}`, root, null);
  }
  const lockPath = path.join(root, LOCK_FILE_NAME);
  return acquireLockFile(
    lockPath,
    (owner) =>
      `${what} ${root} is in use by berthd (PID ${owner}): stop it or give this daemon its own ${flag}; if no berthd is running, delete ${lockPath}`,
    opts,
  );
}

export interface DaemonLocks {
  readonly locks: HeldLock[];
  release(): void;
}

/**
 * Everything one berthd must own alone, taken in dockerd's order (pidfile first) and released in
 * reverse. On failure nothing stays taken.
 */
export function acquireDaemonLocks(
  paths: { pidfile: string | null; dataRoot: string; execRoot?: string },
  opts: LockOptions = {},
): DaemonLocks {
  const locks: HeldLock[] = [];
  const release = (): void => {
    for (const l of [...locks].reverse()) l.release();
  };
  try {
    if (paths.pidfile !== null) locks.push(acquirePidfile(paths.pidfile, opts));
    locks.push(acquireDirLock(paths.dataRoot, 'data root', '--data-root', { ...opts, mode: 0o711 }));
    if (paths.execRoot !== undefined) locks.push(acquireDirLock(paths.execRoot, 'exec root', '--exec-root', { ...opts, mode: 0o700 }));
  } catch (err) {
    release();
    throw err;
  }
  return { locks, release };
}
