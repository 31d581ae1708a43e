// One object per container: its record and state (the store persists them), the lock that
// serialises its lifecycle operations, and what exists only while the daemon runs it: the task
// and its output plumbing, the attach hub, exit and removal waiters, the restart manager and
// timer, the OOM flag and the manual-restart flag.
import type { TaskIO } from '../../runtime/fifo';
import type { LogCopier } from '../logs/copier';
import type { JsonFileLogger } from '../logs/json-file';
import { AttachHub } from './attach-hub';
import type { Container, ContainerRecord, ContainerState } from './model';
import { RestartManager } from './restart-policy';
import { restartPolicyName } from './settings';

export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

/** What a running task holds in the daemon's memory. */
export interface LiveTask {
  io: TaskIO;
  copier: Pick<LogCopier, 'done'>;
  logger?: JsonFileLogger;
  startedMs: number;
  /** Created by an earlier berthd and taken over at start (live restore). */
  adopted?: boolean;
  /** Settles once the exit is handled (state written, waiters told). */
  exited: Promise<void>;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

type Waiter = (r: WaitResult) => void;

export class LiveContainer implements Container {
  /** Set while a task runs (from start until its exit is handled). */
  task?: LiveTask;
  /** A pending restart (the policy's back-off). */
  restartTimer?: NodeJS.Timeout;
  /** containerd reported an OOM kill during the current run. */
  oomSeen = false;
  /** Inside `docker restart`: its exit is not the end, AutoRemove waits. */
  manualRestart = false;
  private hubRef?: AttachHub;
  private restartRef?: RestartManager;
  private lockTail: Promise<unknown> = Promise.resolve();
  /** The ended task's delete in containerd, still under way after its exit was reported. */
  private teardown?: Promise<void>;
  private readonly exitWaiters = new Set<Waiter>();
  private readonly removeWaiters = new Set<Waiter>();

  constructor(
    public record: ContainerRecord,
    public state: ContainerState,
  ) {}

  get id(): string {
    return this.record.id;
  }

  /** Serialises lifecycle operations on this container, as dockerd's per-container lock does. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lockTail.then(fn, fn);
    this.lockTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * The exit is reported before containerd has deleted the task (the shim's `runc delete`, its
   * unmount of the rootfs and its exit take tens of ms): what needs the task gone (a start, the
   * removal, a write to the rootfs, the daemon's stop) awaits this. Never rejects.
   */
  taskGone(): Promise<void> {
    return this.teardown ?? Promise.resolve();
  }

  /** Records the ended task's teardown for taskGone (it must not reject). */
  tearingDown(p: Promise<void>): void {
    const t: Promise<void> = p.then(() => {
      if (this.teardown === t) this.teardown = undefined;
    });
    this.teardown = t;
  }

  /** One hub per container, living across restarts. */
  get hub(): AttachHub {
    this.hubRef ??= new AttachHub();
    return this.hubRef;
  }

  /** The restart manager, brought in line with the current policy. */
  restartManager(): RestartManager {
    const policy = restartPolicyName(this.record.hostConfig.RestartPolicy);
    const max = this.record.hostConfig.RestartPolicy?.MaximumRetryCount ?? 0;
    if (!this.restartRef) this.restartRef = new RestartManager(policy, max);
    else this.restartRef.update(policy, max);
    return this.restartRef;
  }

  /** `docker wait`: now if the condition holds, else at the next exit or the removal. */
  wait(condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult> {
    if (condition === 'not-running' && !this.state.running) {
      return Promise.resolve({ StatusCode: this.state.exitCode, Error: this.state.error ? { Message: this.state.error } : null });
    }
    const w = condition === 'removed' ? this.waitRemoved() : this.waitExit();
    return new Promise<WaitResult>((resolve, reject) => {
      w.promise.then(resolve, reject);
      signal?.addEventListener('abort', () => {
        w.cancel();
        reject(new Error('client went away'));
      });
    });
  }

  waitExit(): { promise: Promise<WaitResult>; cancel: () => void } {
    return this.addWaiter(this.exitWaiters);
  }

  waitRemoved(): { promise: Promise<WaitResult>; cancel: () => void } {
    return this.addWaiter(this.removeWaiters);
  }

  notifyExit(r: WaitResult): void {
    notifyAll(this.exitWaiters, r);
  }

  notifyRemoved(r: WaitResult): void {
    notifyAll(this.removeWaiters, r);
    notifyAll(this.exitWaiters, r);
  }

  private addWaiter(set: Set<Waiter>): { promise: Promise<WaitResult>; cancel: () => void } {
    let fn: Waiter = () => undefined;
    const promise = new Promise<WaitResult>((resolve) => {
      fn = resolve;
      set.add(fn);
    });
    return { promise, cancel: () => set.delete(fn) };
  }
}

function notifyAll(set: Set<Waiter>, r: WaitResult): void {
  const fns = [...set];
  set.clear();
  for (const fn of fns) fn(r);
}
