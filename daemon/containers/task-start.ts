// Starting a container's task: the network, the OCI spec, the run's logger, the task, and its
// output wired to the log and the attach hub; the exit handed to the monitor.
import type { Logger } from 'pino';
import { Conflict, errorMessage } from '../../lib/errors';
import type { TaskIO } from '../../runtime/fifo';
import { isStartFailure } from '../../runtime/start-errors';
import type { ContainerRuntime } from '../../runtime/tasks';
import { logConfigOf, NULL_SINK, openRunLogger } from '../logs/container-logs';
import { LogCopier } from '../logs/copier';
import type { JsonFileLogger } from '../logs/json-file';
import type { ContainerVolumes } from './container-volumes';
import type { HealthChecks } from './health';
import type { LiveContainer, LiveTask } from './live-container';
import { nowRfc3339Nano, ZERO_TIME, type Container } from './model';
import type { Monitor } from './monitor';
import type { ContainerNetworking } from './networking';
import type { SpecFactory } from './spec-factory';
import type { ContainerStore } from './store';

export interface TaskStartDeps {
  store: ContainerStore;
  runtime: ContainerRuntime;
  specs: SpecFactory;
  net: ContainerNetworking;
  vols: ContainerVolumes;
  monitor: Monitor;
  health: HealthChecks;
  publish(c: Container, action: string): void;
  logger: Logger;
}

/** Builds the spec, starts the task, and wires its output, exit and stdin. */
export async function startTask(deps: TaskStartDeps, c: LiveContainer): Promise<void> {
  const { runtime, store, net: networking } = deps;
  const id = c.record.id;
  const cfg = c.record.config;
  let io: TaskIO | undefined;
  // Mounts pinned for runc (Subpaths) are released once the task exists, or start failed.
  let pinned: (() => Promise<void>) | undefined;
  let record: Promise<void> | undefined;
  let logger: ReturnType<typeof openRunLogger>;
  // The last run's task may still be being deleted in containerd.
  await c.taskGone();
  try {
    // The rw snapshot a create left to finish behind its answer (or failed to make).
    await runtime.ensureRootfs(id, c.record.snapshotParent);
    const net = await networking.setUp(c);
    const { spec, rootfs, releaseMounts } = await deps.specs.build(
      c,
      (other) => namespaceSource(store, other),
      net?.netnsPath,
      networking.linkEnv(c),
    );
    pinned = releaseMounts;
    // containerd's record goes in while the log and the task's stdio are made: startTask waits
    // for it before Tasks.Create (and fails with its error).
    record = runtime.putContainer(
      id,
      { spec, imageName: c.record.config.Image ?? '', labels: { 'berth.name': c.record.name } },
      c.state.startedAt === ZERO_TIME,
    );
    record.catch(() => undefined); // awaited by startTask, or below should anything fail first
    // Opened before the task: a log that cannot be written fails the start, not a running task.
    logger = openRunLogger(c.record, logConfigOf(c.record), (err) => deps.logger.warn({ err, container: id }, 'log write failed'));
    const started = await runtime.startTask(id, { stdin: cfg.OpenStdin === true, terminal: cfg.Tty === true, rootfs, record });
    io = started.io;
    // The published ports' rules, started before the task, are in place when start answers.
    await net?.firewall;
    c.state = {
      ...c.state,
      running: true,
      paused: false,
      restarting: false,
      oomKilled: false,
      dead: false,
      pid: started.pid,
      exitCode: 0,
      error: '',
      startedAt: nowRfc3339Nano(),
    };
    c.oomSeen = false;
    store.saveState(c);
    taskRunning(deps, c, { io: started.io, startedMs: Date.now(), logger });
    deps.vols.publish(c, 'mount');
    deps.publish(c, 'start');
  } catch (err) {
    await record?.catch(() => undefined);
    // The log file this run opened (its descriptor stays open otherwise).
    await logger?.close().catch(() => undefined);
    await io?.close().catch(() => undefined);
    await runtime.deleteTask(id).catch(() => undefined);
    await networking.forget(id);
    c.state.error = errorMessage(err);
    c.state.exitCode = isStartFailure(err) ? err.exitCode : 128;
    store.saveState(c);
    throw err;
  } finally {
    await pinned?.();
  }
}

/**
 * The one hook for a container's task becoming running, whether started here or adopted from an
 * earlier berthd (live restore): its output wired to the log and the attach hub, stdin to the
 * hub, and its exit followed by the monitor. Whatever must run alongside every running task
 * starts here.
 */
export function taskRunning(
  deps: Pick<TaskStartDeps, 'runtime' | 'monitor' | 'logger' | 'health'>,
  c: LiveContainer,
  run: { io: TaskIO; startedMs: number; adopted?: boolean; logger?: JsonFileLogger },
): LiveTask {
  const id = c.record.id;
  const { io } = run;
  const logCfg = logConfigOf(c.record);
  const logger = run.logger ?? openRunLogger(c.record, logCfg, (err) => deps.logger.warn({ err, container: id }, 'log write failed'));
  const hub = c.hub;
  const copier = new LogCopier({ stdout: io.stdout, stderr: io.stderr }, logger ?? NULL_SINK, {
    mode: logCfg.mode,
    maxBufferSize: logCfg.maxBufferSize,
  });
  copier.onData((stream, chunk) => hub.output(stream, chunk));
  let release: (() => void) | undefined;
  hub.connectSource({
    pause: () => {
      release ??= copier.hold();
    },
    resume: () => {
      release?.();
      release = undefined;
    },
  });
  const stdin = io.stdin;
  if (stdin) {
    hub.connectStdin({
      write: (chunk) => stdin.write(chunk),
      close: () => void deps.runtime.closeStdin(id).catch(() => undefined),
    });
  }
  const task: LiveTask = {
    io,
    copier,
    logger,
    startedMs: run.startedMs,
    ...(run.adopted ? { adopted: true } : {}),
    exited: Promise.resolve(),
  };
  c.task = task;
  task.exited = deps.monitor.follow(c, task);
  deps.health.taskRunning(c);
  return task;
}

/** The /proc/<pid>/ns paths a container:<id> mode joins. */
function namespaceSource(store: ContainerStore, input: string): { id: string; pid: number } {
  const other = store.get(input);
  if (!other.state.running) throw new Conflict(`cannot join namespace of a non running container ${other.record.id}`);
  return { id: other.record.id, pid: other.state.pid };
}
