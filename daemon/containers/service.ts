// The container area's domain service: create, the lifecycle, exits and restart policies, and
// the queries. It persists through store/, runs through runtime/, and publishes every
// transition on the event bus. Routes call it; it never sees HTTP.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from 'pino';
import type { ContainerRuntime } from '../../runtime/tasks';
import type { TaskIO } from '../../runtime/fifo';
import type { ContainerRepo, ContainerRow } from '../../store/container-repo';
import { NameTakenError } from '../../store/container-repo';
import { Conflict, Forbidden, InvalidParameter, NotFound, NotImplemented, NotModified, BerthError, SystemError, errorMessage } from '../../lib/errors';
import { isStartFailure } from '../../runtime/start-errors';
import { isNotFound, isProcessGone } from '../../runtime/grpc-errors';
import { overlayDirs, snapshotUsage } from '../../runtime/snapshots';
import { DEFAULT_READONLY_PATHS, hostSpecFacts } from '../../runtime/spec-host';
import { extraAttributes, type LogContainerInfo } from '../logs/attrs';
import { formatLogEntry } from '../logs/format';
import { readLogs } from '../logs/reader';
import type { LogEntry, LogSink, LogTime } from '../logs/types';
import { openAttach, type AttachOptions, type AttachSession } from './attach';
import type { LogLine, LogsRequest } from './logs';
import type { ContainerInspectResponse, ContainerSummary } from './api-types';
import { filterContainers, inspectView, planList, summaryView, type ListOptions } from './views';
import type { EventBus } from '../events';
import type { ImageService } from '../images/service';
import { resolveImage } from '../images/lookup';
import { JsonFileLogger } from '../logs/json-file';
import { LogCopier } from '../logs/copier';
import { parseLogOpts, validateLogOpts, type LogConfig } from '../logs/format';
import { parseSignal, parseSupportedSignal, validSignalForPlatform } from '../signals';
import type { ContainerConfig, HostConfig, NetworkingConfig } from './api-types';
import { AttachHub } from './attach-hub';
import { writeEtcFiles } from './etc-files';
import { initialState, notRunning, nowRfc3339Nano, statusName, ZERO_TIME, type Container, type ContainerRecord, type ContainerState } from './model';
import { generateName, validateName } from './names';
import { RestartManager } from './restart-policy';
import {
  DEFAULT_STOP_TIMEOUT,
  entrypointAndArgs,
  mergeWithImage,
  restartPolicyName,
  validateRestartPolicy,
  verifyResources,
  verifySettings,
  withHostDefaults,
} from './settings';
import { SpecFactory } from './spec-factory';
import { mountPointView, planMounts, type PlannedMount } from './mounts';
import type { MountPoint } from './api-types';
import type { VolumeService } from '../volumes/service';
import { runPs } from './top';
import type { NetworkService } from '../networks/service';
import type { Sandboxes } from '../networks/sandboxes';
import { checkNetworkModeConflicts } from '../networks/endpoint-plan';
import { validatePortSpec } from '../networks/port-bindings';
import type { EndpointSettings } from './api-types';
import type { NetworkRecord } from '../networks/model';
import { ContainerNetworking, portSpecOf } from './networking';
import { exactParse, exactStringify } from '../../lib/int64';

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
  repo: ContainerRepo;
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

/** A container as the service hands it around: the record and its current state. */
export type { Container } from './model';

export interface CreateRequest {
  name: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig: NetworkingConfig | null;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

/** What a running task holds in the daemon's memory. */
interface Live {
  io: TaskIO;
  copier: LogCopier;
  logger?: JsonFileLogger;
  startedMs: number;
  exited: Promise<void>;
}

const shortId = (id: string): string => id.slice(0, 12);

/** Where output goes for a container logging to `none`: nowhere, but it is still drained. */
const NULL_SINK: LogSink = { log: () => undefined };

export class ContainerService {
  readonly repo: ContainerRepo;
  private readonly images: ImageService;
  private readonly runtime: ContainerRuntime;
  private readonly specs: SpecFactory;
  private readonly events: EventBus;
  private readonly logger: Logger;
  private readonly defaults: ContainerDefaults;
  private readonly volumes?: VolumeService;
  private readonly net: ContainerNetworking;

  private readonly live = new Map<string, Live>();
  private readonly hubs = new Map<string, AttachHub>();
  private readonly restartManagers = new Map<string, RestartManager>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly exitWaiters = new Map<string, Set<(r: WaitResult) => void>>();
  private readonly removeWaiters = new Map<string, Set<(r: WaitResult) => void>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly oomSeen = new Set<string>();
  /** Containers inside `docker restart`: their exit is not the end, AutoRemove waits. */
  private readonly manualRestarts = new Set<string>();
  private shuttingDown = false;

  constructor(deps: ContainerServiceDeps) {
    this.repo = deps.repo;
    this.images = deps.images;
    this.runtime = deps.runtime;
    this.specs = deps.specs;
    this.events = deps.events;
    this.logger = deps.logger;
    this.defaults = deps.defaults;
    this.volumes = deps.volumes;
    this.net = new ContainerNetworking(
      {
        get: (input) => this.get(input),
        tryGet: (input) => this.tryGet(input),
        saveRecord: (c) => this.saveRecord(c),
        writeEtc: (c, net) => this.writeEtc(c, net),
        all: () => this.all(),
      },
      deps.defaults.dns,
      deps.networks,
      deps.sandboxes,
    );
  }

  // ------------------------------------------------------------------ lookup and persistence

  private decode(row: ContainerRow): Container {
    return { record: exactParse(row.recordJson) as ContainerRecord, state: JSON.parse(row.stateJson) as ContainerState };
  }

  /** By full ID, name (with or without the slash), or unique ID prefix, as dockerd looks up. */
  get(input: string): Container {
    if (input === '') throw new NotFound('No such container: ');
    const byId = this.repo.get(input);
    if (byId) return this.decode(byId);
    const byName = this.repo.byName(input.startsWith('/') ? input.slice(1) : input);
    if (byName) return this.decode(byName);
    if (/^[a-f0-9]+$/.test(input)) {
      const ids = this.repo.idsWithPrefix(input);
      if (ids.length > 1) throw new InvalidParameter(`multiple IDs found with provided prefix: ${input}`);
      const row = ids.length === 1 ? this.repo.get(ids[0]) : undefined;
      if (row) return this.decode(row);
    }
    throw new NotFound(`No such container: ${input}`);
  }

  /** By anything get() takes; undefined instead of NotFound. */
  tryGet(input: string): Container | undefined {
    try {
      return this.get(input);
    } catch {
      return undefined;
    }
  }

  tryGetById(id: string): Container | undefined {
    const row = this.repo.get(id);
    return row && this.decode(row);
  }

  all(): Container[] {
    return this.repo.list().map((r) => this.decode(r));
  }

  private saveState(c: Container): void {
    this.repo.setState(c.record.id, JSON.stringify(c.state));
  }

  private saveRecord(c: Container): void {
    this.repo.setRecord(c.record.id, exactStringify(c.record));
  }

  /** Serialises lifecycle operations per container, as dockerd's per-container lock does. */
  /** The lifecycle lock for other services (archive uploads): start/stop/restart wait for `fn`. */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locked(id, fn);
  }

  private async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
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
    let hub = this.hubs.get(id);
    if (!hub) {
      hub = new AttachHub();
      this.hubs.set(id, hub);
    }
    return hub;
  }

  isRunning(id: string): boolean {
    return this.tryGetById(id)?.state.running ?? false;
  }

  /** Which containers use an image (for `docker rmi` conflicts). */
  containersUsing(imageId: string): { id: string; running: boolean }[] {
    return this.all()
      .filter((c) => c.record.imageId === imageId || (c.record.mounts ?? []).some((m) => m.type === 'image' && m.imageId === imageId))
      .map((c) => ({ id: c.record.id, running: c.state.running }));
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

  logConfig(c: Container): LogConfig {
    return parseLogOpts(c.record.hostConfig.LogConfig?.Type ?? 'json-file', c.record.hostConfig.LogConfig?.Config ?? {});
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
    const imageConfig = this.images.config(image);
    mergeWithImage(config, imageConfig.config);
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
    let name: string;
    if (req.name) name = validateName(req.name);
    else name = generateName((n) => this.repo.byName(n) !== undefined);
    if (!config.Hostname) {
      config.Hostname = hostConfig.NetworkMode === 'host' ? os.hostname() : id.slice(0, 12);
    }
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
      logPath: path.join(dir, `${id}-json.log`),
      resolvConfPath: path.join(dir, 'resolv.conf'),
      hostnamePath: path.join(dir, 'hostname'),
      hostsPath: path.join(dir, 'hosts'),
      mounts: plan,
      networks: endpoints,
    };
    if (hostConfig.LogConfig?.Type === 'none') record.logPath = '';
    const madeVolumes = this.createVolumes(plan);
    const c: Container = { record, state: initialState() };
    try {
      this.repo.insert({
        id,
        name,
        imageId: image.id,
        created: record.created,
        recordJson: exactStringify(record),
        stateJson: JSON.stringify(c.state),
      });
    } catch (err) {
      await this.dropVolumes(madeVolumes);
      if (err instanceof NameTakenError) {
        throw new Conflict(
          `Conflict. The container name "/${name}" is already in use by container "${err.holder}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
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
      this.repo.delete(id);
      await this.dropVolumes(madeVolumes);
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

  /**
   * Creates the volumes the plan names (named ones on first use, anonymous ones with a new name
   * written into the plan); returns the names it created, to undo a failed create.
   */
  private createVolumes(plan: PlannedMount[]): string[] {
    const made: string[] = [];
    if (!this.volumes) {
      if (plan.some((m) => m.type === 'volume')) throw new NotImplemented('volumes are not available');
      return made;
    }
    try {
      for (const m of plan) {
        if (m.type !== 'volume') continue;
        const existed = m.source !== '' && this.volumes.exists(m.source);
        if (existed) continue;
        const v = this.volumes.create(
          { Name: m.source || undefined, Labels: m.volumeLabels, DriverOpts: m.volumeDriverOpts },
          m.source === '',
        );
        m.source = v.Name;
        made.push(v.Name);
      }
    } catch (err) {
      this.dropVolumes(made).catch((err: unknown) => this.logger.warn({ err }, 'removing volumes of a failed create failed'));
      throw err;
    }
    return made;
  }

  private async dropVolumes(names: string[]): Promise<void> {
    for (const n of names) await this.volumes?.remove(n, true).catch(() => undefined);
  }

  /** dockerd's volume mount/unmount events, one per volume the container uses. */
  private publishVolumes(c: Container, action: 'mount' | 'unmount'): void {
    for (const m of c.record.mounts ?? []) {
      if (m.type !== 'volume') continue;
      const attrs: Record<string, string> = { container: c.record.id, driver: 'local' };
      if (action === 'mount') Object.assign(attrs, { destination: m.destination, 'read/write': String(m.rw), propagation: '' });
      this.events.publish('volume', action, m.source, attrs);
    }
  }

  /** IDs of the containers whose mounts use the volume (for the volume's in-use checks). */
  volumeUsers(name: string): string[] {
    return this.all()
      .filter((c) => (c.record.mounts ?? []).some((m) => m.type === 'volume' && m.source === name))
      .map((c) => c.record.id);
  }

  /** The MountPoints of inspect and ps. */
  mountPoints(c: Container): MountPoint[] {
    const vols = this.volumes;
    return (c.record.mounts ?? []).map((m) => mountPointView(m, (n) => (vols ? vols.mountpoint(n) : '')));
  }

  // ------------------------------------------------------------------ start

  async start(input: string): Promise<void> {
    const id = this.get(input).record.id;
    let autoRemove = false;
    try {
      await this.locked(id, async () => {
        const c = this.get(id);
        if (c.state.paused) throw new Conflict('cannot start a paused container, try unpause instead');
        if (c.state.running) throw new NotModified();
        if (c.state.removalInProgress || c.state.dead) {
          throw new Conflict('container is marked for removal and cannot be started');
        }
        this.restartManager(c).reset();
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

  private restartManager(c: Container): RestartManager {
    const policy = restartPolicyName(c.record.hostConfig.RestartPolicy);
    const max = c.record.hostConfig.RestartPolicy?.MaximumRetryCount ?? 0;
    let rm = this.restartManagers.get(c.record.id);
    if (!rm) {
      rm = new RestartManager(policy, max);
      this.restartManagers.set(c.record.id, rm);
    } else rm.update(policy, max);
    return rm;
  }

  /** Builds the spec, starts the task, and wires its output, exit and stdin. */
  private async startTask(c: Container): Promise<void> {
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
      const logCfg = this.logConfig(c);
      const logger =
        logCfg.driver === 'json-file'
          ? new JsonFileLogger({
              path: c.record.logPath,
              maxSize: logCfg.maxSize > 0 ? logCfg.maxSize : undefined,
              maxFile: logCfg.maxFile,
              compress: logCfg.compress,
              extraAttrs: extraAttributes(logCfg.opts, this.logInfo(c)),
              onError: (err) => this.logger.warn({ err, container: id }, 'log write failed'),
            })
          : undefined;
      const started = await this.runtime.startTask(id, { stdin: cfg.OpenStdin === true, terminal: cfg.Tty === true });
      // The published ports' rules, started before the task, are in place when start answers.
      await net?.firewall;
      io = started.io;
      const hub = this.hub(id);
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
      this.oomSeen.delete(id);
      this.saveState(c);
      const live: Live = { io: started.io, copier, logger, startedMs: Date.now(), exited: Promise.resolve() };
      live.exited = this.watchExit(c, live);
      this.live.set(id, live);
      this.publishVolumes(c, 'mount');
      this.publish(c, 'start');
    } catch (err) {
      await io?.close().catch(() => undefined);
      await this.runtime.deleteTask(id).catch(() => undefined);
      await this.net.forget(id);
      c.state.error = errorMessage(err);
      c.state.exitCode = isStartFailure(err) ? err.exitCode : 128;
      this.saveState(c);
      throw err;
    } finally {
      await pinned?.();
    }
  }

  // ------------------------------------------------------------------ networks

  /** `docker network connect`: recorded in the container, and made live when it runs. */
  async connect(networkInput: string, containerInput: string, settings: EndpointSettings | undefined): Promise<void> {
    const n = this.net.network(networkInput) as NetworkRecord;
    const id = this.get(containerInput).record.id;
    await this.locked(id, () => this.net.connect(this.get(id), n, settings));
  }

  /** `docker network disconnect` (force: also when the network is gone). */
  async disconnect(networkInput: string, containerInput: string, force: boolean): Promise<void> {
    const id = this.get(containerInput).record.id;
    const n = this.net.network(networkInput, force);
    await this.locked(id, () => this.net.disconnect(this.get(id), n, networkInput));
  }

  /** IDs of containers configured on a network (for `network ls --filter dangling` and prune). */
  configuredOn(networkId: string): string[] {
    return this.net.configuredOn(networkId);
  }

  /** The /proc/<pid>/ns paths a container:<id> mode joins. */
  private namespaceSource(input: string): { id: string; pid: number } {
    const other = this.get(input);
    if (!other.state.running) throw new Conflict(`cannot join namespace of a non running container ${other.record.id}`);
    return { id: other.record.id, pid: other.state.pid };
  }

  /**
   * Follows a task to its exit. Nobody may be waiting for it: a failure on the way (the store,
   * containerd) is logged, never an unhandled rejection that would stop the daemon.
   */
  private async watchExit(c: Container, live: Live): Promise<void> {
    try {
      await this.followExit(c, live);
    } catch (err) {
      this.logger.error({ err, container: c.record.id }, 'handling the exit failed');
    }
  }

  private async followExit(c: Container, live: Live): Promise<void> {
    const id = c.record.id;
    let status: number;
    try {
      status = (await this.runtime.waitTask(id)).exitStatus;
    } catch (err) {
      this.logger.error({ err, container: id }, 'waiting for the task failed');
      status = 255;
    }
    // Output may still be in the pipes when the exit is reported: drain it before the state says
    // exited, even to an attached client that is not reading (the rest is at most a pipe's worth).
    this.hub(id).releaseSource();
    await Promise.race([live.copier.done(), new Promise((r) => setTimeout(r, 2000))]);
    await live.logger?.close();
    // The processes are gone: the network comes down while containerd deletes the task.
    await Promise.all([
      this.runtime.deleteTask(id).catch((err: unknown) => this.logger.warn({ err, container: id }, 'task delete failed')),
      this.net.tearDown(c),
    ]);
    await live.io.close().catch(() => undefined);
    this.live.delete(id);
    await this.handleExit(id, status, Date.now() - live.startedMs);
  }

  private async handleExit(id: string, exitCode: number, ranMs: number): Promise<void> {
    const c = this.tryGetById(id);
    if (!c) return;
    const oom = this.oomSeen.has(id);
    c.state = notRunning(c.state, { exitCode, oomKilled: oom, finishedAt: nowRfc3339Nano() });
    this.saveState(c);
    if (oom) this.publish(c, 'oom');
    this.publish(c, 'die', { exitCode: String(exitCode), execDuration: String(Math.floor(ranMs / 1000)) });
    this.publishVolumes(c, 'unmount');
    this.hub(id).end();
    this.notify(this.exitWaiters, id, { StatusCode: exitCode, Error: null });

    if (this.shuttingDown || c.state.removalInProgress) return;
    const decision = this.restartManager(c).shouldRestart(exitCode, c.state.manuallyStopped, ranMs);
    if (decision.restart) {
      c.state = { ...c.state, running: true, restarting: true };
      this.saveState(c);
      const timer = setTimeout(() => {
        this.restartTimers.delete(id);
        this.locked(id, async () => {
          const cur = this.tryGetById(id);
          if (!cur || !cur.state.restarting) return;
          cur.state.restartCount = (cur.state.restartCount ?? 0) + 1;
          cur.state.restarting = false;
          cur.state.running = false;
          try {
            await this.startTask(cur);
          } catch (err) {
            this.logger.error({ err, container: id }, 'restart failed');
            const after = this.tryGetById(id);
            if (after) {
              after.state.running = false;
              after.state.restarting = false;
              this.saveState(after);
            }
          }
        }).catch((err: unknown) => this.logger.error({ err, container: id }, 'restart failed'));
      }, decision.delayMs);
      this.restartTimers.set(id, timer);
      return;
    }
    if (c.record.hostConfig.AutoRemove && !this.manualRestarts.has(id)) {
      // Not awaited: whoever waits for this exit (stop, kill, restart) holds the container's lock,
      // which the removal needs; it runs once they let go.
      void this.remove(id, { force: true, volumes: true }).catch((err: unknown) =>
        this.logger.warn({ err, container: id }, 'auto-remove failed'),
      );
    }
  }

  /** The task was OOM-killed (from containerd's events). */
  noteOom(id: string): void {
    this.oomSeen.add(id);
  }

  private notify(map: Map<string, Set<(r: WaitResult) => void>>, id: string, r: WaitResult): void {
    const set = map.get(id);
    if (!set) return;
    map.delete(id);
    for (const fn of set) fn(r);
  }

  // ------------------------------------------------------------------ stop, kill, restart

  async stop(input: string, opts: { signal?: string; timeoutSec?: number }): Promise<void> {
    const id = this.get(input).record.id;
    // A signal that does not parse is the client's error (400) before anything is stopped.
    if (opts.signal) parseSignal(opts.signal);
    await this.locked(id, () => this.stopLocked(id, opts));
  }

  private cancelRestart(c: Container): boolean {
    const timer = this.restartTimers.get(c.record.id);
    if (!timer && !c.state.restarting) return false;
    if (timer) clearTimeout(timer);
    this.restartTimers.delete(c.record.id);
    c.state = { ...c.state, running: false, restarting: false };
    this.saveState(c);
    return true;
  }

  private async stopLocked(id: string, opts: { signal?: string; timeoutSec?: number }): Promise<void> {
    const c = this.get(id);
    c.state.manuallyStopped = true;
    this.saveState(c);
    if (this.cancelRestart(c)) {
      this.publish(c, 'stop');
      return;
    }
    if (!c.state.running) throw new NotModified();
    const sig = opts.signal ? parseSignal(opts.signal) : configuredStopSignal(c.record.config.StopSignal);
    const timeout = opts.timeoutSec ?? c.record.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    const live = this.live.get(id);
    // As moby's containerStop: a stop signal that cannot be sent (one the platform does not
    // know, or a kill that fails) is logged, and the container gets 2 s before SIGKILL.
    let signalled = validSignalForPlatform(sig);
    if (signalled) {
      await this.signal(c, sig).catch((err: unknown) => {
        signalled = false;
        this.logger.warn({ err, container: id, signal: sig }, 'error sending stop signal to container');
      });
    } else this.logger.warn({ container: id, signal: sig }, 'stop signal not supported on linux: killing after the grace period');
    if (live) {
      const waitMs = !signalled ? STOP_SIGNAL_FAILED_WAIT_MS : timeout < 0 ? Infinity : timeout * 1000;
      const exited = await waitOrTimeout(live.exited, waitMs);
      if (!exited) {
        this.logger.info({ container: id, timeout }, 'container did not exit in time: killing it');
        await this.killAndWait(this.get(id), live);
      }
    }
    this.publish(this.get(id), 'stop');
  }

  /**
   * SIGKILL and a bounded wait for the exit: the per-container lock is held here, and an exit that
   * never comes (a task left frozen by a pause racing the kill) must not lock the container for
   * good. A second round thaws the task whatever the recorded state says, then gives up with
   * dockerd's error.
   */
  private async killAndWait(c: Container, live: Live): Promise<void> {
    const id = c.record.id;
    for (let round = 0; round < 2; round++) {
      await this.signal(this.tryGetById(id) ?? c, 9).catch((err: unknown) => this.logger.warn({ err, container: id }, 'SIGKILL failed'));
      if (round > 0) await this.runtime.resume(id).catch(() => undefined);
      if (await waitOrTimeout(live.exited, KILL_EXIT_WAIT_MS)) return;
      this.logger.warn({ container: id }, 'no exit after SIGKILL: thawing and killing again');
    }
    throw new SystemError('tried to kill container, but did not receive an exit event');
  }

  private async signal(c: Container, sig: number): Promise<void> {
    const id = c.record.id;
    // dockerd's killWithSignal: SIGKILL, the stop signal, or any signal when none is configured
    // means the container is meant to end: no restart policy brings it back, and a paused
    // container is thawed so that the signal is delivered.
    const stopSignal = c.record.config.StopSignal;
    const exitOnNext = !stopSignal || sig === 9 || configuredStopSignal(stopSignal) === sig;
    if (exitOnNext) this.restartManager(c).cancel();
    try {
      await this.runtime.kill(id, sig, { all: sig === 9 });
    } catch (err) {
      // A process exiting right now has a shim that refuses signals ("process already finished",
      // "ttrpc: closed"): if its exit follows shortly, the signal was not needed.
      const live = this.live.get(id);
      const exited = live === undefined || (await waitOrTimeout(live.exited, 2000));
      if (!exited && !isNotFound(err)) throw err;
    }
    this.publish(c, 'kill', { signal: String(sig) });
    // The current record, not `c`: a state object replaced meanwhile would hide the pause. SIGKILL
    // thaws even when nothing is recorded paused: a frozen task would never report its exit.
    const now = this.tryGetById(id) ?? c;
    if (exitOnNext && (now.state.paused || sig === 9)) {
      await this.runtime.resume(id).catch((err: unknown) => {
        if (now.state.paused) this.logger.warn({ err, container: id }, 'resume after kill failed');
      });
      const cur = this.tryGetById(id);
      if (cur?.state.paused) {
        cur.state.paused = false;
        this.saveState(cur);
        this.publish(cur, 'unpause');
      }
    }
  }

  async kill(input: string, signal: string | undefined): Promise<void> {
    const sig = parseSupportedSignal(signal && signal !== '' ? signal : 'SIGKILL');
    const id = this.get(input).record.id;
    await this.locked(id, async () => {
      const c = this.get(id);
      if (!c.state.running || c.state.restarting) {
        throw new Conflict(`Cannot kill container: ${input}: Container ${id} is not running`);
      }
      c.state.manuallyStopped = true;
      this.saveState(c);
      await this.signal(c, sig);
      const live = this.live.get(id);
      if (sig === 9 && live) await waitOrTimeout(live.exited, 10_000);
    });
  }

  async restart(input: string, opts: { signal?: string; timeoutSec?: number }): Promise<void> {
    const id = this.get(input).record.id;
    await this.locked(id, async () => {
      const c = this.get(id);
      this.manualRestarts.add(id);
      try {
        if (c.state.running && !c.state.restarting) {
          try {
            await this.stopLocked(id, opts);
          } catch (err) {
            if (!(err instanceof NotModified)) throw err;
          }
        } else this.cancelRestart(c);
        const after = this.get(id);
        after.state.manuallyStopped = false;
        this.restartManager(after).reset();
        await this.startTask(after);
      } finally {
        this.manualRestarts.delete(id);
      }
      this.publish(this.get(id), 'restart');
    });
  }

  // ------------------------------------------------------------------ pause

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
    const id = this.get(input).record.id;
    await this.locked(id, async () => {
      const c = this.get(id);
      if (!c.state.running) throw new Conflict(`Container ${id} is not running`);
      if (c.state.paused) throw new Conflict(`Container ${id} is already paused`);
      if (c.state.restarting) throw new Conflict(`Container ${id} is restarting, wait until the container is running`);
      await this.runtime.pause(id).catch((err: unknown) => this.notRunningConflict(id, err));
      c.state.paused = true;
      this.saveState(c);
      this.publish(c, 'pause');
    });
  }

  async unpause(input: string): Promise<void> {
    const id = this.get(input).record.id;
    await this.locked(id, async () => {
      const c = this.get(id);
      if (!c.state.paused) throw new Conflict(`Container ${id} is not paused`);
      await this.runtime.resume(id).catch((err: unknown) => this.notRunningConflict(id, err));
      c.state.paused = false;
      this.saveState(c);
      this.publish(c, 'unpause');
    });
  }

  // ------------------------------------------------------------------ wait

  /** Not async on purpose: an unknown container throws before the caller answers anything. */
  wait(input: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult> {
    const c = this.get(input);
    const id = c.record.id;
    if (condition === 'not-running' && !c.state.running) {
      return Promise.resolve({ StatusCode: c.state.exitCode, Error: c.state.error ? { Message: c.state.error } : null });
    }
    const map = condition === 'removed' ? this.removeWaiters : this.exitWaiters;
    return new Promise<WaitResult>((resolve, reject) => {
      const set = map.get(id) ?? new Set();
      const fn = (r: WaitResult): void => resolve(r);
      set.add(fn);
      map.set(id, set);
      signal?.addEventListener('abort', () => {
        set.delete(fn);
        reject(new Error('client went away'));
      });
    });
  }

  // ------------------------------------------------------------------ remove

  async remove(input: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const c0 = this.get(input);
    const id = c0.record.id;
    await this.locked(id, async () => {
      const c = this.tryGetById(id);
      if (!c) return;
      if (c.state.removalInProgress) throw new Conflict(`removal of container ${id} is already in progress`);
      if (c.state.running && !c.state.restarting) {
        if (!opts.force) {
          const what = c.state.paused ? 'paused' : 'running';
          throw new Conflict(
            `cannot remove container "/${c.record.name}": container is ${what}: stop the container before removing or force remove`,
          );
        }
      }
      this.cancelRestart(c);
      c.state.removalInProgress = true;
      this.saveState(c);
      try {
        const live = this.live.get(id);
        if (live) {
          await this.runtime.kill(id, 9, { all: true }).catch(() => undefined);
          await this.runtime.resume(id).catch(() => undefined);
          if (!(await waitOrTimeout(live.exited, KILL_EXIT_WAIT_MS))) {
            try {
              await this.killAndWait(c, live);
            } catch (err) {
              throw new SystemError(`Could not kill running container ${id}, cannot remove - ${errorMessage(err)}`);
            }
          }
        }
        await this.runtime.deleteContainer(id);
        await this.net.forget(id);
      } catch (err) {
        const cur = this.tryGetById(id);
        if (cur) {
          cur.state.removalInProgress = false;
          cur.state.dead = true;
          this.saveState(cur);
        }
        throw err;
      }
      fs.rmSync(this.containerDir(id), { recursive: true, force: true });
      this.repo.delete(id);
      if (opts.volumes) await this.removeAnonymousVolumes(c);
      this.hubs.delete(id);
      this.restartManagers.delete(id);
      this.publish(c, 'destroy');
      this.notify(this.removeWaiters, id, { StatusCode: c.state.exitCode, Error: null });
      this.notify(this.exitWaiters, id, { StatusCode: c.state.exitCode, Error: null });
    });
  }

  /** `rm -v`: the container's anonymous volumes that no other container uses; named ones stay. */
  private async removeAnonymousVolumes(c: Container): Promise<void> {
    const vols = this.volumes;
    if (!vols) return;
    for (const m of c.record.mounts ?? []) {
      if (m.type !== 'volume' || !vols.isAnonymous(m.source) || this.volumeUsers(m.source).length > 0) continue;
      await vols.remove(m.source, false).catch((err: unknown) =>
        this.logger.warn({ err, volume: m.source, container: c.record.id }, 'removing anonymous volume failed'),
      );
    }
  }

  // ------------------------------------------------------------------ rename, update, resize, top

  async rename(input: string, newName: string): Promise<void> {
    if (newName === '') throw new InvalidParameter('Neither old nor new names may be empty');
    const name = validateName(newName);
    const id = this.get(input).record.id;
    await this.locked(id, async () => {
      const c = this.get(id);
      const oldName = c.record.name;
      if (oldName === name) throw new InvalidParameter('Renaming a container with the same name as its current name');
      c.record.name = name;
      try {
        this.repo.rename(id, name, exactStringify(c.record));
      } catch (err) {
        if (err instanceof NameTakenError) {
          throw new Conflict(
            `Conflict. The container name "/${name}" is already in use by container "${err.holder}". You have to remove (or rename) that container to be able to reuse that name.`,
          );
        }
        throw err;
      }
      this.net.renamed(id, oldName, name);
      this.publish(c, 'rename', { oldName: `/${oldName}` });
    });
  }

  async update(input: string, changes: HostConfig): Promise<string[]> {
    const id = this.get(input).record.id;
    return this.locked(id, async () => {
      const c = this.get(id);
      if (c.state.removalInProgress || c.state.dead) {
        throw new Conflict(`Cannot update container ${id}: container is marked for removal and cannot be "update"`);
      }
      const cur = c.record.hostConfig;
      const fail = (msg: string): never => {
        throw new InvalidParameter(`Cannot update container ${id}: ${msg}`);
      };
      let warnings: string[];
      try {
        warnings = verifyResources(changes, { update: true });
        if (changes.RestartPolicy?.Name) validateRestartPolicy(changes.RestartPolicy);
      } catch (err) {
        if (err instanceof BerthError) fail(err.message);
        throw err;
      }
      // dockerd's Container.UpdateContainer: a zero value leaves the setting as it is, NanoCpus
      // and CpuPeriod/CpuQuota exclude each other, and a memory limit above the current swap
      // limit needs a new swap limit in the same update.
      const nano = changes.NanoCpus ?? 0;
      const period = changes.CpuPeriod ?? 0;
      const quota = changes.CpuQuota ?? 0;
      if (nano > 0 && (cur.CpuPeriod ?? 0) > 0) fail('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
      if (nano > 0 && (cur.CpuQuota ?? 0) > 0) fail('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
      if (period > 0 && (cur.NanoCpus ?? 0) > 0) fail('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
      if (quota > 0 && (cur.NanoCpus ?? 0) > 0) fail('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
      const next: HostConfig = { ...cur };
      const setIf = <K extends keyof HostConfig>(k: K): void => {
        const v = changes[k];
        if (v !== undefined && v !== null && v !== 0 && v !== '') next[k] = v;
      };
      for (const k of ['BlkioWeight', 'CpuShares', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems'] as const) setIf(k);
      const memory = changes.Memory ?? 0;
      if (memory !== 0) {
        if (memory > (cur.MemorySwap ?? 0) && !changes.MemorySwap) {
          fail('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
        }
        next.Memory = memory;
      }
      for (const k of ['MemorySwap', 'MemoryReservation', 'CpuRealtimePeriod', 'CpuRealtimeRuntime'] as const) setIf(k);
      if (changes.PidsLimit !== undefined && changes.PidsLimit !== null) next.PidsLimit = changes.PidsLimit > 0 ? changes.PidsLimit : null;
      if (changes.RestartPolicy?.Name) {
        if (cur.AutoRemove && changes.RestartPolicy.Name !== 'no') {
          fail('Restart policy cannot be updated because AutoRemove is enabled for the container');
        }
        next.RestartPolicy = { Name: changes.RestartPolicy.Name, MaximumRetryCount: changes.RestartPolicy.MaximumRetryCount ?? 0 };
      }
      try {
        verifyResources(next, { update: true });
      } catch (err) {
        if (err instanceof BerthError) fail(err.message);
        throw err;
      }
      // A running (or paused) task takes the request's values at once; otherwise the next start
      // applies the stored ones.
      if (c.state.running && !c.state.restarting) {
        try {
          await this.runtime.updateResources(id, await this.specs.updateResources(changes));
        } catch (err) {
          if (err instanceof BerthError && !(err instanceof SystemError)) throw err;
          fail(errorMessage(err));
        }
      }
      c.record.hostConfig = next;
      this.saveRecord(c);
      this.restartManager(c);
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
        this.repo.delete(c.record.id);
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
        this.saveState(c);
        continue;
      }
      const wasRunning = c.state.running;
      await this.runtime.deleteTask(c.record.id).catch(() => undefined);
      if (wasRunning) {
        c.state = notRunning(c.state, { exitCode: 255, finishedAt: nowRfc3339Nano() });
        this.saveState(c);
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
    // containerd containers Berth has no record of: never deleted (they may be someone's data),
    // but their task goes (nothing may run unmanaged) and the record is labelled and logged.
    for (const id of inContainerd) {
      if (known.has(id)) continue;
      await this.runtime.deleteTask(id).catch((err: unknown) => this.logger.warn({ err, container: id }, 'stopping the task of an unknown container failed'));
      const labels = await this.runtime.labels(id).catch(() => undefined);
      if (labels && labels[QUARANTINE_LABEL] !== undefined) continue;
      this.logger.warn({ container: id }, `quarantined at daemon start: containerd container without a record (label ${QUARANTINE_LABEL})`);
      await this.runtime
        .addLabels(id, { [QUARANTINE_LABEL]: `no record at daemon start ${nowRfc3339Nano()}` })
        .catch((err: unknown) => this.logger.warn({ err, container: id }, 'labelling a quarantined container failed'));
    }
  }

  /** Stops every running container, in parallel, as dockerd does at shutdown. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.restartTimers.clear();
    const running = this.all().filter((c) => c.state.running);
    await Promise.all(
      running.map(async (c) => {
        try {
          await this.locked(c.record.id, () => this.stopLocked(c.record.id, { timeoutSec: Math.min(c.record.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT, this.defaults.shutdownTimeoutSec) }));
        } catch (err) {
          if (!(err instanceof NotModified)) this.logger.warn({ err, container: c.record.id }, 'stop at shutdown failed');
        }
      }),
    );
    this.specs.removeEmptyCgroupParent();
  }

  // ------------------------------------------------------------------ logs

  private logInfo(c: Container): LogContainerInfo {
    return {
      id: c.record.id,
      name: c.record.name,
      imageId: c.record.imageId,
      imageName: c.record.config.Image ?? '',
      labels: c.record.config.Labels ?? {},
      env: c.record.config.Env ?? [],
      entrypoint: c.record.path,
      args: c.record.args,
      daemonName: 'berth',
      logPath: c.record.logPath,
    };
  }

  /** Entries of a container's json-file log; follow ends when the container stops. */
  readLogs(
    id: string,
    opts: { stdout: boolean; stderr: boolean; follow: boolean; tail: number; since?: LogTime; until?: LogTime; details?: boolean; signal?: AbortSignal },
  ): AsyncIterable<LogEntry> {
    const c = this.get(id);
    const cfg = this.logConfig(c);
    if (cfg.driver !== 'json-file') {
      throw new NotImplemented('configured logging driver does not support reading');
    }
    return readLogs({
      path: c.record.logPath,
      maxFile: cfg.maxFile,
      compress: cfg.compress,
      stdout: opts.stdout,
      stderr: opts.stderr,
      since: opts.since,
      until: opts.until,
      tail: opts.tail,
      follow: opts.follow,
      details: opts.details,
      signal: opts.signal ?? new AbortController().signal,
      isRunning: () => this.live.has(c.record.id),
      notify: (wake) => this.live.get(c.record.id)?.logger?.subscribe(wake) ?? (() => undefined),
    });
  }

  logs(input: string, req: LogsRequest): { tty: boolean; lines: AsyncIterable<LogLine> } {
    const c = this.get(input);
    const toLogTime = (t?: { seconds: number; nanos: number }): LogTime | undefined => t && { sec: t.seconds, nsec: t.nanos };
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
    const format = { timestamps: req.timestamps, details: req.details };
    async function* lines(): AsyncGenerator<LogLine> {
      for await (const e of entries) yield formatLogEntry(e, format);
    }
    return { tty: c.record.config.Tty === true, lines: lines() };
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
  async inspect(input: string, size: boolean, legacyNetworkFields = false): Promise<ContainerInspectResponse> {
    const c = this.get(input);
    let graph: Record<string, string> | null = null;
    try {
      graph = { ...(await overlayDirs(this.images.ctd, c.record.id)) };
    } catch {
      graph = null;
    }
    const sizes = size ? await this.sizes(c) : undefined;
    const networkSettings = this.net.settings(c, legacyNetworkFields);
    return inspectView(c, { graphDriverData: graph, sizeRw: sizes?.rw, sizeRootFs: sizes?.rootFs, mounts: this.mountPoints(c), networkSettings });
  }

  private async sizes(c: Container): Promise<{ rw: number; rootFs: number }> {
    const rw = await snapshotUsage(this.images.ctd, c.record.id).then((u) => u.size, () => 0);
    const image = this.images.repo.get(c.record.imageId);
    return { rw, rootFs: rw + (image?.size ?? 0) };
  }

  async list(req: ListOptions): Promise<ContainerSummary[]> {
    const plan = planList(req, (input) => this.get(input).record.id);
    const sorted = this.all().sort((a, b) => (a.record.created < b.record.created ? 1 : a.record.created > b.record.created ? -1 : 0));
    const ancestors = req.filters.get('ancestor').map((a) => {
      try {
        return resolveImage(this.images.repo, a).image.id;
      } catch {
        return undefined;
      }
    });
    const chosen = filterContainers(sorted, req, plan, (c) => ancestors.some((id) => id !== undefined && this.descendsFrom(c.record.imageId, id)), {
      networks: (c) => this.net.filterNames(c),
      published: (c) => this.net.published(c),
    });
    const out: ContainerSummary[] = [];
    for (const c of chosen) {
      out.push(summaryView(c, this.imageShown(c), req.size ? await this.sizes(c) : undefined, this.mountPoints(c), this.net.summary(c)));
    }
    return out;
  }

  private descendsFrom(imageId: string, ancestor: string): boolean {
    for (let cur = this.images.repo.get(imageId); cur; cur = cur.parent ? this.images.repo.get(cur.parent) : undefined) {
      if (cur.id === ancestor) return true;
    }
    return false;
  }

  /** The Image column: what the user named, unless that name now means another image. */
  private imageShown(c: Container): string {
    const name = c.record.config.Image ?? '';
    try {
      if (resolveImage(this.images.repo, name).image.id === c.record.imageId) return name;
    } catch {
      // the name is gone
    }
    return c.record.imageId;
  }

  async prune(opts: { until?: number; labels: (l: Readonly<Record<string, string>>) => boolean }): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.all()) {
      if (c.state.running || c.state.paused || c.state.restarting) continue;
      if (opts.until !== undefined && Date.parse(c.record.created) / 1000 >= opts.until) continue;
      if (!opts.labels(c.record.config.Labels ?? {})) continue;
      const { rw } = await this.sizes(c);
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
    return shortId(id);
  }
}

/** Label on containerd containers the start-up reconcile could not match to a record. */
export const QUARANTINE_LABEL = 'berth.quarantined';

/** How long a SIGKILLed task gets to report its exit before the kill is retried (lock held). */
const KILL_EXIT_WAIT_MS = 10_000;

/** moby's containerStop: the grace a container gets when its stop signal could not be sent. */
const STOP_SIGNAL_FAILED_WAIT_MS = 2_000;

/** moby's Container.StopSignal: the configured one when it parses, SIGTERM otherwise. */
function configuredStopSignal(raw: string | null | undefined): number {
  try {
    return raw ? parseSignal(raw) : 15;
  } catch {
    return 15;
  }
}

function waitOrTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms === Infinity) return p.then(() => true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

