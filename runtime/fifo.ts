// Task stdio over named pipes, the way containerd's shim expects it. Node has no mkfifo, so the
// native addon's mknodat makes them. Our ends are non-blocking fds wrapped in net.Socket: libuv
// then polls them with epoll, so no threadpool thread is ever pinned and EOF is reported when
// the shim closes its writer.
//
// Making and opening them is synchronous: a handful of metadata syscalls in the daemon's own exec
// root (a mkdir, mknodat, a non-blocking open: microseconds each), where the thread pool's round
// trip per call was ~1 ms of every `docker exec` (and the pool of FIFOs made ahead, kept from when
// making one meant spawning mkfifo, cost two renames more than a mknodat).
//
// Order matters: the shim opens stdout/stderr O_WRONLY (blocking) inside Tasks.Create, so our
// readers must be open before that call or it hangs.

import { closeSync, constants as fsConstants, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { rmdir, unlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { errorMessage, InvalidParameter, SystemError } from '../lib/errors';
import { mknodAt, openRoot, withFd } from './safe-fs';

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
}

/** S_IFIFO: mknodat makes a FIFO with it. */
const S_IFIFO = 0o010000;

/**
 * Makes a FIFO (mode 0600) at each of `paths`, in-process: mknodat through the native addon (it
 * used to spawn `mkfifo`, a fork of the whole daemon each). Like mkfifo, an existing file is an
 * error (EEXIST). The paths are the daemon's own (its exec root), not a container's.
 */
export function mkfifo(paths: string[]): void {
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

/** Unlinks `file`; one that is not there is fine. */
function unlinkIfThere(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** A readable-only net.Socket over a non-blocking O_RDONLY fd; EOF arrives when the last writer closes. */
function openReader(file: string): Socket {
  return socketOver(openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK), 'r');
}

/**
 * The stdin writer is opened O_RDWR: O_WRONLY|O_NONBLOCK fails with ENXIO while the shim has not
 * opened its reader yet. Being a reader ourselves also means writes never fail with EPIPE.
 */
function openWriter(file: string): Socket {
  return socketOver(openSync(file, fsConstants.O_RDWR | fsConstants.O_NONBLOCK), 'w');
}

/** A net.Socket owning `fd` (closed here should the wrap fail). */
function socketOver(fd: number, mode: 'r' | 'w'): Socket {
  try {
    return new Socket({ fd, readable: mode === 'r', writable: mode === 'w' });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
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
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // mkfifo refuses to replace; a FIFO left by a crashed run must go first.
    for (const f of files) unlinkIfThere(f);
    mkfifo(files);
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
    const stdout = openReader(paths.stdout);
    sockets.push(stdout);
    const stderr = paths.stderr !== undefined ? openReader(paths.stderr) : undefined;
    if (stderr) sockets.push(stderr);
    const stdin = paths.stdin !== undefined ? openWriter(paths.stdin) : undefined;
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
