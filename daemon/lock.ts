// Exclusive ownership of the pidfile, the data root and the exec root, so a second berthd pointed
// at any of them refuses to start instead of corrupting the first one's state.
//
// Ownership is a flock(2) on the file, held for the daemon's life (the fd is close-on-exec, so
// containerd and shims never inherit it). The kernel drops it when the holder dies, so a crash
// leaves nothing to judge, and of any number of starters exactly one gets it.
//  * The winner checks that the file it locked is still the one at the path (a releasing owner
//    unlinks it before unlocking), then writes its PID into it, as dockerd does.
//  * Like dockerd, a file naming another live berthd/node process is refused even when nobody
//    holds the flock (a daemon that cannot flock, an operator's copy). Any other content (a dead
//    PID, an unrelated program, our own PID reused after a reboot, garbage) is simply taken.
//  * A loser reports the holder's PID from the file; the holder writes it right after locking,
//    so a loser that reads it too early (empty, or the dead PID it replaces) reads again.
//  * release() unlinks the file if it is still ours (same inode), then drops the lock.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { nativeAddon } from '../lib/native-addon';

const MAX_ATTEMPTS = 100;
/** A loser waits this long between reads of the holder's PID (the holder writes it right after locking). */
const RETRY_SLEEP_MS = 10;

interface FlockAddon {
  tryLockExclusive(fd: number): boolean;
}

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

/** The PID recorded in a lock or pid file, or null when absent or unreadable. */
export function readLockOwner(file: string): number | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    return pidIn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The PID a lock file names, read through its open fd; null when empty or not a PID. */
function pidIn(fd: number): number | null {
  const buf = Buffer.alloc(64);
  const text = buf.toString('utf8', 0, fs.readSync(fd, buf, 0, buf.length, 0)).trim();
  return /^[0-9]+$/.test(text) ? Number(text) : null;
}

/** Whether `file` is still the inode `fd` has open (a releasing owner unlinks before unlocking). */
function stillAtPath(fd: number, file: string): boolean {
  try {
    return fs.statSync(file).ino === fs.fstatSync(fd).ino;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
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
  const addon = nativeAddon<FlockAddon>();
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(target, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o644);
    } catch (err) {
      throw new LockError(`cannot create ${target}: ${(err as Error).message}`, target, null);
    }
    let keep = false;
    try {
      if (addon.tryLockExclusive(fd)) {
        if (!stillAtPath(fd, target)) continue; // its owner released it meanwhile: lock the new file
        const owner = pidIn(fd);
        if (owner !== null && owner !== pid && processState(owner, opts.procRoot) === 'berthd') {
          throw new LockError(describe(owner), target, owner);
        }
        fs.ftruncateSync(fd, 0);
        fs.writeSync(fd, String(pid), 0);
        keep = true;
        return holdLock(target, pid, fd);
      }
      // Held. Its holder may not have written its PID yet: read again until it names a live process.
      const holder = pidIn(fd);
      if (holder !== null && processState(holder, opts.procRoot) !== 'dead') throw new LockError(describe(holder), target, holder);
      sleepSync(RETRY_SLEEP_MS);
    } catch (err) {
      if (err instanceof LockError) throw err;
      throw new LockError(`cannot take ${target}: ${(err as Error).message}`, target, null);
    } finally {
      if (!keep) fs.closeSync(fd);
    }
  }
  throw new LockError(`cannot take ${target}: another process holds it and names no live process in it`, target, null);
}

function holdLock(file: string, pid: number, fd: number): HeldLock {
  heldHere.add(file);
  const ino = fs.fstatSync(fd).ino;
  let released = false;
  return {
    path: file,
    pid,
    release(): void {
      if (released) return;
      released = true;
      heldHere.delete(file);
      try {
        if (fs.statSync(file).ino === ino) fs.rmSync(file, { force: true });
      } catch {
        // already gone, or replaced by an operator: not ours to remove
      }
      fs.closeSync(fd); // drops the flock, after the unlink, so a waiter never locks a file being removed
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
