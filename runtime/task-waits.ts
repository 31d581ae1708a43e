// The exit of each process of a task (its init or an exec): one Tasks.Wait per process, issued
// before Start, shared by every waiter and re-issued while containerd is away; and the key by
// which the runtime tracks a process.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Containerd } from './containerd';
import { GrpcStatus, isGrpcCode } from './grpc-errors';
import type { ExitStatus } from './task-types';

const WAIT_RETRY_MIN_MS = 100;
const WAIT_RETRY_MAX_MS = 2_000;

export const waitKey = (id: string, execId?: string): string => `${id}\0${execId ?? ''}`;

/** Drops what `map` holds for a process, or for every process of the container without execId. */
export function forgetProcess(map: Map<string, unknown>, id: string, execId?: string): void {
  if (execId !== undefined) {
    map.delete(waitKey(id, execId));
    return;
  }
  const prefix = `${id}\0`;
  for (const key of map.keys()) if (key.startsWith(prefix)) map.delete(key);
}

export function raceSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export class TaskWaits {
  /** Wait calls in flight, per process: issued before Start and shared by every waiter. */
  private readonly waits = new Map<string, Promise<ExitStatus>>();

  constructor(
    private readonly ctd: Containerd,
    private readonly logger: Logger,
  ) {}

  /** The shared Wait for a process, issuing it if none is in flight. */
  track(id: string, execId?: string): Promise<ExitStatus> {
    const key = waitKey(id, execId);
    let p = this.waits.get(key);
    if (!p) {
      p = this.waitLoop(id, execId);
      this.waits.set(key, p);
      // A rejected wait nobody asked for must not become an unhandled rejection; and a failed
      // one must not be served to later waiters.
      p.catch(() => {
        if (this.waits.get(key) === p) this.waits.delete(key);
      });
    }
    return p;
  }

  /** Drops the Wait of a process, or of every process of the container without execId. */
  forget(id: string, execId?: string): void {
    forgetProcess(this.waits, id, execId);
  }

  private async waitLoop(id: string, execId?: string): Promise<ExitStatus> {
    let delay = WAIT_RETRY_MIN_MS;
    for (;;) {
      try {
        const res = await this.ctd.tasks.wait({ containerId: id, execId: execId ?? '' }, { timeoutMs: Infinity });
        return { exitStatus: res.exitStatus ?? 0, exitedAt: res.exitedAt ?? new Date() };
      } catch (err) {
        // containerd went away mid-call ("Connection dropped"): the shim keeps the process, and a
        // Wait re-issued once containerd is back returns the real status.
        if (!isGrpcCode(err, GrpcStatus.UNAVAILABLE)) throw err;
        this.logger.debug({ err, container: id, exec: execId }, 'Tasks.Wait interrupted; re-issuing');
        await sleep(delay);
        delay = Math.min(delay * 2, WAIT_RETRY_MAX_MS);
      }
    }
  }
}
