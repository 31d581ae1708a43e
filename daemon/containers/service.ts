// The container area's domain service: a thin orchestrator over the in-memory store (store.ts),
// one LiveContainer per container (live-container.ts), the exit monitor (monitor.ts), the
// settings and update rules, networking, volumes and logging. It persists through the store,
// runs through runtime/, and publishes every transition on the event bus. Routes call it; it
// never sees HTTP.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from 'pino';
import type { ContainerRuntime } from '../../runtime/tasks';
import type { TaskIO } from '../../runtime/fifo';
import { NameTakenError } from '../../store/container-repo';
import { Conflict, InvalidParameter, NotFound, NotModified, BerthError, SystemError, errorMessage } from '../../lib/errors';
import { isStartFailure } from '../../runtime/start-errors';
import { isProcessGone } from '../../runtime/grpc-errors';
import { DEFAULT_READONLY_PATHS, hostSpecFacts } from '../../runtime/spec-host';
import { formattedLines, logConfigOf, NULL_SINK, openRunLogger, readContainerLog, type ReadOptions } from '../logs/container-logs';
import type { LogEntry } from '../logs/types';
import { LogCopier } from '../logs/copier';
import { validateLogOpts } from '../logs/format';
import { openAttach, type AttachOptions, type AttachSession } from './attach';
import type { LogLine, LogsRequest } from './logs';
import type { ContainerInspectResponse, ContainerSummary, ContainerConfig, HostConfig, NetworkingConfig, EndpointSettings, MountPoint } from './api-types';
import type { ListOptions } from './views';
import type { EventBus } from '../events';
import type { ImageService } from '../images/service';
import { resolveImage } from '../images/lookup';
import { parseSignal } from '../signals';
import { AttachHub } from './attach-hub';
import { writeEtcFiles } from './etc-files';
import { initialState, notRunning, nowRfc3339Nano, statusName, ZERO_TIME, type Container, type ContainerRecord } from './model';
import { generateName, validateName } from './names';
import { DEFAULT_STOP_TIMEOUT, entrypointAndArgs, mergeWithImage, restartPolicyName, verifySettings, withHostDefaults } from './settings';
import { applyUpdate, updateFailure } from './update-rules';
import type { SpecFactory } from './spec-factory';
import { planMounts } from './mounts';
import type { VolumeService } from '../volumes/service';
import { runPs } from './top';
import type { NetworkService } from '../networks/service';
import type { Sandboxes } from '../networks/sandboxes';
import { checkNetworkModeConflicts } from '../networks/endpoint-plan';
import { validatePortSpec } from '../networks/port-bindings';
import type { NetworkRecord } from '../networks/model';
import { ContainerNetworking, portSpecOf } from './networking';
import type { LiveContainer, LiveTask, WaitResult } from './live-container';
import { Monitor } from './monitor';
import type { ContainerStore } from './store';
import { ContainerVolumes } from './container-volumes';
import { ContainerQueries } from './queries';
import { TaskControl } from './task-control';

export type { Container } from './model';
export type { WaitResult } from './live-container';

export interface ContainerDefaults {
  dataRoot: string;
  execRoot: string;
  shmSize: number;
  ipcMode: string;
  cgroupnsMode: 'host' | 'private';
  logDriver: string;
  logOpts: Record<string, string>;
  hostGatewayIp: string;
  dns: string[];
  dnsSearch: string[];
  dnsOpts: string[];
  shutdownTimeoutSec: number;
}

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
}

export interface CreateRequest {
  name: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig: NetworkingConfig | null;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export { QUARANTINE_LABEL } from './task-control';

export class ContainerService {
  readonly store: ContainerStore;
  readonly monitor: Monitor;
  private readonly images: ImageService;
  private readonly runtime: ContainerRuntime;
  private readonly specs: SpecFactory;
  private readonly events: EventBus;
  private readonly logger: Logger;
  private readonly defaults: ContainerDefaults;
  private readonly net: ContainerNetworking;
  private readonly vols: ContainerVolumes;
  private readonly queries: ContainerQueries;
  private readonly control: TaskControl;

  constructor(deps: ContainerServiceDeps) {
    this.store = deps.store;
    this.images = deps.images;
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
        writeEtc: (c, net) => this.writeEtc(c, net),
        all: () => this.all(),
      },
      deps.defaults.dns,
      deps.networks,
      deps.sandboxes,
    );
    this.vols = new ContainerVolumes(deps.volumes, deps.store, deps.events, deps.logger);
    this.queries = new ContainerQueries(deps.store, deps.images, this.net, this.vols);
    this.monitor = new Monitor({
      runtime: deps.runtime,
      store: deps.store,
      publish: (c, action, extra) => this.publish(c, action, extra),
      publishVolumes: (c, action) => this.vols.publish(c, action),
      tearDownNetwork: (c) => this.net.tearDown(c),
      startTask: (c) => this.startTask(c),
      autoRemove: (id) => this.remove(id, { force: true, volumes: true }),
      logger: deps.logger,
    });
    this.control = new TaskControl({
      runtime: deps.runtime,
      store: deps.store,
      monitor: this.monitor,
      publish: (c, action, extra) => this.publish(c, action, extra),
      logger: deps.logger,
    });
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
    this.events.publish('container', action, c.record.id, {
      ...(c.record.config.Labels ?? {}),
      image: c.record.config.Image ?? '',
      name: c.record.name,
      ...extra,
    });
  }

  containerDir(id: string): string {
    return path.join(this.defaults.dataRoot, 'containers', id);
  }

  hub(id: string): AttachHub {
    return this.tryGetById(id)?.hub ?? new AttachHub();
  }

  isRunning(id: string): boolean {
    return this.tryGetById(id)?.state.running ?? false;
  }

  counts(): { running: number; paused: number; stopped: number } {
    const out = { running: 0, paused: 0, stopped: 0 };
    for (const c of this.all()) {
      if (c.state.paused) out.paused++;
      else if (c.state.running) out.running++;
      else out.stopped++;
    }
    return out;
  }

  /** IDs of containers configured on a network (for `network ls --filter dangling` and prune). */
  configuredOn(networkId: string): string[] {
    return this.store.networkUsers(networkId);
  }

  /** The task was OOM-killed (from containerd's events). */
  noteOom(id: string): void {
    this.monitor.noteOom(id);
  }

  // ------------------------------------------------------------------ create

  async create(req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    const config: ContainerConfig = { ...req.config };
    const hostConfig = withHostDefaults(req.hostConfig, {
      shmSize: this.defaults.shmSize,
      ipcMode: this.defaults.ipcMode,
      cgroupnsMode: this.defaults.cgroupnsMode,
      maskedPaths: hostSpecFacts().maskedPaths,
      readonlyPaths: DEFAULT_READONLY_PATHS,
    });
    if (!hostConfig.LogConfig?.Type || (req.hostConfig.LogConfig?.Type ?? '') === '') {
      hostConfig.LogConfig = { Type: this.defaults.logDriver as 'json-file', Config: { ...this.defaults.logOpts, ...(req.hostConfig.LogConfig?.Config ?? {}) } };
    }
    const warnings = verifySettings(config, hostConfig);
    checkNetworkModeConflicts(req.config, hostConfig);
    validateLogOpts(hostConfig.LogConfig?.Type ?? 'json-file', hostConfig.LogConfig?.Config ?? {});
    warnings.push(...this.specs.validate(config, hostConfig));

    if (!config.Image) throw new InvalidParameter('Config.Image must be set'); // dockerd: no image given
    const { image } = resolveImage(this.images.repo, config.Image);
    mergeWithImage(config, this.images.config(image).config);
    const { path: procPath, args } = entrypointAndArgs(config);
    const plan = planMounts(hostConfig, Object.keys(config.Volumes ?? {}), (other) => this.get(other).record.mounts ?? []);
    for (const m of plan) {
      if (m.type !== 'image') continue;
      const img = resolveImage(this.images.repo, m.source).image;
      const imgLayers = this.images.repo.layers(img.id);
      m.imageId = img.id;
      m.imageChain = imgLayers.length > 0 ? imgLayers[imgLayers.length - 1].chainId : '';
    }

    const id = randomBytes(32).toString('hex');
    const name = req.name ? validateName(req.name) : generateName((n) => this.store.nameTaken(n));
    if (!config.Hostname) config.Hostname = hostConfig.NetworkMode === 'host' ? os.hostname() : id.slice(0, 12);
    const netMode = hostConfig.NetworkMode || 'default';
    if (netMode.startsWith('container:')) {
      // Stored as the other container's full ID (an unknown one is reported at start, as dockerd does).
      const other = this.tryGet(netMode.slice('container:'.length));
      if (other) hostConfig.NetworkMode = `container:${other.record.id}`;
    }
    const endpoints = this.net.plan(hostConfig, req.networkingConfig, (config as { MacAddress?: string }).MacAddress ?? '');
    if ((hostConfig.Links ?? []).length > 0) hostConfig.Links = this.net.legacyLinks(hostConfig.Links ?? [], name);
    validatePortSpec(portSpecOf(config, hostConfig));
    if (netMode === 'host' && Object.keys(hostConfig.PortBindings ?? {}).length > 0) {
      warnings.push('Published ports are discarded when using host network mode');
      hostConfig.PortBindings = {};
    }

    const dir = this.containerDir(id);
    const layers = this.images.repo.layers(image.id);
    const record: ContainerRecord = {
      id,
      name,
      created: nowRfc3339Nano(),
      path: procPath,
      args,
      config,
      hostConfig,
      networkingConfig: req.networkingConfig,
      imageId: image.id,
      snapshotParent: layers.length > 0 ? layers[layers.length - 1].chainId : '',
      logPath: hostConfig.LogConfig?.Type === 'none' ? '' : path.join(dir, `${id}-json.log`),
      resolvConfPath: path.join(dir, 'resolv.conf'),
      hostnamePath: path.join(dir, 'hostname'),
      hostsPath: path.join(dir, 'hosts'),
      mounts: plan,
      networks: endpoints,
    };
    const madeVolumes = this.vols.create(plan);
    let c: LiveContainer;
    try {
      c = this.store.insert(record, initialState());
    } catch (err) {
      await this.vols.drop(madeVolumes);
      if (err instanceof NameTakenError) throw nameConflict(name, err.holder);
      throw err;
    }
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o710 });
      this.writeEtc(c);
      await this.runtime.createContainer(id, {
        spec: await this.specs.placeholder(c),
        imageName: config.Image,
        snapshotParent: record.snapshotParent,
        labels: { 'berth.name': name },
      });
    } catch (err) {
      await this.runtime.deleteContainer(id).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
      this.store.delete(id);
      await this.vols.drop(madeVolumes);
      throw err;
    }
    this.publish(c, 'create');
    return { Id: id, Warnings: warnings };
  }

  private writeEtc(c: Container, net: { addresses: string[]; nameserver: string | null } = { addresses: [], nameserver: null }): void {
    const hc = c.record.hostConfig;
    writeEtcFiles(this.containerDir(c.record.id), {
      hostname: c.record.config.Hostname ?? '',
      domainname: c.record.config.Domainname ?? '',
      addresses: net.addresses,
      embeddedDns: net.nameserver,
      links: this.net.legacyLinkHosts(c),
      extraHosts: hc.ExtraHosts ?? [],
      hostGatewayIp: this.defaults.hostGatewayIp,
      dns: hc.Dns?.length ? hc.Dns : this.defaults.dns,
      dnsSearch: hc.DnsSearch?.length ? hc.DnsSearch : this.defaults.dnsSearch,
      dnsOptions: hc.DnsOptions?.length ? hc.DnsOptions : this.defaults.dnsOpts,
      hostNetwork: hc.NetworkMode === 'host',
    });
  }

  /** IDs of the containers whose mounts use the volume (for the volume's in-use checks). */
  volumeUsers(name: string): string[] {
    return this.store.volumeUsers(name);
  }

  /** The MountPoints of inspect and ps. */
  mountPoints(c: Container): MountPoint[] {
    return this.vols.mountPoints(c);
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

  /** Builds the spec, starts the task, and wires its output, exit and stdin. */
  private async startTask(c: LiveContainer): Promise<void> {
    const id = c.record.id;
    const cfg = c.record.config;
    let io: TaskIO | undefined;
    // Mounts pinned for runc (Subpaths) are released once the task exists, or start failed.
    let pinned: (() => Promise<void>) | undefined;
    try {
      const net = await this.net.setUp(c);
      const { spec, releaseMounts } = await this.specs.build(c, (other) => this.namespaceSource(other), net?.netnsPath, this.net.linkEnv(c));
      pinned = releaseMounts;
      await this.runtime.updateSpec(id, spec);
      const logCfg = logConfigOf(c.record);
      const logger = openRunLogger(c.record, logCfg, (err) => this.logger.warn({ err, container: id }, 'log write failed'));
      const started = await this.runtime.startTask(id, { stdin: cfg.OpenStdin === true, terminal: cfg.Tty === true });
      // The published ports' rules, started before the task, are in place when start answers.
      await net?.firewall;
      io = started.io;
      const hub = c.hub;
      const copier = new LogCopier({ stdout: started.io.stdout, stderr: started.io.stderr }, logger ?? NULL_SINK, {
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
      const stdin = started.io.stdin;
      if (stdin) {
        hub.connectStdin({
          write: (chunk) => stdin.write(chunk),
          close: () => void this.runtime.closeStdin(id).catch(() => undefined),
        });
      }
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
      this.store.saveState(c);
      const task: LiveTask = { io: started.io, copier, logger, startedMs: Date.now(), exited: Promise.resolve() };
      c.task = task;
      task.exited = this.monitor.follow(c, task);
      this.vols.publish(c, 'mount');
      this.publish(c, 'start');
    } catch (err) {
      await io?.close().catch(() => undefined);
      await this.runtime.deleteTask(id).catch(() => undefined);
      await this.net.forget(id);
      c.state.error = errorMessage(err);
      c.state.exitCode = isStartFailure(err) ? err.exitCode : 128;
      this.store.saveState(c);
      throw err;
    } finally {
      await pinned?.();
    }
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

  /** The /proc/<pid>/ns paths a container:<id> mode joins. */
  private namespaceSource(input: string): { id: string; pid: number } {
    const other = this.get(input);
    if (!other.state.running) throw new Conflict(`cannot join namespace of a non running container ${other.record.id}`);
    return { id: other.record.id, pid: other.state.pid };
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

  /**
   * Rethrows a runtime failure of pause/unpause/top: as dockerd's 409 "is not running" when the
   * task ended meanwhile (an exit or a stop/restart racing the request), as itself otherwise.
   */
  private async notRunningConflict(id: string, err: unknown): Promise<never> {
    const now = this.tryGetById(id);
    const task = await this.runtime.taskStatus(id).catch(() => undefined);
    if (!now || !now.state.running || now.state.restarting || task === undefined || task.status === 'stopped' || isProcessGone(err)) {
      throw new Conflict(`Container ${id} is not running`);
    }
    throw err;
  }

  async pause(input: string): Promise<void> {
    await this.locked(input, async (c) => {
      const id = c.id;
      if (!c.state.running) throw new Conflict(`Container ${id} is not running`);
      if (c.state.paused) throw new Conflict(`Container ${id} is already paused`);
      if (c.state.restarting) throw new Conflict(`Container ${id} is restarting, wait until the container is running`);
      await this.runtime.pause(id).catch((err: unknown) => this.notRunningConflict(id, err));
      c.state.paused = true;
      this.store.saveState(c);
      this.publish(c, 'pause');
    });
  }

  async unpause(input: string): Promise<void> {
    await this.locked(input, async (c) => {
      if (!c.state.paused) throw new Conflict(`Container ${c.id} is not paused`);
      await this.runtime.resume(c.id).catch((err: unknown) => this.notRunningConflict(c.id, err));
      c.state.paused = false;
      this.store.saveState(c);
      this.publish(c, 'unpause');
    });
  }

  // ------------------------------------------------------------------ wait and remove

  /** Not async on purpose: an unknown container throws before the caller answers anything. */
  wait(input: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult> {
    const c = this.get(input);
    if (condition === 'not-running' && !c.state.running) {
      return Promise.resolve({ StatusCode: c.state.exitCode, Error: c.state.error ? { Message: c.state.error } : null });
    }
    const w = condition === 'removed' ? c.waitRemoved() : c.waitExit();
    return new Promise<WaitResult>((resolve, reject) => {
      w.promise.then(resolve, reject);
      signal?.addEventListener('abort', () => {
        w.cancel();
        reject(new Error('client went away'));
      });
    });
  }

  async remove(input: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const c = this.get(input);
    const id = c.id;
    await c.locked(async () => {
      if (this.store.tryGetById(id) !== c) return;
      if (c.state.removalInProgress) throw new Conflict(`removal of container ${id} is already in progress`);
      if (c.state.running && !c.state.restarting && !opts.force) {
        const what = c.state.paused ? 'paused' : 'running';
        throw new Conflict(`cannot remove container "/${c.record.name}": container is ${what}: stop the container before removing or force remove`);
      }
      this.monitor.cancelRestart(c);
      c.state.removalInProgress = true;
      this.store.saveState(c);
      try {
        await this.control.killForRemoval(c);
        await this.runtime.deleteContainer(id);
        await this.net.forget(id);
      } catch (err) {
        c.state.removalInProgress = false;
        c.state.dead = true;
        this.store.saveState(c);
        throw err;
      }
      fs.rmSync(this.containerDir(id), { recursive: true, force: true });
      this.store.delete(id);
      if (opts.volumes) await this.vols.removeAnonymous(c);
      this.publish(c, 'destroy');
      c.notifyRemoved({ StatusCode: c.state.exitCode, Error: null });
    });
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
      const id = c.id;
      if (c.state.removalInProgress || c.state.dead) {
        throw new Conflict(`Cannot update container ${id}: container is marked for removal and cannot be "update"`);
      }
      const { next, warnings } = applyUpdate(id, c.record.hostConfig, changes);
      // A running (or paused) task takes the request's values at once; otherwise the next start
      // applies the stored ones.
      if (c.state.running && !c.state.restarting) {
        try {
          await this.runtime.updateResources(id, await this.specs.updateResources(changes));
        } catch (err) {
          if (err instanceof BerthError && !(err instanceof SystemError)) throw err;
          throw updateFailure(id, errorMessage(err));
        }
      }
      c.record.hostConfig = next;
      this.store.saveRecord(c);
      c.restartManager();
      this.publish(c, 'update');
      return warnings;
    });
  }

  async resize(input: string, height: number, width: number): Promise<void> {
    const c = this.get(input);
    if (!c.state.running) throw new Conflict(`Container ${c.record.id} is not running`);
    await this.runtime.resizePty(c.record.id, width, height).catch((err: unknown) => this.notRunningConflict(c.record.id, err));
  }

  async top(input: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.get(input);
    if (!c.state.running) throw new Conflict(`Container ${c.record.id} is not running`);
    if (c.state.restarting) throw new Conflict(`Container ${c.record.id} is restarting, wait until the container is running`);
    const pids = await this.runtime.pids(c.record.id).catch((err: unknown) => this.notRunningConflict(c.record.id, err));
    return runPs(psArgs, pids);
  }

  // ------------------------------------------------------------------ daemon start and stop

  /** Brings state in line with containerd after a start: nothing survives a berthd restart running. */
  async restore(): Promise<void> {
    const known = new Set<string>();
    const inContainerd = new Set(await this.runtime.listContainers());
    for (const c of this.all()) {
      known.add(c.record.id);
      if (c.state.removalInProgress) {
        await this.runtime.deleteContainer(c.record.id).catch(() => undefined);
        fs.rmSync(this.containerDir(c.record.id), { recursive: true, force: true });
        this.store.delete(c.record.id);
        continue;
      }
      if (!inContainerd.has(c.record.id)) {
        // A record without its containerd container (a create cut short, or containerd's state
        // lost): kept for the operator, Dead so that it is never started; `docker rm` clears it.
        if (!c.state.quarantined) {
          this.logger.warn({ container: c.record.id, name: c.record.name }, 'quarantined at daemon start: no containerd container matches this record');
        }
        c.state = notRunning(c.state, {
          dead: true,
          quarantined: c.state.quarantined ?? `no containerd container at daemon start ${nowRfc3339Nano()}`,
          error: 'quarantined at daemon start: its containerd container is missing',
        });
        this.store.saveState(c);
        continue;
      }
      const wasRunning = c.state.running;
      await this.runtime.deleteTask(c.record.id).catch(() => undefined);
      if (wasRunning) {
        c.state = notRunning(c.state, { exitCode: 255, finishedAt: nowRfc3339Nano() });
        this.store.saveState(c);
      }
      const policy = restartPolicyName(c.record.hostConfig.RestartPolicy);
      const autostart = policy === 'always' || (policy === 'unless-stopped' && !c.state.manuallyStopped) || (policy === 'on-failure' && wasRunning);
      if (autostart && c.state.startedAt !== ZERO_TIME) {
        await this.startTask(c).catch((err: unknown) => this.logger.warn({ err, container: c.record.id }, 'restart at daemon start failed'));
      } else if (c.record.hostConfig.AutoRemove && c.state.startedAt !== ZERO_TIME) {
        // An AutoRemove container that ran and is not coming back was due for removal (its
        // exit may have come while berthd was down).
        await this.remove(c.record.id, { force: true, volumes: true }).catch(() => undefined);
      }
    }
    await this.control.quarantineUnknown(inContainerd, known);
  }

  /** Stops every running container, in parallel, as dockerd does at shutdown. */
  async shutdown(): Promise<void> {
    this.monitor.shutdown(this.all());
    const running = this.all().filter((c) => c.state.running);
    await Promise.all(
      running.map(async (c) => {
        try {
          const timeoutSec = Math.min(c.record.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT, this.defaults.shutdownTimeoutSec);
          await c.locked(() => this.control.stop(c, { timeoutSec }));
        } catch (err) {
          if (!(err instanceof NotModified)) this.logger.warn({ err, container: c.record.id }, 'stop at shutdown failed');
        }
      }),
    );
    this.specs.removeEmptyCgroupParent();
  }

  // ------------------------------------------------------------------ logs and attach

  /** Entries of a container's json-file log; follow ends when the container stops. */
  readLogs(id: string, opts: ReadOptions): AsyncIterable<LogEntry> {
    const c = this.get(id);
    return readContainerLog(c.record, opts, {
      isRunning: () => c.task !== undefined,
      subscribe: (wake) => c.task?.logger?.subscribe(wake) ?? (() => undefined),
    });
  }

  logs(input: string, req: LogsRequest): { tty: boolean; lines: AsyncIterable<LogLine> } {
    const c = this.get(input);
    const toLogTime = (t?: { seconds: number; nanos: number }): { sec: number; nsec: number } | undefined => t && { sec: t.seconds, nsec: t.nanos };
    const entries = this.readLogs(c.record.id, {
      stdout: req.stdout,
      stderr: req.stderr,
      follow: req.follow,
      tail: req.tail,
      since: toLogTime(req.since),
      until: toLogTime(req.until),
      details: req.details,
      signal: req.signal,
    });
    return { tty: c.record.config.Tty === true, lines: formattedLines(entries, { timestamps: req.timestamps, details: req.details }) };
  }

  publishDetach(id: string): void {
    const c = this.tryGetById(id);
    if (c) this.publish(c, 'detach');
  }

  attach(input: string, opts: AttachOptions): AttachSession {
    return openAttach(this, input, opts);
  }

  // ------------------------------------------------------------------ queries

  /** legacyNetworkFields: API < 1.52 also has NetworkSettings' deprecated top-level fields. */
  inspect(input: string, size: boolean, legacyNetworkFields = false): Promise<ContainerInspectResponse> {
    return this.queries.inspect(input, size, legacyNetworkFields);
  }

  list(req: ListOptions): Promise<ContainerSummary[]> {
    return this.queries.list(req);
  }

  async prune(opts: { until?: number; labels: (l: Readonly<Record<string, string>>) => boolean }): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.all()) {
      if (c.state.running || c.state.paused || c.state.restarting) continue;
      if (opts.until !== undefined && Date.parse(c.record.created) / 1000 >= opts.until) continue;
      if (!opts.labels(c.record.config.Labels ?? {})) continue;
      const { rw } = await this.queries.sizes(c);
      try {
        await this.remove(c.record.id, { force: false, volumes: false });
        deleted.push(c.record.id);
        reclaimed += rw;
      } catch (err) {
        this.logger.debug({ err, container: c.record.id }, 'prune skipped container');
      }
    }
    this.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  describeStatus(c: Container): string {
    return statusName(c.state);
  }

  shortId(id: string): string {
    return id.slice(0, 12);
  }
}

function nameConflict(name: string, holder: string): Conflict {
  return new Conflict(
    `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}
