// Task stdio over named pipes, the way containerd's shim expects it. Node has no mkfifo, so the
// native addon's mknodat makes them (and a pool of them ahead of time). Our ends are
// non-blocking fds wrapped in net.Socket: libuv then polls them with epoll, so no threadpool
// thread is ever pinned and EOF is reported when the shim closes its writer.
//
// Order matters: the shim opens stdout/stderr O_WRONLY (blocking) inside Tasks.Create, so our
// readers must be open before that call or it hangs.

import { randomBytes } from 'node:crypto';
import { constants as fsConstants, open as openCb } from 'node:fs';
import { mkdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { errorMessage, InvalidParameter, SystemError } from '../lib/errors';
import { mknodAt, openRoot, withFd } from './safe-fs';

const openFd = promisify(openCb);

/** Name of the process a TaskIO serves, used as the FIFO file prefix ("init" for the task). */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface TaskIOPaths {
  stdin?: string;
  stdout: string;
  /** Absent with a terminal: the pty merges everything into stdout. */
  stderr?: string;
}

export interface TaskIO {
  /** Our write end of the stdin FIFO. Ending it does NOT give the process EOF: use Tasks.CloseIO. */
  stdin?: Writable;
  stdout: Readable;
  /** Absent with a terminal. */
  stderr?: Readable;
  /** Absolute FIFO paths, as passed to Tasks.Create / Tasks.Exec. */
  paths: TaskIOPaths;
  /**
   * Resolves once stdout and stderr have both been read to EOF or destroyed. It only settles if
   * the streams are consumed: a reader nobody drains stays paused, and the container then blocks
   * on a full pipe. Never rejects.
   */
  drained: Promise<void>;
  /**
   * Flushes and closes our stdin end. The process sees EOF only once the shim's own writer is
   * closed too (Tasks.CloseIO): ContainerRuntime.closeStdin does both.
   */
  endStdin(): Promise<void>;
  /** Destroys our ends (closing the fds), unlinks the FIFOs and removes the directory if empty. */
  close(): Promise<void>;
  /**
   * Closes our ends only, leaving the FIFOs in place for the next berthd (live restore): the
   * shim keeps its own handles, so output written meanwhile waits in the pipe.
   */
  detach(): void;
}

export interface TaskIOOptions {
  stdin: boolean;
  terminal: boolean;
  /** FIFO file prefix inside `dir`: "init" (default) for the task, the exec id for an exec. */
  name?: string;
  /** Takes ready-made FIFOs from a pool (renamed into place) instead of making them. */
  pool?: FifoPool;
}

/** S_IFIFO: mknodat makes a FIFO with it. */
const S_IFIFO = 0o010000;

/**
 * Makes a FIFO (mode 0600) at each of `paths`, in-process: mknodat through the native addon. It
 * used to spawn `mkfifo`, which forks the whole daemon on the event loop (~5-20 ms each under
 * load, most of berthd's CPU per `docker exec`); a mknodat is a syscall. Like mkfifo, an
 * existing file is an error (EEXIST). The paths are the daemon's own (its exec root), not a
 * container's.
 */
export async function mkfifo(paths: string[]): Promise<void> {
  const byDir = new Map<string, string[]>();
  for (const p of paths) {
    const dir = path.dirname(p);
    const names = byDir.get(dir) ?? [];
    names.push(path.basename(p));
    byDir.set(dir, names);
  }
  try {
    for (const [dir, names] of byDir) {
      withFd(openRoot(dir), (fd) => {
        for (const name of names) mknodAt(fd, name, S_IFIFO | 0o600, 0);
      });
    }
  } catch (err) {
    throw new SystemError(`mkfifo failed: ${errorMessage(err)}`);
  }
  await Promise.resolve();
}

/**
 * FIFOs made ahead of time in one directory, handed out and renamed into place, so starting a
 * task costs renames only. The directory must be on the same filesystem
 * as the task FIFO directories (a sibling of them). Whatever it holds at first use is stale and
 * removed.
 */
export class FifoPool {
  private readonly ready: string[] = [];
  private refilling: Promise<void> | undefined;
  private initialized: Promise<void> | undefined;
  private closed = false;
  private seq = 0;
  private readonly prefix = randomBytes(4).toString('hex');

  constructor(
    readonly dir: string,
    /** FIFOs kept in stock; a refill tops up to this when stock falls below half. */
    readonly size = 12,
  ) {}

  /** Hands out `n` FIFO paths inside the pool dir; the caller renames them away. */
  async take(n: number): Promise<string[]> {
    await this.init();
    if (this.ready.length < n) {
      // Stock ran out (a burst of starts): make these directly rather than queue behind a refill.
      const fresh = this.names(n);
      await mkfifo(fresh);
      this.topUp();
      return fresh;
    }
    const out = this.ready.splice(0, n);
    if (this.ready.length < this.size / 2) this.topUp();
    return out;
  }

  /** Pre-fills the stock; optional (take() fills lazily). */
  async warm(): Promise<void> {
    await this.init();
    this.topUp();
    await this.refilling;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.refilling?.catch(() => undefined);
    this.ready.length = 0;
    await rm(this.dir, { recursive: true, force: true });
  }

  private init(): Promise<void> {
    if (this.closed) return Promise.reject(new SystemError('FIFO pool is closed'));
    this.initialized ??= (async () => {
      await rm(this.dir, { recursive: true, force: true });
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    })();
    return this.initialized;
  }

  private names(n: number): string[] {
    return Array.from({ length: n }, () => path.join(this.dir, `${this.prefix}-${this.seq++}`));
  }

  private topUp(): void {
    if (this.refilling || this.closed) return;
    const want = this.size - this.ready.length;
    if (want <= 0) return;
    const fresh = this.names(want);
    this.refilling = mkfifo(fresh)
      .then(() => {
        if (!this.closed) this.ready.push(...fresh);
      })
      // A failed refill only means the next take() makes its FIFOs itself.
      .catch(() => undefined)
      .finally(() => (this.refilling = undefined));
  }
}

/** Where the FIFOs of process `name` live in `dir`. */
export function taskIOPaths(dir: string, opts: Pick<TaskIOOptions, 'stdin' | 'terminal' | 'name'>): TaskIOPaths {
  const name = opts.name ?? 'init';
  if (!NAME_RE.test(name)) throw new InvalidParameter(`invalid process name for FIFOs: "${name}"`);
  const abs = path.resolve(dir);
  const file = (stream: string): string => path.join(abs, `${name}-${stream}`);
  return {
    ...(opts.stdin ? { stdin: file('stdin') } : {}),
    stdout: file('stdout'),
    ...(opts.terminal ? {} : { stderr: file('stderr') }),
  };
}

function fifoPaths(p: TaskIOPaths): string[] {
  return [p.stdin, p.stdout, p.stderr].filter((x): x is string => x !== undefined);
}

/** Makes the FIFOs at `targets`, from the pool when there is one (rename replaces stale files). */
async function makeFifos(dir: string, targets: string[], pool: FifoPool | undefined): Promise<void> {
  if (!pool) {
    // mkfifo refuses to replace; a FIFO left by a crashed run must go first.
    await Promise.all(targets.map((t) => unlink(t).catch(() => undefined)));
    await mkfifo(targets);
    return;
  }
  const made = await pool.take(targets.length);
  try {
    for (let i = 0; i < targets.length; i++) {
      try {
        await rename(made[i], targets[i]);
      } catch (err) {
        // A concurrent close() of a sibling process removed the (then empty) directory.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await rename(made[i], targets[i]);
      }
    }
  } catch (err) {
    await Promise.all(made.map((m) => unlink(m).catch(() => undefined)));
    throw err;
  }
}

/** A readable-only net.Socket over a non-blocking O_RDONLY fd; EOF arrives when the last writer closes. */
async function openReader(file: string): Promise<Socket> {
  const fd = await openFd(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  return new Socket({ fd, readable: true, writable: false });
}

/**
 * The stdin writer is opened O_RDWR: O_WRONLY|O_NONBLOCK fails with ENXIO while the shim has not
 * opened its reader yet. Being a reader ourselves also means writes never fail with EPIPE.
 */
async function openWriter(file: string): Promise<Socket> {
  const fd = await openFd(file, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
  return new Socket({ fd, readable: false, writable: true });
}

function settledOnClose(stream: Readable | undefined): Promise<void> {
  if (!stream || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

/**
 * Creates `dir` (mode 0700) and the FIFOs of one process in it, and opens our ends. Call before
 * Tasks.Create / Tasks.Exec and pass `paths` to it.
 */
export async function createTaskIO(dir: string, opts: TaskIOOptions): Promise<TaskIO> {
  const paths = taskIOPaths(dir, opts);
  const files = fifoPaths(paths);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await makeFifos(dir, files, opts.pool);
  } catch (err) {
    await Promise.all(files.map((f) => unlink(f).catch(() => undefined)));
    await removeDirIfEmpty(dir);
    throw wrapIOError(dir, err);
  }
  return openTaskIO(dir, paths, true);
}

/**
 * Opens our ends of FIFOs that exist: a task created by an earlier berthd and still run by its
 * shim (live restore). Output the process wrote meanwhile is still in the pipes. The paths must
 * be inside `dir`.
 */
export async function reopenTaskIO(dir: string, paths: TaskIOPaths): Promise<TaskIO> {
  const root = path.resolve(dir);
  for (const f of fifoPaths(paths)) {
    if (path.dirname(path.resolve(f)) !== root) throw new InvalidParameter(`task FIFO ${f} is not in ${root}`);
  }
  return openTaskIO(dir, paths, false);
}

function wrapIOError(dir: string, err: unknown): Error {
  return err instanceof InvalidParameter || err instanceof SystemError
    ? err
    : new SystemError(`cannot set up task stdio in ${dir}: ${errorMessage(err)}`);
}

async function openTaskIO(dir: string, paths: TaskIOPaths, unlinkOnFailure: boolean): Promise<TaskIO> {
  const files = fifoPaths(paths);
  const sockets: Socket[] = [];
  try {
    const stdout = await openReader(paths.stdout);
    sockets.push(stdout);
    const stderr = paths.stderr !== undefined ? await openReader(paths.stderr) : undefined;
    if (stderr) sockets.push(stderr);
    const stdin = paths.stdin !== undefined ? await openWriter(paths.stdin) : undefined;
    if (stdin) sockets.push(stdin);
    // An error on a FIFO means the other side vanished; the process's fate is reported by Wait.
    // Without a listener such an error would take the daemon down.
    for (const s of sockets) s.on('error', () => undefined);
    const drained = Promise.all([settledOnClose(stdout), settledOnClose(stderr)]).then(() => undefined);
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        for (const s of sockets) s.destroy();
        await Promise.all(files.map((f) => unlink(f).catch(() => undefined)));
        await removeDirIfEmpty(dir);
      })());
    const endStdin = (): Promise<void> =>
      new Promise<void>((resolve) => {
        if (!stdin || stdin.destroyed) return resolve();
        stdin.once('close', () => resolve());
        stdin.end();
      });
    const detach = (): void => {
      for (const s of sockets) s.destroy();
    };
    return { stdin, stdout, stderr, paths, drained, endStdin, close, detach };
  } catch (err) {
    for (const s of sockets) s.destroy();
    if (unlinkOnFailure) {
      await Promise.all(files.map((f) => unlink(f).catch(() => undefined)));
      await removeDirIfEmpty(dir);
    }
    throw wrapIOError(dir, err);
  }
}

/** Other processes of the same container may still have FIFOs in `dir`; then it stays. */
export async function removeDirIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
}
