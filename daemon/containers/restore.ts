// The daemon's start: container state brought in line with containerd, as moby's
// daemon.restore() does. With live restore, tasks an earlier berthd left running are adopted
// (output, exit, attach, network); without it they are killed. A task that exited while berthd
// was away gives its real exit code and time. Then restart policies and AutoRemove do what they
// would have done.
import * as fs from 'node:fs';
import type { Logger } from 'pino';
import type { TaskIO } from '../../runtime/fifo';
import type { TaskStatus } from '../../runtime/task-types';
import type { LiveContainer } from './live-container';
import { notRunning, nowRfc3339Nano, rfc3339Nano, ZERO_TIME } from './model';
import { restartPolicyName, type RestartPolicyName } from './settings';
import type { ContainerStore } from './store';

export interface AdoptedTask {
  pid: number;
  io: TaskIO;
  status: TaskStatus;
}

export interface RestoreRuntime {
  listContainers(): Promise<string[]>;
  hasSnapshot(id: string): Promise<boolean>;
  prepareRootfs(id: string, snapshotParent: string): Promise<void>;
  deleteContainer(id: string): Promise<unknown>;
  deleteTask(id: string): Promise<{ exitStatus: number; exitedAt?: Date } | undefined>;
  taskStatus(id: string): Promise<{ status: TaskStatus } | undefined>;
  adoptTask(id: string): Promise<AdoptedTask | undefined>;
}

export interface RestoreDeps {
  store: ContainerStore;
  runtime: RestoreRuntime;
  logger: Logger;
  liveRestore: boolean;
  containerDir(id: string): string;
  /** The names of the entries in the directory that holds the containers' directories. */
  containerDirNames(): string[];
  startTask(c: LiveContainer): Promise<void>;
  remove(id: string): Promise<void>;
  /** Takes a running task over: network (ports, DNS), then the taskRunning hook. */
  adopt(c: LiveContainer, task: AdoptedTask): Promise<void>;
  /** A task left running that is not adopted: its stop signal, then its grace period (no SIGKILL). */
  stopLeftTask(c: LiveContainer): Promise<void>;
  /** Releases what the network layer kept for a container that is not adopted (never throws). */
  forgetNetwork(id: string): Promise<void>;
  /** containerd containers without a record (`known` are the ones with one). */
  quarantineUnknown(inContainerd: Set<string>, known: Set<string>): Promise<void>;
}

/** What a stopped container's restart policy and AutoRemove say at daemon start. */
export interface StartupFacts {
  policy: RestartPolicyName;
  maxRetries: number;
  restartCount: number;
  exitCode: number;
  manuallyStopped: boolean;
  startedBefore: boolean;
  autoRemove: boolean;
  dead: boolean;
}

/**
 * moby's restore: a container whose policy says restart (its RestartManager.ShouldRestart with
 * the stored exit code, manual-stop flag and restart count) and that ran before is started;
 * otherwise an AutoRemove one is removed. `always` comes back even after a manual stop;
 * `unless-stopped` does not.
 */
export function startupAction(f: StartupFacts): 'start' | 'remove' | 'none' {
  let restart = false;
  switch (f.policy) {
    case 'always':
      restart = true;
      break;
    case 'unless-stopped':
      restart = !f.manuallyStopped;
      break;
    case 'on-failure':
      restart = (f.maxRetries === 0 || f.restartCount < f.maxRetries) && f.exitCode !== 0;
      break;
    default:
      restart = false;
  }
  // A Dead container cannot be started (moby's start refuses it); it only goes if AutoRemove.
  if (restart && f.startedBefore && !f.dead) return 'start';
  return f.autoRemove ? 'remove' : 'none';
}

/**
 * Whether containerd lacks the container's rw snapshot (a create cut short, or containerd's state
 * lost). Its containerd record is not vital: made at the first start, and again by a start that
 * finds none. A failed check counts as present.
 */
async function snapshotMissing(runtime: RestoreRuntime, id: string): Promise<boolean> {
  return !(await runtime.hasSnapshot(id).catch(() => true));
}

/**
 * A container that never started lacks its snapshot when its create answered before the
 * snapshot's prepare and the daemon stopped first: prepared now, as the create would have (files
 * copied into such a container before a snapshot vanished some other way would be lost; see
 * docs/divergence.md). One that ran had a rootfs with its changes: quarantined instead.
 */
async function preparedAgain(deps: RestoreDeps, c: LiveContainer): Promise<boolean> {
  if (c.state.startedAt !== ZERO_TIME || c.state.quarantined) return false;
  try {
    await deps.runtime.prepareRootfs(c.id, c.record.snapshotParent);
    return true;
  } catch (err) {
    deps.logger.warn({ err, container: c.id }, 'preparing the rootfs of a created container failed');
    return false;
  }
}

/**
 * Directories without a record. create makes the directory before the record, so a crash between
 * the two leaves an empty one: deleted. One with files (its record lost some other way) holds a
 * log someone may want: kept and logged, as unknown containerd containers are.
 */
function removeStrayDirs(deps: RestoreDeps, known: Set<string>): void {
  for (const name of deps.containerDirNames()) {
    if (known.has(name)) continue;
    try {
      fs.rmdirSync(deps.containerDir(name));
    } catch (err) {
      deps.logger.warn({ err, dir: deps.containerDir(name) }, 'a container directory without a record is kept');
    }
  }
}

/** Whether a task in containerd counts as alive (a `created` task never ran: a start cut short). */
function alive(status: TaskStatus): boolean {
  return status === 'running' || status === 'paused' || status === 'pausing';
}

export async function restoreContainers(deps: RestoreDeps): Promise<void> {
  const { store, runtime, logger } = deps;
  const known = new Set<string>();
  // Removed containers whose containerd side a stop or crash cut short: deleted now; one that
  // still fails stays recorded for the next start, and is not quarantined. Their directory too:
  // a removal deletes the record first, so a crash can cut the directory's deletion short.
  for (const id of store.leftovers()) {
    try {
      fs.rmSync(deps.containerDir(id), { recursive: true, force: true });
    } catch (err) {
      logger.warn({ err, container: id }, "removing a removed container's directory failed");
    }
    try {
      await runtime.deleteContainer(id);
      store.leftoverDeleted(id);
    } catch (err) {
      logger.warn({ err, container: id }, 'deleting a removed container in containerd failed');
      known.add(id);
    }
  }
  const inContainerd = new Set(await runtime.listContainers());
  const toStart: LiveContainer[] = [];
  const toRemove: string[] = [];
  const notAdopted: { c: LiveContainer; wasRunning: boolean; status: TaskStatus | undefined }[] = [];
  for (const c of store.all()) {
    const id = c.record.id;
    known.add(id);
    if (c.state.removalInProgress) {
      // A removal cut short: finished, since it was asked for (moby marks it Dead instead).
      await runtime.deleteContainer(id).catch(() => undefined);
      await deps.forgetNetwork(id);
      fs.rmSync(deps.containerDir(id), { recursive: true, force: true });
      store.delete(id);
      continue;
    }
    if ((await snapshotMissing(runtime, id)) && !(await preparedAgain(deps, c))) {
      // A record without its rootfs snapshot: it can never start. Kept for the operator, Dead so
      // that it is never started; `docker rm` clears it.
      if (!c.state.quarantined) {
        logger.warn({ container: id, name: c.record.name }, 'quarantined at daemon start: no rootfs snapshot matches this record');
      }
      if (inContainerd.has(id)) await runtime.deleteTask(id).catch(() => undefined);
      await deps.forgetNetwork(id);
      c.state = notRunning(c.state, {
        dead: true,
        quarantined: c.state.quarantined ?? `no rootfs snapshot at daemon start ${nowRfc3339Nano()}`,
        error: 'quarantined at daemon start: its rootfs snapshot is missing',
      });
      store.saveState(c);
      continue;
    }
    const wasRunning = c.state.running;
    if (deps.liveRestore && (await adoptIfAlive(deps, c))) continue;
    notAdopted.push({ c, wasRunning, status: (await runtime.taskStatus(id).catch(() => undefined))?.status });
  }
  // Without live restore (or when adoption failed) a task still running is stopped as moby's
  // shutdownContainer does: its stop signal and grace period, all in parallel; then SIGKILL.
  await Promise.all(
    notAdopted
      .filter((p) => p.status !== undefined && alive(p.status))
      .map((p) =>
        deps.stopLeftTask(p.c).catch((err: unknown) => logger.warn({ err, container: p.c.id }, 'stopping a task left running failed')),
      ),
  );
  for (const { c, wasRunning, status } of notAdopted) {
    const id = c.id;
    // The task goes (killed if it still runs), its exit status kept when it had exited by itself.
    const exit = await runtime.deleteTask(id).catch((err: unknown) => {
      logger.warn({ err, container: id }, 'deleting the task at daemon start failed');
      return undefined;
    });
    await deps.forgetNetwork(id);
    if (wasRunning || c.state.paused) {
      // moby: 255 unless the task had exited by itself (then its own code and time, from
      // containerd, or from our own note when berthd died after deleting the task).
      const exited = exit !== undefined && status === 'stopped';
      const seen = c.state.exitSeen;
      c.state = notRunning(c.state, {
        exitCode: exited ? exit.exitStatus : (seen?.exitCode ?? 255),
        finishedAt:
          exited && exit.exitedAt && exit.exitedAt.getTime() > 0 ? rfc3339Nano(exit.exitedAt) : (seen?.finishedAt ?? nowRfc3339Nano()),
      });
      store.saveState(c);
    }
    const action = startupAction({
      policy: restartPolicyName(c.record.hostConfig.RestartPolicy),
      maxRetries: c.record.hostConfig.RestartPolicy?.MaximumRetryCount ?? 0,
      restartCount: c.state.restartCount ?? 0,
      exitCode: c.state.exitCode,
      manuallyStopped: c.state.manuallyStopped === true,
      startedBefore: c.state.startedAt !== ZERO_TIME,
      autoRemove: c.record.hostConfig.AutoRemove === true,
      dead: c.state.dead === true,
    });
    if (action === 'start') toStart.push(c);
    else if (action === 'remove') toRemove.push(id);
  }
  await deps.quarantineUnknown(inContainerd, known);
  removeStrayDirs(deps, known);
  // As moby: the restarts once every container is restored (links and shared namespaces may
  // name one another), then the removals.
  for (const c of toStart) {
    c.restartManager().reset();
    c.state.manuallyStopped = false;
    await c
      .locked(() => deps.startTask(c))
      .catch((err: unknown) => logger.warn({ err, container: c.id }, 'restart at daemon start failed'));
  }
  for (const id of toRemove)
    await deps.remove(id).catch((err: unknown) => logger.warn({ err, container: id }, 'auto-remove at daemon start failed'));
}

/**
 * Live restore: a task still running (or paused) is adopted as it is; one that exited while
 * berthd was away is adopted too when the container was running, so that its last output is
 * read and the monitor records its real exit and applies the restart policy. False when there
 * is nothing to adopt (the caller then cleans up as without live restore).
 */
async function adoptIfAlive(deps: RestoreDeps, c: LiveContainer): Promise<boolean> {
  const { runtime, logger, store } = deps;
  const id = c.id;
  const status = (await runtime.taskStatus(id).catch(() => undefined))?.status;
  if (status === undefined) return false;
  const live = alive(status);
  if (!live && !(status === 'stopped' && c.state.running)) return false;
  let task: AdoptedTask | undefined;
  try {
    task = await runtime.adoptTask(id);
  } catch (err) {
    logger.warn({ err, container: id }, 'cannot take over the task left running: stopping it');
    return false;
  }
  if (!task) return false;
  if (alive(task.status)) {
    const paused = task.status !== 'running';
    if (c.state.paused !== paused) logger.info({ container: id, paused }, 'paused state taken from containerd');
    c.state = {
      ...c.state,
      running: true,
      restarting: false,
      paused,
      dead: false,
      pid: task.pid,
      startedAt: c.state.startedAt === ZERO_TIME ? nowRfc3339Nano() : c.state.startedAt,
    };
  } else {
    c.state = { ...c.state, running: true, restarting: false, paused: false };
  }
  store.saveState(c);
  try {
    await deps.adopt(c, task);
  } catch (err) {
    logger.warn({ err, container: id }, 'taking over the task failed: stopping it');
    task.io.detach();
    c.task = undefined;
    return false;
  }
  logger.info({ container: id, pid: task.pid, status: task.status }, 'task adopted (live restore)');
  return true;
}
