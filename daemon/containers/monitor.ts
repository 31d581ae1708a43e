// moby's monitor.go: a task's exit becomes the container's state (exit code, FinishedAt,
// OOMKilled), events, told waiters and a restart decision. It talks to the runtime through a
// small port, so the state machine runs in unit tests against a fake runtime and mocked timers.
//
// The exit's state change is written in one synchronous step on the container's single object
// (no await between reading and writing it), so it cannot interleave with a locked operation's
// own read-modify-write; the restart it schedules runs under the container's lock.
import type { Container } from './model';
import { notRunning, nowRfc3339Nano, rfc3339Nano } from './model';
import { settlesWithin } from '../../lib/wait';
import type { LiveContainer, LiveTask } from './live-container';

/** What the monitor needs of containerd. */
export interface MonitorRuntime {
  waitTask(id: string): Promise<{ exitStatus: number; exitedAt?: Date }>;
  deleteTask(id: string): Promise<unknown>;
}

export interface MonitorLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface MonitorDeps {
  runtime: MonitorRuntime;
  store: { saveState(c: LiveContainer): void; tryGetById(id: string): LiveContainer | undefined };
  publish(c: Container, action: string, extra?: Record<string, string>): void;
  /** dockerd's volume mount/unmount events. */
  publishVolumes(c: Container, action: 'mount' | 'unmount'): void;
  /** The exit's network teardown (runs while containerd deletes the task). */
  tearDownNetwork(c: LiveContainer): Promise<void>;
  /** Starts the container's task again (the restart policy's restart). */
  startTask(c: LiveContainer): Promise<void>;
  /** The task is gone: its healthcheck stops (and starts again with the next start). */
  stopHealth(c: LiveContainer): void;
  /** AutoRemove after the final exit; the monitor does not wait for it. */
  autoRemove(id: string): Promise<void>;
  logger: MonitorLogger;
}

/** How long output may still drain from the pipes after the exit is reported. */
const DRAIN_MS = 2000;

export class Monitor {
  private shuttingDown = false;
  /** Live-restore stop: the tasks outlive us; their exits are the next berthd's to handle. */
  private detached = false;

  constructor(private readonly deps: MonitorDeps) {}

  /**
   * Follows a task to its exit; the promise settles once the exit is handled and never rejects:
   * nobody may be waiting, so a failure on the way (the store, containerd) is logged.
   */
  async follow(c: LiveContainer, task: LiveTask): Promise<void> {
    try {
      await this.followExit(c, task);
    } catch (err) {
      this.deps.logger.error({ err, container: c.id }, 'handling the exit failed');
    }
  }

  private async followExit(c: LiveContainer, task: LiveTask): Promise<void> {
    const { runtime, logger } = this.deps;
    const id = c.id;
    let status: number;
    let exitedAt: Date | undefined;
    try {
      ({ exitStatus: status, exitedAt } = await runtime.waitTask(id));
    } catch (err) {
      if (this.detached) return;
      logger.error({ err, container: id }, 'waiting for the task failed');
      status = 255;
    }
    if (this.detached) return;
    // As moby: no probe runs or is recorded once the exit is known.
    this.deps.stopHealth(c);
    // An adopted task (live restore) may have exited while berthd was away: its state takes
    // containerd's exit time, not the time we learnt of it. (A task started here keeps our own
    // clock, which orders FinishedAt after the StartedAt we recorded.)
    const at = task.adopted && exitedAt && exitedAt.getTime() > 0 ? exitedAt : undefined;
    if (this.deps.store.tryGetById(id) === c) {
      c.state.exitSeen = { exitCode: status, finishedAt: at ? rfc3339Nano(at) : nowRfc3339Nano() };
      this.deps.store.saveState(c);
    }
    // Output may still be in the pipes when the exit is reported: drain it before the state says
    // exited, even to an attached client that is not reading (the rest is at most a pipe's worth).
    c.hub.releaseSource();
    await settlesWithin(task.copier.done(), DRAIN_MS);
    await task.logger?.close();
    // The processes are gone: the network comes down while containerd deletes the task. The exit
    // is reported once the network is down; the delete finishes behind it (c.taskGone).
    c.tearingDown(
      runtime
        .deleteTask(id)
        .then(
          () => undefined,
          (err: unknown) => logger.warn({ err, container: id }, 'task delete failed'),
        )
        .then(() => task.io.close())
        .catch(() => undefined),
    );
    await this.deps.tearDownNetwork(c);
    if (c.task === task) c.task = undefined;
    this.handleExit(c, status, (at?.getTime() ?? Date.now()) - task.startedMs, at);
  }

  /** The exit as state, events, waiters and the restart policy's decision. */
  handleExit(c: LiveContainer, exitCode: number, ranMs: number, exitedAt?: Date): void {
    const { store } = this.deps;
    if (store.tryGetById(c.id) !== c) return;
    const oom = c.oomSeen;
    const finishedAt = exitedAt && exitedAt.getTime() > 0 ? rfc3339Nano(exitedAt) : nowRfc3339Nano();
    c.state = notRunning(c.state, { exitCode, oomKilled: oom, finishedAt });
    store.saveState(c);
    if (oom) this.deps.publish(c, 'oom');
    this.deps.publish(c, 'die', { exitCode: String(exitCode), execDuration: String(Math.floor(ranMs / 1000)) });
    this.deps.publishVolumes(c, 'unmount');
    c.hub.end();
    c.notifyExit({ StatusCode: exitCode, Error: null });

    if (this.shuttingDown || c.state.removalInProgress) return;
    const decision = c.restartManager().shouldRestart(exitCode, c.state.manuallyStopped, ranMs);
    if (decision.restart) {
      c.state = { ...c.state, running: true, restarting: true };
      store.saveState(c);
      c.restartTimer = setTimeout(() => {
        c.restartTimer = undefined;
        c.locked(() => this.restart(c)).catch((err: unknown) => this.deps.logger.error({ err, container: c.id }, 'restart failed'));
      }, decision.delayMs);
      return;
    }
    if (c.record.hostConfig.AutoRemove && !c.manualRestart) {
      // Not awaited: whoever waits for this exit (stop, kill, restart) holds the container's lock,
      // which the removal needs; it runs once they let go.
      this.deps.autoRemove(c.id).catch((err: unknown) => this.deps.logger.warn({ err, container: c.id }, 'auto-remove failed'));
    }
  }

  /** The policy's restart, under the container's lock: skipped if a stop or removal came first. */
  private async restart(c: LiveContainer): Promise<void> {
    if (this.deps.store.tryGetById(c.id) !== c || !c.state.restarting || c.state.removalInProgress) return;
    c.state.restartCount = (c.state.restartCount ?? 0) + 1;
    c.state.restarting = false;
    c.state.running = false;
    try {
      await this.deps.startTask(c);
    } catch (err) {
      this.deps.logger.error({ err, container: c.id }, 'restart failed');
      c.state.running = false;
      c.state.restarting = false;
      this.deps.store.saveState(c);
    }
  }

  /** Drops a pending restart; true when there was one (the container is then stopped). */
  cancelRestart(c: LiveContainer): boolean {
    if (!c.restartTimer && !c.state.restarting) return false;
    if (c.restartTimer) clearTimeout(c.restartTimer);
    c.restartTimer = undefined;
    c.state = { ...c.state, running: false, restarting: false };
    this.deps.store.saveState(c);
    return true;
  }

  /** The task was OOM-killed (from containerd's events). */
  noteOom(id: string): void {
    const c = this.deps.store.tryGetById(id);
    if (c) c.oomSeen = true;
  }

  /**
   * Live-restore stop: the tasks keep running without us, so nothing of theirs is handled here
   * any more (no exit recorded, no restart); the next berthd adopts them.
   */
  detach(containers: Iterable<LiveContainer>): void {
    this.detached = true;
    this.shutdown(containers);
  }

  /** Daemon stop: exits from now on are final, pending restarts are dropped. */
  shutdown(containers: Iterable<LiveContainer>): void {
    this.shuttingDown = true;
    for (const c of containers) {
      if (c.restartTimer) clearTimeout(c.restartTimer);
      c.restartTimer = undefined;
    }
  }
}
