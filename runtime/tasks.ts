// Containers and their tasks in containerd: the layer the container service drives. A container
// is containerd's record (spec, snapshot key) plus an active overlayfs snapshot; a task is the
// running instance (shim + runc) with FIFO stdio; execs are extra processes in a task.
//
// Orders that matter (measured; see the shared notes on driving containerd from Node):
// * create: Snapshots.Prepare only, the snapshot labelled a GC root, and behind the answer (every
//   use of the snapshot waits for it); containerd's record of the container comes with the first
//   start (as dockerd makes it only at start);
// * start: our FIFO ends open before Tasks.Create, Tasks.Wait issued before Tasks.Start;
// * delete: Kill 9 → Wait → Tasks.Delete (no force option), Snapshots.Remove before
//   Containers.Delete; NOT_FOUND tolerated throughout, so cleanup after a crash can rerun it.

import { readdir, rm, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { Conflict, errorMessage, SystemError } from '../lib/errors';
import { settlesWithin } from '../lib/wait';
import type { Containerd } from './containerd';
import { createTaskIO, reopenTaskIO, type TaskIO } from './fifo';
import { Kind, type ListSnapshotsResponse } from './gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots';
import type { Mount } from './gen/github.com/containerd/containerd/api/types/mount';
import type { DeleteResponse, MetricsResponse } from './gen/github.com/containerd/containerd/api/services/tasks/v1/tasks';
import { type Process } from './gen/github.com/containerd/containerd/api/types/task/task';
import { Metrics as V1Metrics } from './gen/metrics/github.com/containerd/cgroups/stats/v1/metrics';
import { Metrics as V2Metrics } from './gen/metrics/github.com/containerd/cgroups/v2/stats/metrics';
import { fromGrpcError, GrpcStatus, isAlreadyExists, isGrpcCode, isNotFound } from './grpc-errors';
import { pendingPreparesOf, prepareSettled, trackPrepare } from './snapshots';
import { classifyStartError, CREATE_TASK_PREFIX } from './start-errors';
import { forgetProcess, raceSignal, TaskWaits, waitKey } from './task-waits';
import {
  type ContainerRuntimeOptions,
  type ContainerRecordOptions,
  type ExecOptions,
  type ExitStatus,
  type StartOptions,
  type Started,
  type TaskMetrics,
  type TaskState,
  type TaskStatus,
  decodeMetrics,
  jsonAny,
  statusName,
} from './task-types';
/** containerd's GC never collects an object with this label (metadata/gc.go's isRootRef). */
const GC_ROOT_LABEL = 'containerd.io/gc.root';
/** On a container's rw snapshot (value: the container ID), so that one without a record is found. */
export const ROOTFS_LABEL = 'berth.rootfs';

export {
  type ContainerRuntimeOptions,
  type ContainerRecordOptions,
  type ExecOptions,
  type ExitStatus,
  type StartOptions,
  type Started,
  type TaskMetrics,
  type TaskState,
  type TaskStatus,
  decodeMetrics,
  jsonAny,
} from './task-types';

export type { TaskIO } from './fifo';
export type { V1Metrics, V2Metrics };

const SPEC_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
const PROCESS_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
const RESOURCES_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';
const DEFAULT_RUNTIME = 'io.containerd.runc.v2';
/** How long deleteTask waits for a SIGKILLed task to be reported exited before deleting anyway. */
const KILL_WAIT_MS = 30_000;
/** moby waits this long for a process's output to end after it exited (daemon/monitor.go). */
const DEFAULT_IO_DRAIN_MS = 2_000;

export class ContainerRuntime {
  readonly ctd: Containerd;
  readonly fifoRoot: string;
  private readonly logger: Logger;
  private readonly snapshotter: string;
  private readonly runtimeName: string;
  /** The shared Tasks.Wait of each process, issued before Start (task-waits.ts). */
  private readonly waits: TaskWaits;
  /** IO of the processes started here, for closeStdin; dropped when the process is deleted. */
  private readonly ios = new Map<string, TaskIO>();
  /**
   * Containers this process knows have no task: made fresh by createContainer, or whose task
   * deleteTask saw gone. Only this process's own observations count (the set starts empty, so
   * after a crash every container is asked about until the start-up reconcile's deleteTask has
   * cleared it), and every start or adoption drops the mark. deleteContainer skips Tasks.Get for
   * them (`docker rm` of a created container).
   */
  private readonly taskless = new Set<string>();
  /**
   * Containers prepared here whose containerd record no start has made yet: deleteContainer
   * skips Containers.Delete for them (`docker rm` of a container never started). After a
   * restart the set is empty and the delete is tried (NOT_FOUND is fine).
   */
  private readonly recordless = new Set<string>();
  /** Task starts and adoptions per container: a deleteTask that overlapped one marks nothing. */
  private readonly starts = new Map<string, number>();
  /** Containers whose prepareRootfsLater failed: ensureRootfs prepares again (and reports why not). */
  private readonly failedPrepares = new Set<string>();

  constructor(opts: ContainerRuntimeOptions) {
    this.ctd = opts.ctd;
    this.fifoRoot = path.resolve(opts.fifoRoot);
    this.logger = opts.logger;
    this.waits = new TaskWaits(opts.ctd, opts.logger);
    this.snapshotter = opts.snapshotter ?? 'overlayfs';
    this.runtimeName = opts.runtimeName ?? DEFAULT_RUNTIME;
  }

  /** The FIFO directory of a container (shared by its task and execs). */
  fifoDir(id: string): string {
    return path.join(this.fifoRoot, id);
  }

  /** Waits for the rootfs prepares in flight. Tasks keep running: they belong to their shims. */
  async close(): Promise<void> {
    await Promise.all(pendingPreparesOf(this.ctd));
  }

  /**
   * Daemon start, after the restore: FIFO directories of containers that do not exist are
   * leftovers, and so are the exec FIFOs of live tasks (their execs were the previous berthd's).
   * Existing containers' directories stay: a restart policy may be starting one right now.
   */
  async sweepFifos(containers: ReadonlySet<string>, liveTasks: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    let entries: string[];
    try {
      entries = await readdir(this.fifoRoot);
    } catch {
      return removed;
    }
    for (const name of entries) {
      const dir = path.join(this.fifoRoot, name);
      if (!containers.has(name)) {
        await rm(dir, { recursive: true, force: true });
        removed.push(dir);
        continue;
      }
      if (!liveTasks.has(name)) continue;
      for (const f of await readdir(dir).catch(() => [])) {
        if (f.startsWith('init-')) continue;
        await unlink(path.join(dir, f)).catch(() => undefined);
        removed.push(path.join(dir, f));
      }
    }
    return removed;
  }

  // ---- containers ----------------------------------------------------------------------------

  /**
   * Prepares the container's rw snapshot on `snapshotParent`. containerd's record of the
   * container comes with its first start (putContainer), as dockerd makes containerd's container
   * only at start: a `docker create` (and the `docker rm` of a container never started) is one
   * containerd commit instead of two. Until a record references it, nothing else would keep GC
   * off the snapshot, so it is labelled a GC root (deleteContainer removes it explicitly), and
   * with ROOTFS_LABEL, by which a snapshot left without a container is found (rootfsSnapshots).
   * Safe to rerun after a crash halfway: an existing snapshot on the same parent is reused.
   */
  async prepareRootfs(id: string, snapshotParent: string): Promise<void> {
    const labels = { [GC_ROOT_LABEL]: new Date().toISOString(), [ROOTFS_LABEL]: id };
    try {
      await this.ctd.snapshots.prepare({ snapshotter: this.snapshotter, key: id, parent: snapshotParent, labels });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const info = (await this.ctd.snapshots.stat({ snapshotter: this.snapshotter, key: id })).info;
      if (info?.kind !== Kind.ACTIVE || (info.parent ?? '') !== snapshotParent) {
        throw new Conflict(`snapshot ${id} exists with another parent`);
      }
      return;
    }
    // A new container: no task or record can exist for it yet.
    if (!this.starts.has(id)) this.taskless.add(id);
    this.recordless.add(id);
  }

  /**
   * prepareRootfs behind the caller, for a new container (`docker create` answers without waiting
   * for containerd's commits). Whatever uses the snapshot waits for it first (snapshots.ts), and
   * the first start goes through ensureRootfs, which prepares again after a failure, so that the
   * start reports the error. A daemon stopping waits for it (close); one that crashes first
   * prepares it at the next start (restore).
   */
  prepareRootfsLater(id: string, snapshotParent: string): void {
    // A new container: no task or record can exist for it yet (as prepareRootfs marks on success).
    if (!this.starts.has(id)) this.taskless.add(id);
    this.recordless.add(id);
    const prepare = this.prepareRootfs(id, snapshotParent).catch((err: unknown) => {
      this.failedPrepares.add(id);
      this.logger.warn({ err, container: id }, 'preparing the container rootfs failed; the start will retry');
    });
    trackPrepare(this.ctd, id, prepare);
  }

  /** The container's rw snapshot is there: a prepare in flight has settled, a failed one is redone. */
  async ensureRootfs(id: string, snapshotParent: string): Promise<void> {
    await prepareSettled(this.ctd, id);
    if (!this.failedPrepares.has(id)) return;
    await this.prepareRootfs(id, snapshotParent);
    this.failedPrepares.delete(id);
  }

  /**
   * The container's containerd record with this start's spec: made at its first start, updated at
   * every later one (dockerd rebuilds the spec at every start). `fresh`: the container never
   * started, so the record most likely does not exist yet (a record an earlier attempt or an
   * earlier Berth made is updated all the same).
   */
  async putContainer(id: string, opts: ContainerRecordOptions, fresh: boolean): Promise<void> {
    const spec = jsonAny(SPEC_TYPE, opts.spec);
    const create = (): Promise<unknown> =>
      this.ctd.containers.create({
        container: {
          id,
          image: opts.imageName,
          labels: opts.labels ?? {},
          runtime: { name: this.runtimeName },
          spec,
          snapshotter: this.snapshotter,
          snapshotKey: id,
        },
      });
    const update = (): Promise<unknown> => this.ctd.containers.update({ container: { id, spec }, updateMask: ['spec'] });
    if (fresh) {
      await create().catch((err: unknown) => {
        if (!isAlreadyExists(err)) throw err;
        return update();
      });
    } else {
      await update().catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
        return create();
      });
    }
    this.recordless.delete(id);
  }

  /** The keys of the containers' rw snapshots (ROOTFS_LABEL), whether or not a record has them. */
  async rootfsSnapshots(): Promise<Map<string, Record<string, string>>> {
    const found = new Map<string, Record<string, string>>();
    const stream = this.ctd.serverStream(this.ctd.clients.snapshots, 'list', {
      snapshotter: this.snapshotter,
      filters: [`labels."${ROOTFS_LABEL}"`],
    });
    try {
      for await (const raw of stream) {
        for (const info of (raw as ListSnapshotsResponse).info ?? []) if (info.name) found.set(info.name, info.labels ?? {});
      }
    } catch (err) {
      throw fromGrpcError(err);
    }
    return found;
  }

  /** Adds labels to a snapshot, keeping the others. */
  async addSnapshotLabels(key: string, labels: Record<string, string>): Promise<void> {
    const fields = Object.keys(labels).map((k) => `labels.${k}`);
    await this.ctd.snapshots.update({ snapshotter: this.snapshotter, info: { name: key, labels }, updateMask: fields });
  }

  /**
   * Removes everything of a container: task (killed if running), snapshot, record, FIFO dir.
   * Idempotent, for cleanup after crashes: whatever is already gone is skipped.
   */
  async deleteContainer(id: string): Promise<void> {
    await prepareSettled(this.ctd, id);
    if (!this.taskless.has(id)) await this.deleteTask(id);
    // Both at once (two containerd round trips in the time of one); once the record is gone, GC
    // may take the snapshot first, hence NOT_FOUND is fine for either. Both are tried whatever
    // the other's outcome, so a failure leaves as little as it can.
    const gone = (err: unknown): void => {
      if (!isNotFound(err)) throw err;
    };
    const results = await Promise.allSettled([
      this.ctd.snapshots.remove({ snapshotter: this.snapshotter, key: id }).then(() => undefined, gone),
      this.recordless.has(id) ? undefined : this.ctd.containers.delete({ id }).then(() => undefined, gone),
      rm(this.fifoDir(id), { recursive: true, force: true }),
    ]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    this.forget(id);
    this.taskless.delete(id);
    this.recordless.delete(id);
    this.starts.delete(id);
    this.failedPrepares.delete(id);
  }

  /** Adds labels to a containerd container record, keeping the others. */
  async addLabels(id: string, labels: Record<string, string>): Promise<void> {
    const cur = (await this.ctd.containers.get({ id })).container;
    await this.ctd.containers.update({ container: { id, labels: { ...(cur?.labels ?? {}), ...labels } }, updateMask: ['labels'] });
  }

  /** A containerd container's labels (undefined when there is no such container). */
  async labels(id: string): Promise<Record<string, string> | undefined> {
    try {
      return (await this.ctd.containers.get({ id })).container?.labels ?? {};
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Whether the container's rw snapshot exists (a create cut short may have its record only). */
  async hasSnapshot(id: string): Promise<boolean> {
    await prepareSettled(this.ctd, id);
    try {
      await this.ctd.snapshots.stat({ snapshotter: this.snapshotter, key: id });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Ids of the containers in our namespace. */
  async listContainers(): Promise<string[]> {
    const res = await this.ctd.containers.list({});
    return (res.containers ?? []).map((c) => c.id ?? '');
  }

  // ---- tasks ---------------------------------------------------------------------------------

  /**
   * Creates and starts the container's task. Consume `io.stdout`/`io.stderr` from now on: a full
   * pipe blocks the container. On failure nothing is left behind (no task, no FIFOs), and runtime
   * failures come back classified like moby does (InvalidStartConfig: 400 with exit code 126/127;
   * StartFailed: 500 with 128; see start-errors).
   */
  async startTask(id: string, opts: StartOptions): Promise<Started> {
    this.mayHaveTask(id);
    await prepareSettled(this.ctd, id);
    const mounts: Mount[] = opts.rootfs ?? (await this.ctd.snapshots.mounts({ snapshotter: this.snapshotter, key: id })).mounts ?? [];
    const io = await createTaskIO(this.fifoDir(id), opts);
    let created = false;
    try {
      await opts.record;
      let pid: number;
      try {
        const res = await this.ctd.tasks.create({
          containerId: id,
          rootfs: mounts,
          stdin: io.paths.stdin ?? '',
          stdout: io.paths.stdout,
          stderr: io.paths.stderr ?? '',
          terminal: opts.terminal,
        });
        pid = res.pid ?? 0;
      } catch (err) {
        throw this.startError(err, CREATE_TASK_PREFIX);
      }
      created = true;
      // Issued before Start, as containerd's own client does, and kept for waitTask.
      void this.waits.track(id); // catches its own rejection
      try {
        await this.ctd.tasks.start({ containerId: id });
      } catch (err) {
        throw this.startError(err, '');
      }
      this.ios.set(waitKey(id), io);
      return { pid, io };
    } catch (err) {
      if (created) {
        await this.deleteTask(id).catch((cleanupErr: unknown) =>
          this.logger.warn({ err: cleanupErr, container: id }, 'could not remove task after failed start'),
        );
      }
      this.forget(id);
      await io.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Takes over a task an earlier berthd created (live restore): our ends of the FIFOs it was
   * created with are opened again, and its exit is waited for as if started here. Undefined when
   * there is no task. A task that exited meanwhile is adopted too: its remaining output is read
   * to EOF and waitTask answers its real exit status.
   */
  async adoptTask(id: string): Promise<(Started & { status: TaskStatus; terminal: boolean }) | undefined> {
    this.mayHaveTask(id);
    let proc: Process | undefined;
    try {
      proc = (await this.ctd.tasks.get({ containerId: id })).process;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    if (!proc) return undefined;
    const terminal = proc.terminal === true;
    const io = await reopenTaskIO(this.fifoDir(id), {
      ...(proc.stdin ? { stdin: proc.stdin } : {}),
      stdout: proc.stdout ?? '',
      ...(proc.stderr ? { stderr: proc.stderr } : {}),
    });
    this.ios.set(waitKey(id), io);
    void this.waits.track(id); // catches its own rejection
    return { pid: proc.pid ?? 0, io, status: statusName(proc.status), terminal };
  }

  /**
   * Resolves when the process (the task's init, or exec `execId`) exits, also when it had already
   * exited (until the task or process is deleted). Survives containerd restarts by re-issuing
   * Wait. Rejects with NotFound if the process is unknown (deleted, or its shim died while
   * containerd was down). `signal` abandons this waiter only.
   */
  waitTask(id: string, execId?: string, opts: { signal?: AbortSignal } = {}): Promise<ExitStatus> {
    return raceSignal(this.waits.track(id, execId), opts.signal);
  }

  /**
   * waitTask, then up to `ioTimeoutMs` (default 2 s, as dockerd) for the output to end: stdout's
   * EOF can arrive a few ms after the exit. Report the exit only after this, or the last lines of
   * output get lost. `ioDrained` says whether the output ended in time; the streams must be
   * consumed for it to happen.
   */
  async waitTaskAndIO(
    id: string,
    io: TaskIO,
    opts: { execId?: string; ioTimeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<ExitStatus & { ioDrained: boolean }> {
    const exit = await this.waitTask(id, opts.execId, { signal: opts.signal });
    const ioDrained = await settlesWithin(io.drained, opts.ioTimeoutMs ?? DEFAULT_IO_DRAIN_MS);
    return { ...exit, ioDrained };
  }

  /** Tasks.Kill. `all` signals every process of the task (init only). */
  async kill(id: string, signal: number, opts: { all?: boolean; execId?: string } = {}): Promise<void> {
    await this.ctd.tasks.kill({ containerId: id, execId: opts.execId ?? '', signal, all: opts.all ?? false });
  }

  async pause(id: string): Promise<void> {
    await this.ctd.tasks.pause({ containerId: id });
  }

  async resume(id: string): Promise<void> {
    await this.ctd.tasks.resume({ containerId: id });
  }

  /** The task's (or an exec's) state; undefined when there is no such task or process. */
  async taskStatus(id: string, execId?: string): Promise<TaskState | undefined> {
    let proc: Process | undefined;
    try {
      proc = (await this.ctd.tasks.get({ containerId: id, execId: execId ?? '' })).process;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const status = statusName(proc?.status);
    const state: TaskState = { status, pid: proc?.pid ?? 0 };
    if (status === 'stopped') {
      state.exitStatus = proc?.exitStatus ?? 0;
      if (proc?.exitedAt) state.exitedAt = proc.exitedAt;
    }
    return state;
  }

  /** Host pids of the task's processes. */
  async pids(id: string): Promise<number[]> {
    const res = await this.ctd.tasks.listPids({ containerId: id });
    return (res.processes ?? []).map((p) => p.pid ?? 0);
  }

  async resizePty(id: string, width: number, height: number, execId?: string): Promise<void> {
    await this.ctd.tasks.resizePty({ containerId: id, execId: execId ?? '', width, height });
  }

  /**
   * Delivers EOF on the process's stdin. The shim's copy sees EOF only when every writer of the
   * FIFO is gone: ours (flushed first, so nothing written is lost) and the shim's own, which
   * only Tasks.CloseIO closes.
   */
  async closeStdin(id: string, execId?: string): Promise<void> {
    const io = this.ios.get(waitKey(id, execId));
    if (io?.stdin && !io.stdin.destroyed) {
      // A process that exits without reading would leave the flush pending forever.
      const exited = this.waits.track(id, execId).then(
        () => 'exited' as const,
        () => 'exited' as const,
      );
      if ((await Promise.race([io.endStdin().then(() => 'flushed' as const), exited])) === 'exited') {
        io.stdin.destroy();
      }
    }
    await this.ctd.tasks.closeIo({ containerId: id, execId: execId ?? '', stdin: true });
  }

  /** Changes a running task's cgroup limits (`docker update`); `resources` is OCI LinuxResources. */
  async updateResources(id: string, resources: object): Promise<void> {
    await this.ctd.tasks.update({ containerId: id, resources: jsonAny(RESOURCES_TYPE, resources) });
  }

  /** The task's cgroup metrics (bigint counters); undefined when there is no such task. */
  async metrics(id: string): Promise<TaskMetrics | undefined> {
    let res: MetricsResponse;
    try {
      res = await this.ctd.tasks.metrics({ filters: [`id==${id}`] });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const metric = (res.metrics ?? []).find((m) => m.id === id);
    return decodeMetrics(metric?.data);
  }

  /**
   * Metrics of several tasks in one call (containerd ORs the filters); tasks that do not exist
   * are missing from the map.
   */
  async metricsOf(ids: readonly string[]): Promise<Map<string, TaskMetrics>> {
    const out = new Map<string, TaskMetrics>();
    if (ids.length === 0) return out;
    const res = await this.ctd.tasks.metrics({ filters: ids.map((id) => `id==${id}`) });
    for (const m of res.metrics ?? []) {
      const decoded = decodeMetrics(m.data);
      if (m.id && decoded) out.set(m.id, decoded);
    }
    return out;
  }

  /**
   * Deletes the task, first killing it (SIGKILL to all its processes) if it still runs. Returns
   * its exit status, or undefined if there was no task.
   */
  async deleteTask(id: string): Promise<{ exitStatus: number; exitedAt?: Date } | undefined> {
    const starts = this.starts.get(id) ?? 0;
    const gone = (): void => {
      this.forget(id);
      if ((this.starts.get(id) ?? 0) === starts) this.taskless.add(id);
    };
    const state = await this.taskStatus(id);
    if (!state) {
      gone();
      return undefined;
    }
    if (state.status !== 'stopped') await this.killAndWait(id, state.status);
    let res: DeleteResponse;
    try {
      res = await this.ctd.tasks.delete({ containerId: id });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      gone();
      return undefined;
    }
    gone();
    return { exitStatus: res.exitStatus ?? 0, ...(res.exitedAt ? { exitedAt: res.exitedAt } : {}) };
  }

  /** Tasks in our namespace (their init processes). */
  async listTasks(): Promise<{ id: string; pid: number; status: TaskStatus }[]> {
    const res = await this.ctd.tasks.list({});
    return (res.tasks ?? []).map((t) => ({ id: t.containerId || t.id || '', pid: t.pid ?? 0, status: statusName(t.status) }));
  }

  // ---- exec ----------------------------------------------------------------------------------

  /**
   * Runs an extra process in the running task. Same IO, wait and error rules as startTask; an
   * exec id in use is a Conflict. Delete it with deleteProcess once it has exited.
   */
  async exec(id: string, execId: string, opts: ExecOptions): Promise<Started> {
    const io = await createTaskIO(this.fifoDir(id), {
      stdin: opts.stdin,
      terminal: opts.terminal,
      name: execId,
    });
    let added = false;
    try {
      try {
        await this.ctd.tasks.exec({
          containerId: id,
          execId,
          terminal: opts.terminal,
          stdin: io.paths.stdin ?? '',
          stdout: io.paths.stdout,
          stderr: io.paths.stderr ?? '',
          spec: jsonAny(PROCESS_TYPE, { ...opts.process, terminal: opts.terminal }),
        });
      } catch (err) {
        if (isAlreadyExists(err)) throw new Conflict('id already in use');
        throw this.startError(err, '');
      }
      added = true;
      void this.waits.track(id, execId); // catches its own rejection
      let pid: number;
      try {
        pid = (await this.ctd.tasks.start({ containerId: id, execId })).pid ?? 0;
      } catch (err) {
        throw this.startError(err, '');
      }
      this.ios.set(waitKey(id, execId), io);
      return { pid, io };
    } catch (err) {
      if (added) {
        await this.deleteProcess(id, execId).catch((cleanupErr: unknown) =>
          this.logger.warn({ err: cleanupErr, container: id, exec: execId }, 'could not remove exec after failed start'),
        );
      }
      this.forget(id, execId);
      await io.close().catch(() => undefined);
      throw err;
    }
  }

  /** Removes an exited (or never started) exec process; returns its exit status if containerd had one. */
  async deleteProcess(id: string, execId: string): Promise<{ exitStatus: number; exitedAt?: Date } | undefined> {
    try {
      const res = await this.ctd.tasks.deleteProcess({ containerId: id, execId });
      return { exitStatus: res.exitStatus ?? 0, ...(res.exitedAt ? { exitedAt: res.exitedAt } : {}) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    } finally {
      this.forget(id, execId);
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Runtime (UNKNOWN) failures are classified; metadata errors (NotFound, Conflict, ...) pass. */
  private startError(err: unknown, prefix: string): Error {
    if (!isGrpcCode(err, GrpcStatus.UNKNOWN)) return err instanceof Error ? err : new SystemError(errorMessage(err));
    const runtimeMessage = errorMessage(err);
    return classifyStartError(prefix + runtimeMessage, runtimeMessage);
  }

  /** Drops what we track for a process, or for every process of the container without execId. */
  /** A task may exist from now on: a start or adoption is under way. */
  private mayHaveTask(id: string): void {
    this.taskless.delete(id);
    this.starts.set(id, (this.starts.get(id) ?? 0) + 1);
  }

  private forget(id: string, execId?: string): void {
    this.waits.forget(id, execId);
    forgetProcess(this.ios, id, execId);
  }

  /** Tasks.Delete refuses a live task and has no force flag: SIGKILL everything, then wait. */
  private async killAndWait(id: string, status: TaskStatus): Promise<void> {
    try {
      await this.kill(id, 9, { all: true });
    } catch (err) {
      // NOT_FOUND: "process already finished".
      if (!isNotFound(err)) throw err;
    }
    // A frozen cgroup holds the signal until thawed (moby unpauses after a SIGKILL as well).
    if (status === 'paused' || status === 'pausing') {
      await this.resume(id).catch((err: unknown) => this.logger.warn({ err, container: id }, 'could not resume paused task after SIGKILL'));
    }
    const exited = await settlesWithin(this.waits.track(id), KILL_WAIT_MS);
    if (!exited) this.logger.warn({ container: id }, `task did not exit within ${KILL_WAIT_MS} ms of SIGKILL`);
  }
}
