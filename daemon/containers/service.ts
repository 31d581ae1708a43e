// The container area's domain service: a thin orchestrator over the in-memory store (store.ts),
// one LiveContainer per container (live-container.ts), the exit monitor (monitor.ts), the
// settings and update rules, networking, volumes and logging. It persists through the store,
// runs through runtime/, and publishes every transition on the event bus. Routes call it; it
// never sees HTTP.
import * as fs from 'node:fs';
import type { Logger } from 'pino';
import type { ContainerRuntime } from '../../runtime/tasks';
import { NameTakenError } from '../../store/container-repo';
import { Conflict, InvalidParameter, NotFound, NotModified } from '../../lib/errors';
import type { ReadOptions } from '../logs/container-logs';
import type { LogEntry } from '../logs/types';
import { openAttach, type AttachOptions, type AttachSession } from './attach';
import { containerLogs, readLogsOf, type LogsRequest } from './logs';
import type { ContainerInspectResponse, ContainerSummary, HostConfig, EndpointSettings } from './api-types';
import type { ListOptions } from './views';
import type { EventBus } from '../events';
import type { ImageService } from '../images/service';
import { parseSignal } from '../signals';
import { AttachHub } from './attach-hub';
import { containerEventAttributes, initialState, type Container } from './model';
import { nameConflict, validateName } from './names';
import { updateContainer } from './update-rules';
import type { SpecFactory } from './spec-factory';
import type { VolumeService } from '../volumes/service';
import { runPs } from './top';
import type { NetworkService } from '../networks/service';
import type { Sandboxes } from '../networks/sandboxes';
import type { NetworkRecord } from '../networks/model';
import { ContainerNetworking } from './networking';
import type { LiveContainer, WaitCondition, WaitResult } from './live-container';
import { Monitor } from './monitor';
import { HealthChecks, LateProbeRunner, type ProbeRunner } from './health';
import type { ContainerStore } from './store';
import { ContainerVolumes } from './container-volumes';
import { ContainerQueries, type PruneOptions } from './queries';
import { TaskControl } from './task-control';
import {
  containerDir,
  containersRoot,
  planCreate,
  writeContainerEtc,
  type ContainerDefaults,
  type CreateContext,
  type CreateRequest,
} from './create';
import { startTask, taskRunning } from './task-start';
import { restoreContainers } from './restore';
import { shutdownContainers } from './shutdown';

export type { Container } from './model';
export type { ContainerDefaults, CreateRequest } from './create';
export type { WaitCondition, WaitResult } from './live-container';

export interface ContainerServiceDeps {
  store: ContainerStore;
  images: ImageService;
  runtime: ContainerRuntime;
  specs: SpecFactory;
  events: EventBus;
  logger: Logger;
  defaults: ContainerDefaults;
  volumes?: VolumeService;
  networks?: NetworkService;
  sandboxes?: Sandboxes;
  /** Containers outlive the daemon: shutdown leaves them running, restore adopts them. */
  liveRestore?: boolean;
}

export { QUARANTINE_LABEL } from './task-control';

export class ContainerService {
  readonly store: ContainerStore;
  readonly monitor: Monitor;
  readonly health: HealthChecks;
  /** Set by the composition root once the exec service exists (it needs this service). */
  private readonly probes = new LateProbeRunner();
  private readonly runtime: ContainerRuntime;
  private readonly specs: SpecFactory;
  private readonly events: EventBus;
  private readonly logger: Logger;
  private readonly defaults: ContainerDefaults;
  private readonly net: ContainerNetworking;
  private readonly vols: ContainerVolumes;
  private readonly queries: ContainerQueries;
  private readonly control: TaskControl;
  private readonly ctx: CreateContext;
  private readonly liveRestore: boolean;

  constructor(deps: ContainerServiceDeps) {
    this.store = deps.store;
    this.liveRestore = deps.liveRestore === true;
    this.runtime = deps.runtime;
    this.specs = deps.specs;
    this.events = deps.events;
    this.logger = deps.logger;
    this.defaults = deps.defaults;
    this.net = new ContainerNetworking(
      {
        get: (input) => this.get(input),
        tryGet: (input) => this.tryGet(input),
        saveRecord: (c) => this.store.saveRecord(this.store.get(c.record.id)),
        writeEtc: (c, net) => writeContainerEtc(this.ctx, c, net),
      },
      deps.defaults.dns,
      deps.networks,
      deps.sandboxes,
    );
    this.ctx = { store: deps.store, images: deps.images, specs: deps.specs, net: this.net, defaults: deps.defaults };
    this.vols = new ContainerVolumes(deps.volumes, deps.store, deps.events, deps.logger);
    this.queries = new ContainerQueries(deps.store, deps.images, this.net, this.vols, deps.events, deps.logger);
    this.health = new HealthChecks({
      runner: this.probes,
      statusChanged: (c, status) => {
        this.store.saveState(c);
        this.publish(c, `health_status: ${status}`);
      },
      logger: deps.logger,
    });
    this.monitor = new Monitor({
      runtime: deps.runtime,
      store: deps.store,
      publish: (c, action, extra) => this.publish(c, action, extra),
      publishVolumes: (c, action) => this.vols.publish(c, action),
      tearDownNetwork: (c) => this.net.tearDown(c),
      startTask: (c) => this.startTask(c),
      stopHealth: (c) => this.health.stop(c),
      autoRemove: (id) => this.remove(id, { force: true, volumes: true, fromExit: true }),
      logger: deps.logger,
    });
    this.control = new TaskControl({
      runtime: deps.runtime,
      store: deps.store,
      monitor: this.monitor,
      health: this.health,
      publish: (c, action, extra) => this.publish(c, action, extra),
      logger: deps.logger,
    });
  }

  /** How healthcheck probes run (the exec service's, given once it exists). */
  useProbeRunner(runner: ProbeRunner): void {
    this.probes.use(runner);
  }

  // ------------------------------------------------------------------ lookup

  /** By full ID, name (with or without the slash), or unique ID prefix, as dockerd looks up. */
  get(input: string): LiveContainer {
    return this.store.get(input);
  }

  tryGet(input: string): LiveContainer | undefined {
    return this.store.tryGet(input);
  }

  tryGetById(id: string): LiveContainer | undefined {
    return this.store.tryGetById(id);
  }

  all(): LiveContainer[] {
    return this.store.all();
  }

  /** Runs `fn` under the container's lock, with the container as it is then (NotFound if removed meanwhile). */
  private async locked<T>(input: string, fn: (c: LiveContainer) => Promise<T>): Promise<T> {
    const c = this.get(input);
    return c.locked(() => {
      if (this.store.tryGetById(c.id) !== c) throw new NotFound(`No such container: ${c.id}`);
      return fn(c);
    });
  }

  /** The lifecycle lock for other services (archive uploads): start/stop/restart wait for `fn`. */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const c = this.tryGetById(id);
    return c ? c.locked(fn) : fn();
  }

  private publish(c: Container, action: string, extra: Record<string, string> = {}): void {
    this.events.publish('container', action, c.record.id, containerEventAttributes(c.record, extra));
  }

  containerDir(id: string): string {
    return containerDir(this.defaults, id);
  }

  hub(id: string): AttachHub {
    return this.tryGetById(id)?.hub ?? new AttachHub();
  }

  counts(): { running: number; paused: number; stopped: number } {
    return this.store.counts();
  }

  /** The task was OOM-killed (from containerd's events). */
  noteOom(id: string): void {
    this.monitor.noteOom(id);
  }

  // ------------------------------------------------------------------ create

  async create(req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    const { record, warnings } = planCreate(this.ctx, req);
    const id = record.id;
    const dir = this.containerDir(id);
    // The directory before the record: a crash between the two then leaves an empty directory
    // under an ID nobody knows, not a record without its files. The hostname, hosts and
    // resolv.conf files come at the first start, as dockerd writes them.
    fs.mkdirSync(dir, { recursive: true, mode: 0o710 });
    let madeVolumes: ReturnType<ContainerVolumes['create']> | undefined;
    let c: LiveContainer;
    try {
      madeVolumes = this.vols.create(record.mounts ?? []);
      c = this.store.insert(record, initialState());
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      if (madeVolumes) await this.vols.drop(madeVolumes);
      if (err instanceof NameTakenError) throw nameConflict(record.name, err.holder);
      throw err;
    }
    // The rw snapshot is made behind the answer (every use waits for it; the first start reports
    // a failure); containerd's record of the container comes with its first start (task-start.ts).
    this.runtime.prepareRootfsLater(id, record.snapshotParent);
    this.publish(c, 'create');
    return { Id: id, Warnings: warnings };
  }

  // ------------------------------------------------------------------ start

  async start(input: string): Promise<void> {
    const id = this.get(input).record.id;
    let autoRemove = false;
    try {
      await this.locked(id, async (c) => {
        if (c.state.paused) throw new Conflict('cannot start a paused container, try unpause instead');
        if (c.state.running) throw new NotModified();
        if (c.state.removalInProgress || c.state.dead) throw new Conflict('container is marked for removal and cannot be started');
        c.restartManager().reset();
        c.state.manuallyStopped = false;
        autoRemove = c.record.hostConfig.AutoRemove === true;
        await this.startTask(c);
      });
    } catch (err) {
      // As dockerd: an AutoRemove container that failed to start is removed (`docker run --rm`
      // waits for that removal before it reports the error).
      if (autoRemove) {
        await this.remove(id, { force: true, volumes: true }).catch((rmErr: unknown) =>
          this.logger.warn({ err: rmErr, container: id }, 'auto-remove after failed start failed'),
        );
      }
      throw err;
    }
  }

  private startTask(c: LiveContainer): Promise<void> {
    return startTask(
      {
        store: this.store,
        runtime: this.runtime,
        specs: this.specs,
        net: this.net,
        vols: this.vols,
        monitor: this.monitor,
        health: this.health,
        publish: (x, action) => this.publish(x, action),
        logger: this.logger,
      },
      c,
    );
  }

  // ------------------------------------------------------------------ networks

  /** `docker network connect`: recorded in the container, and made live when it runs. */
  async connect(networkInput: string, containerInput: string, settings: EndpointSettings | undefined): Promise<void> {
    const n = this.net.network(networkInput) as NetworkRecord;
    await this.locked(containerInput, (c) => this.net.connect(c, n, settings));
  }

  /** `docker network disconnect` (force: also when the network is gone). */
  async disconnect(networkInput: string, containerInput: string, force: boolean): Promise<void> {
    const id = this.get(containerInput).record.id;
    const n = this.net.network(networkInput, force);
    await this.locked(id, (c) => this.net.disconnect(c, n, networkInput));
  }

  // ------------------------------------------------------------------ stop, kill, restart, pause

  async stop(input: string, opts: { signal?: string; timeoutSec?: number }): Promise<void> {
    const id = this.get(input).record.id;
    // A signal that does not parse is the client's error (400) before anything is stopped.
    if (opts.signal) parseSignal(opts.signal);
    await this.locked(id, (c) => this.control.stop(c, opts));
  }

  async kill(input: string, signal: string | undefined): Promise<void> {
    const sig = this.control.killSignal(signal);
    await this.locked(input, (c) => this.control.kill(c, input, sig));
  }

  async restart(input: string, opts: { signal?: string; timeoutSec?: number }): Promise<void> {
    await this.locked(input, async (c) => {
      c.manualRestart = true;
      try {
        if (c.state.running && !c.state.restarting) {
          try {
            await this.control.stop(c, opts);
          } catch (err) {
            if (!(err instanceof NotModified)) throw err;
          }
        } else this.monitor.cancelRestart(c);
        c.state.manuallyStopped = false;
        c.restartManager().reset();
        await this.startTask(c);
      } finally {
        c.manualRestart = false;
      }
      this.publish(c, 'restart');
    });
  }

  async pause(input: string): Promise<void> {
    await this.locked(input, (c) => this.control.pause(c));
  }

  async unpause(input: string): Promise<void> {
    await this.locked(input, (c) => this.control.unpause(c));
  }

  // ------------------------------------------------------------------ wait and remove

  /** Not async on purpose: an unknown container throws before the caller answers anything. */
  wait(input: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult> {
    return this.get(input).wait(condition, signal);
  }

  /**
   * The container is gone from the API once its record is; its containerd side (the container
   * record and the snapshot, ~5 ms of containerd's commits) is deleted behind it. A row in the
   * store keeps that pending deletion across a crash; the daemon's stop and `rmi` wait for it.
   * An explicit rm still waits for the task's teardown (the processes gone, the rootfs unmounted)
   * before volumes go; fromExit (AutoRemove, whose exit nobody else waits on) does not, and
   * leaves the kernel's network teardown behind it too.
   */
  async remove(input: string, opts: { force: boolean; volumes: boolean; fromExit?: boolean }): Promise<void> {
    const c = this.get(input);
    const id = c.id;
    await c.locked(async () => {
      if (this.store.tryGetById(id) !== c) return;
      if (c.state.removalInProgress) throw new Conflict(`removal of container ${id} is already in progress`);
      // moby's cleanupContainer: a restarting container counts as running.
      if (c.state.running && !opts.force) {
        const why = c.state.paused
          ? 'container is paused and must be unpaused first'
          : `container is ${c.state.restarting ? 'restarting' : 'running'}: stop the container before removing or force remove`;
        throw new Conflict(`cannot remove container "/${c.record.name}": ${why}`);
      }
      this.monitor.cancelRestart(c);
      this.health.stop(c);
      c.state.removalInProgress = true;
      // Persisted only when a task is to be killed first: that can take a while, and a removal a
      // crash cut short is finished at the next start. Without a task what follows is quick: a
      // crash before the record's deletion leaves the container as it was, one after it leaves
      // only the directory, which the next start deletes (see below). One commit fewer per rm.
      if (c.task) this.store.saveState(c);
      try {
        await this.control.killForRemoval(c);
        if (!opts.fromExit) await c.taskGone();
        await this.net.forget(id, { kernelAfter: opts.fromExit });
      } catch (err) {
        c.state.removalInProgress = false;
        c.state.dead = true;
        this.store.saveState(c);
        throw err;
      }
      // The record goes first, with a note that the containerd side (and so the directory) is still
      // to delete: a crash while the directory is half deleted then finishes the job at the next
      // start, instead of leaving a record whose files are gone.
      this.store.delete(id, this.deleteContainerdSide(id, c.taskGone()));
      fs.rmSync(this.containerDir(id), { recursive: true, force: true });
      if (opts.volumes) await this.vols.removeAnonymous(c);
      this.publish(c, 'destroy');
      c.notifyRemoved({ StatusCode: c.state.exitCode, Error: null });
    });
  }

  async removeLink(name: string): Promise<void> {
    const parent = this.get(this.net.linkParent(name).record.id);
    await parent.locked(async () => this.net.dropLegacyLink(parent, name));
  }

  // ------------------------------------------------------------------ rename, update, resize, top

  async rename(input: string, newName: string): Promise<void> {
    if (newName === '') throw new InvalidParameter('Neither old nor new names may be empty');
    const name = validateName(newName);
    await this.locked(input, async (c) => {
      const oldName = c.record.name;
      if (oldName === name) throw new InvalidParameter('Renaming a container with the same name as its current name');
      try {
        this.store.rename(c, name);
      } catch (err) {
        if (err instanceof NameTakenError) throw nameConflict(name, err.holder);
        throw err;
      }
      this.net.renamed(c.id, oldName, name);
      this.publish(c, 'rename', { oldName: `/${oldName}` });
      return Promise.resolve();
    });
  }

  async update(input: string, changes: HostConfig): Promise<string[]> {
    return this.locked(input, async (c) => {
      const warnings = await updateContainer({ runtime: this.runtime, specs: this.specs, store: this.store }, c, changes);
      this.publish(c, 'update');
      return warnings;
    });
  }

  async resize(input: string, height: number, width: number): Promise<void> {
    const c = this.get(input);
    if (!c.state.running) throw new Conflict(`Container ${c.record.id} is not running`);
    await this.runtime.resizePty(c.record.id, width, height).catch((err: unknown) => this.control.notRunningConflict(c.record.id, err));
  }

  async top(input: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.get(input);
    if (!c.state.running) throw new Conflict(`Container ${c.record.id} is not running`);
    if (c.state.restarting) throw new Conflict(`Container ${c.record.id} is restarting, wait until the container is running`);
    const pids = await this.runtime.pids(c.record.id).catch((err: unknown) => this.control.notRunningConflict(c.record.id, err));
    return runPs(psArgs, pids);
  }

  // ------------------------------------------------------------------ daemon start and stop

  /** Brings state in line with containerd after a start; with live restore, running tasks are adopted. */
  restore(): Promise<void> {
    return restoreContainers({
      store: this.store,
      runtime: this.runtime,
      logger: this.logger,
      liveRestore: this.liveRestore,
      containerDir: (id) => this.containerDir(id),
      containerDirNames: () => (fs.existsSync(containersRoot(this.defaults)) ? fs.readdirSync(containersRoot(this.defaults)) : []),
      startTask: (c) => this.startTask(c),
      remove: (id) => this.remove(id, { force: true, volumes: true }),
      adopt: async (c, task) => {
        await this.net.adopt(c);
        const started = Date.parse(c.state.startedAt);
        taskRunning({ runtime: this.runtime, monitor: this.monitor, logger: this.logger, health: this.health }, c, {
          io: task.io,
          startedMs: Number.isFinite(started) ? started : Date.now(),
          adopted: true,
        });
      },
      forgetNetwork: (id) => this.net.forget(id),
      stopLeftTask: (c) => this.control.stopLeftTask(c, this.defaults.shutdownTimeoutSec),
      quarantineUnknown: (inContainerd, known) => this.control.quarantineUnknown(inContainerd, known),
    });
  }

  /** Deletes a removed container's containerd side once `after` settles; true when it did (never rejects). */
  private async deleteContainerdSide(id: string, after: Promise<void>): Promise<boolean> {
    try {
      await after;
      await this.runtime.deleteContainer(id);
      return true;
    } catch (err) {
      this.logger.warn({ err, container: id }, 'deleting a removed container in containerd failed: retried at the next start');
      return false;
    }
  }

  /** Daemon stop: see shutdown.ts. */
  async shutdown(): Promise<void> {
    const { monitor, health, control, logger, liveRestore } = this;
    await shutdownContainers({
      containers: this.all(),
      liveRestore,
      monitor,
      health,
      control,
      shutdownTimeoutSec: this.defaults.shutdownTimeoutSec,
      logger,
    });
    // Removed containers' containerd side goes before containerd does.
    await this.store.removalsSettled();
    if (!liveRestore) this.specs.removeEmptyCgroupParent();
  }

  // ------------------------------------------------------------------ logs and attach

  /** Entries of a container's json-file log; follow ends when the container stops. */
  readLogs(id: string, opts: ReadOptions): AsyncIterable<LogEntry> {
    return readLogsOf(this.get(id), opts);
  }

  logs(input: string, req: LogsRequest): { tty: boolean; body: AsyncIterable<Buffer> } {
    return containerLogs(this.get(input), req);
  }

  publishDetach(id: string): void {
    const c = this.tryGetById(id);
    if (c) this.publish(c, 'detach');
  }

  attach(input: string, opts: AttachOptions): AttachSession {
    return openAttach(this, input, opts);
  }

  // ------------------------------------------------------------------ queries

  inspect(input: string, size: boolean): Promise<ContainerInspectResponse> {
    return this.queries.inspect(input, size);
  }

  list(req: ListOptions): Promise<ContainerSummary[]> {
    return this.queries.list(req);
  }

  prune(opts: PruneOptions): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    return this.queries.prune(opts, (id) => this.remove(id, { force: false, volumes: false }));
  }
}
