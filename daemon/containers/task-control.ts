// Signals to a container's task: stop (signal, grace period, SIGKILL), kill, pause, the kill
// before a removal, with dockerd's rules for which signal ends a container for good, and the start-up
// quarantine of containerd containers without a record.
import type { Logger } from 'pino';
import { Conflict, NotModified, SystemError, errorMessage } from '../../lib/errors';
import { isNotFound, isProcessGone } from '../../runtime/grpc-errors';
import { parseSignal, parseSupportedSignal, validSignalForPlatform } from '../signals';
import type { LiveContainer } from './live-container';
import type { Container } from './model';
import { nowRfc3339Nano } from './model';
import { settlesWithin } from '../../lib/wait';
import type { Monitor } from './monitor';
import { DEFAULT_STOP_TIMEOUT } from './settings';

/** What stopping and killing need of containerd. */
export interface SignalRuntime {
  kill(id: string, signal: number, opts: { all: boolean }): Promise<void>;
  waitTask(id: string): Promise<unknown>;
  resume(id: string): Promise<void>;
  pause(id: string): Promise<void>;
  taskStatus(id: string): Promise<{ status: string } | undefined>;
  deleteTask(id: string): Promise<unknown>;
  labels(id: string): Promise<Record<string, string> | undefined>;
  addLabels(id: string, labels: Record<string, string>): Promise<void>;
  rootfsSnapshots(): Promise<Map<string, Record<string, string>>>;
  addSnapshotLabels(key: string, labels: Record<string, string>): Promise<void>;
}

export interface TaskControlDeps {
  runtime: SignalRuntime;
  store: { saveState(c: LiveContainer): void; tryGetById(id: string): LiveContainer | undefined };
  monitor: Pick<Monitor, 'cancelRestart'>;
  /** Pause stops the healthcheck, unpause resumes it (moby's updateHealthMonitor). */
  health: { update(c: LiveContainer): void };
  publish(c: Container, action: string, extra?: Record<string, string>): void;
  logger: Logger;
}

/** How long a SIGKILLed task gets to report its exit before the kill is retried (lock held). */
const KILL_EXIT_WAIT_MS = 10_000;

/** moby's containerStop: the grace a container gets when its stop signal could not be sent. */
const STOP_SIGNAL_FAILED_WAIT_MS = 2_000;

/** Label on containerd containers the start-up reconcile could not match to a record. */
export const QUARANTINE_LABEL = 'berth.quarantined';

/** moby's Container.StopSignal: the configured one when it parses, SIGTERM otherwise. */
export function configuredStopSignal(raw: string | null | undefined): number {
  try {
    return raw ? parseSignal(raw) : 15;
  } catch {
    return 15;
  }
}

export class TaskControl {
  constructor(private readonly deps: TaskControlDeps) {}

  /**
   * Daemon start without live restore: a task a crash left running gets its stop signal and
   * grace period (capped by the daemon's shutdown timeout) before the kill that follows, as
   * moby's restore stops it.
   */
  async stopLeftTask(c: LiveContainer, shutdownTimeoutSec: number): Promise<void> {
    const timeoutSec = Math.min(c.record.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT, shutdownTimeoutSec);
    // A frozen task would hold the signal: thawed first (it is stopped anyway).
    await this.deps.runtime.resume(c.id).catch(() => undefined);
    await this.deps.runtime.kill(c.id, configuredStopSignal(c.record.config.StopSignal), { all: false });
    await settlesWithin(this.deps.runtime.waitTask(c.id), timeoutSec < 0 ? Infinity : timeoutSec * 1000);
  }

  /**
   * Stop under the container's lock: the stop signal, the grace period, then SIGKILL. A stop by
   * the daemon's own shutdown is not a manual stop (moby's killWithSignal skips the flag while
   * shutting down), so unless-stopped containers start again with the daemon.
   */
  async stop(c: LiveContainer, opts: { signal?: string; timeoutSec?: number; daemonShutdown?: boolean }): Promise<void> {
    const { logger } = this.deps;
    const id = c.id;
    if (!opts.daemonShutdown) {
      c.state.manuallyStopped = true;
      this.deps.store.saveState(c);
    }
    if (this.deps.monitor.cancelRestart(c)) {
      this.deps.publish(c, 'stop');
      return;
    }
    if (!c.state.running) throw new NotModified();
    const sig = opts.signal ? parseSignal(opts.signal) : configuredStopSignal(c.record.config.StopSignal);
    const timeout = opts.timeoutSec ?? c.record.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    const task = c.task;
    // As moby's containerStop: a stop signal that cannot be sent (one the platform does not
    // know, or a kill that fails) is logged, and the container gets 2 s before SIGKILL.
    let signalled = validSignalForPlatform(sig);
    if (signalled) {
      await this.signal(c, sig).catch((err: unknown) => {
        signalled = false;
        logger.warn({ err, container: id, signal: sig }, 'error sending stop signal to container');
      });
    } else logger.warn({ container: id, signal: sig }, 'stop signal not supported on linux: killing after the grace period');
    if (task) {
      const waitMs = !signalled ? STOP_SIGNAL_FAILED_WAIT_MS : timeout < 0 ? Infinity : timeout * 1000;
      if (!(await settlesWithin(task.exited, waitMs))) {
        logger.info({ container: id, timeout }, 'container did not exit in time: killing it');
        await this.killAndWait(c, task.exited);
      }
    }
    this.deps.publish(c, 'stop');
  }

  /** The signal `docker kill` asked for (SIGKILL by default); a bad one is the client's error. */
  killSignal(signal: string | undefined): number {
    return parseSupportedSignal(signal && signal !== '' ? signal : 'SIGKILL');
  }

  async kill(c: LiveContainer, input: string, sig: number): Promise<void> {
    if (!c.state.running || c.state.restarting) throw new Conflict(`Cannot kill container: ${input}: Container ${c.id} is not running`);
    c.state.manuallyStopped = true;
    this.deps.store.saveState(c);
    await this.signal(c, sig);
    const task = c.task;
    if (sig === 9 && task) await settlesWithin(task.exited, KILL_EXIT_WAIT_MS);
  }

  /** `rm -f`: the running task is killed (thawed if frozen) and its exit awaited. */
  async killForRemoval(c: LiveContainer): Promise<void> {
    const task = c.task;
    if (!task) return;
    await this.deps.runtime.kill(c.id, 9, { all: true }).catch(() => undefined);
    await this.deps.runtime.resume(c.id).catch(() => undefined);
    if (await settlesWithin(task.exited, KILL_EXIT_WAIT_MS)) return;
    try {
      await this.killAndWait(c, task.exited);
    } catch (err) {
      throw new SystemError(`Could not kill running container ${c.id}, cannot remove - ${errorMessage(err)}`);
    }
  }

  /**
   * SIGKILL and a bounded wait for the exit: the per-container lock is held here, and an exit that
   * never comes (a task left frozen by a pause racing the kill) must not lock the container for
   * good. A second round thaws the task whatever the recorded state says, then gives up with
   * dockerd's error.
   */
  private async killAndWait(c: LiveContainer, exited: Promise<void>): Promise<void> {
    for (let round = 0; round < 2; round++) {
      await this.signal(c, 9).catch((err: unknown) => this.deps.logger.warn({ err, container: c.id }, 'SIGKILL failed'));
      if (round > 0) await this.deps.runtime.resume(c.id).catch(() => undefined);
      if (await settlesWithin(exited, KILL_EXIT_WAIT_MS)) return;
      this.deps.logger.warn({ container: c.id }, 'no exit after SIGKILL: thawing and killing again');
    }
    throw new SystemError('tried to kill container, but did not receive an exit event');
  }

  private async signal(c: LiveContainer, sig: number): Promise<void> {
    const id = c.id;
    // dockerd's killWithSignal: SIGKILL, the stop signal, or any signal when none is configured
    // means the container is meant to end: no restart policy brings it back, and a paused
    // container is thawed so that the signal is delivered.
    const stopSignal = c.record.config.StopSignal;
    const exitOnNext = !stopSignal || sig === 9 || configuredStopSignal(stopSignal) === sig;
    if (exitOnNext) c.restartManager().cancel();
    try {
      await this.deps.runtime.kill(id, sig, { all: sig === 9 });
    } catch (err) {
      // A process exiting right now has a shim that refuses signals ("process already finished",
      // "ttrpc: closed"): if its exit follows shortly, the signal was not needed.
      const task = c.task;
      const exited = task === undefined || (await settlesWithin(task.exited, 2000));
      if (!exited && !isNotFound(err)) throw err;
    }
    this.deps.publish(c, 'kill', { signal: String(sig) });
    // SIGKILL thaws even when nothing is recorded paused: a frozen task would never report its exit.
    if (exitOnNext && (c.state.paused || sig === 9)) {
      const wasPaused = c.state.paused;
      await this.deps.runtime.resume(id).catch((err: unknown) => {
        if (wasPaused) this.deps.logger.warn({ err, container: id }, 'resume after kill failed');
      });
      if (c.state.paused) {
        c.state.paused = false;
        this.deps.store.saveState(c);
        this.deps.publish(c, 'unpause');
      }
    }
  }

  /**
   * Rethrows a runtime failure of pause/unpause/top: as dockerd's 409 "is not running" when the
   * task ended meanwhile (an exit or a stop/restart racing the request), as itself otherwise.
   */
  async notRunningConflict(id: string, err: unknown): Promise<never> {
    const now = this.deps.store.tryGetById(id);
    const task = await this.deps.runtime.taskStatus(id).catch(() => undefined);
    if (!now || !now.state.running || now.state.restarting || task === undefined || task.status === 'stopped' || isProcessGone(err)) {
      throw new Conflict(`Container ${id} is not running`);
    }
    throw err;
  }

  async pause(c: LiveContainer): Promise<void> {
    const id = c.id;
    if (!c.state.running) throw new Conflict(`Container ${id} is not running`);
    if (c.state.paused) throw new Conflict(`Container ${id} is already paused`);
    if (c.state.restarting) throw new Conflict(`Container ${id} is restarting, wait until the container is running`);
    await this.deps.runtime.pause(id).catch((err: unknown) => this.notRunningConflict(id, err));
    c.state.paused = true;
    this.deps.health.update(c);
    this.deps.store.saveState(c);
    this.deps.publish(c, 'pause');
  }

  async unpause(c: LiveContainer): Promise<void> {
    if (!c.state.paused) throw new Conflict(`Container ${c.id} is not paused`);
    await this.deps.runtime.resume(c.id).catch((err: unknown) => this.notRunningConflict(c.id, err));
    c.state.paused = false;
    this.deps.health.update(c);
    this.deps.store.saveState(c);
    this.deps.publish(c, 'unpause');
  }

  /**
   * containerd containers Berth has no record of, and containers' rw snapshots without either (a
   * container created, never started, whose record is gone): never deleted (they may be
   * someone's data), but a task goes (nothing may run unmanaged), and each is labelled and logged.
   */
  async quarantineUnknown(inContainerd: Set<string>, known: Set<string>): Promise<void> {
    const { runtime, logger } = this.deps;
    const label = (): Record<string, string> => ({ [QUARANTINE_LABEL]: `no record at daemon start ${nowRfc3339Nano()}` });
    for (const id of inContainerd) {
      if (known.has(id)) continue;
      await runtime
        .deleteTask(id)
        .catch((err: unknown) => logger.warn({ err, container: id }, 'stopping the task of an unknown container failed'));
      const labels = await runtime.labels(id).catch(() => undefined);
      if (labels && labels[QUARANTINE_LABEL] !== undefined) continue;
      logger.warn({ container: id }, `quarantined at daemon start: containerd container without a record (label ${QUARANTINE_LABEL})`);
      await runtime
        .addLabels(id, label())
        .catch((err: unknown) => logger.warn({ err, container: id }, 'labelling a quarantined container failed'));
    }
    const snapshots = await runtime.rootfsSnapshots().catch((err: unknown) => {
      logger.warn({ err }, "listing the containers' snapshots failed");
      return new Map<string, Record<string, string>>();
    });
    for (const [key, labels] of snapshots) {
      if (known.has(key) || inContainerd.has(key) || labels[QUARANTINE_LABEL] !== undefined) continue;
      logger.warn({ snapshot: key }, `quarantined at daemon start: container snapshot without a record (label ${QUARANTINE_LABEL})`);
      await runtime
        .addSnapshotLabels(key, label())
        .catch((err: unknown) => logger.warn({ err, snapshot: key }, 'labelling a quarantined snapshot failed'));
    }
  }
}
