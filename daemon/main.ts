#!/usr/bin/env -S node --max-semi-space-size=2
// berthd: parses flags and daemon.json, takes ownership of its roots, starts (or connects to)
// containerd, wires the domain services to the API, and serves until SIGTERM/SIGINT.
import { ulaBase } from '../network/ipam6';
import { registryServiceConfig, registrySettings } from './registry-settings';
import { RegistryService } from './registry/service';
import { registryClient } from './registry/client-api';
import { endpointsFor } from '../registry/endpoints';
import { endpointsOrInvalid } from './registry/errors';
import { closeTransports, openRepository } from '../registry/client';
import { BlobLocationRepo } from '../store/blob-location-repo';
import { installCrashGuard } from './crash-guard';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { createApiServer, listen } from '../api/server';
import { Containerd } from '../runtime/containerd';
import { runcVersion, tiniVersion } from '../runtime/runc';
import { openDatabase } from '../store/db';
import { ImageRepo } from '../store/image-repo';
import { MetaRepo } from '../store/meta-repo';
import { ConfigError, parseDaemonConfig, usage, type DaemonConfig } from './config';
import { sweepCrashLeftovers } from './crash-sweep';
import { ContainerdSupervisor } from './containerd-supervisor';
import { EventBus } from './events';
import { ImageService } from './images/service';
import { hostArchitecture } from './images/image-config';
import { acquireDaemonLocks } from './lock';
import { SystemService } from './system/service';
import { cgroupVersion } from './system/host';
import { ContainerService } from './containers/service';
import { ContainerStore } from './containers/store';
import type { ContainerUsage } from './container-usage';
import { containerFilesBackend } from './containers/files-backend';
import { BuildService } from './build/service';
import { buildDeps } from './build/wiring';
import { ExecService } from './exec/service';
import { withExecIds } from './exec/inspect-exec-ids';
import { ExecProbeRunner } from './exec/probe';
import { SpecFactory } from './containers/spec-factory';
import { clockTicksPerSecond, hostMemoryBytes, StatsService, type StatsContainer } from './containers/stats';
import { ContainerRuntime } from '../runtime/tasks';
import { subscribeTaskEvents } from '../runtime/task-events';
import { ContainerRepo } from '../store/container-repo';
import { VolumeRepo } from '../store/volume-repo';
import { VolumeService } from './volumes/service';
import { DiskUsageService } from './system/disk-usage';
import { engineInfo } from './system/engine';
import { NetworkRepo } from '../store/network-repo';
import { NetworkService, networkTag, type NetworkCreateRequest, type NetworkListFilter } from './networks/service';
import type { EndpointSettings } from './containers/api-types';
import { EmbeddedDnsResolver, repoResolverView } from './networks/dns-resolver';
import { Sandboxes } from './networks/sandboxes';
import { Links, hostHasIpv6 } from '../network/links';
import { Firewall } from '../network/firewall';
import { DnsServer } from '../network/dns-server';
import { PortAllocator } from '../network/port-allocator';
import { PortProxy } from '../network/port-proxy';
import { hostUpstreams } from './containers/etc-files';
import { closeTempMounts, initTempMounts } from '../runtime/mount';
import type { RequestObservation } from './metrics/daemon-metrics';

interface Shutdown {
  (): Promise<void>;
}

/** The first of `names` found on PATH. */
function findExecutable(names: string[]): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    for (const n of names) {
      const p = path.join(dir, n);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return p;
      } catch {
        // keep looking
      }
    }
  }
  return undefined;
}

/**
 * The network layer: bridges, firewall, embedded DNS, port publishing. Leftovers of a crash
 * (sandboxes, endpoints) are removed before anything starts, except those of the containers in
 * `keep` (live restore adopts them); at stop, the DNS listeners and proxies go, and without live
 * restore the bridges and firewall chains too (containers are stopped by then).
 */
async function startNetworking(
  config: DaemonConfig,
  db: ReturnType<typeof openDatabase>,
  events: EventBus,
  logger: Logger,
  cleanups: Array<() => Promise<void> | void>,
  usage: ContainerUsage,
  keep: ReadonlySet<string>,
): Promise<{ networks: NetworkService; sandboxes: Sandboxes }> {
  const log = logger.child({ component: 'network' });
  const tag = networkTag(config.containerdNamespace);
  const links = new Links({ logger: log });
  const ipv6Host = hostHasIpv6();
  const firewall = new Firewall({
    prefix: tag.chainPrefix,
    enabled: config.iptables,
    ipForward: config.ipForward,
    ipv6: ipv6Host,
    logger: log,
  });
  // The embedded DNS reads the stored endpoints through its own resolver, so it exists before
  // the network service that starts its listeners; Sandboxes records containers' --dns servers.
  const networkRepo = new NetworkRepo(db);
  const upstreams = new Map<string, string[]>();
  const resolver = new EmbeddedDnsResolver({
    view: repoResolverView(networkRepo, usage),
    upstreams,
    hostResolvers: hostUpstreams,
  });
  const dns = new DnsServer(resolver, { logger: log });
  const networks = new NetworkService({
    usage,
    repo: networkRepo,
    links,
    firewall,
    dns,
    events,
    logger: log,
    defaultBridgeName: tag.defaultBridge,
    defaultBridge: {
      bridge: config.bridge,
      bip: config.bip,
      fixedCidr: config.fixedCidr,
      ipv6: config.ipv6,
      fixedCidrV6: config.fixedCidrV6,
      mtu: config.mtu,
      icc: config.icc,
      ipMasq: config.ipMasq,
      hostIp: config.ip,
      iptables: config.iptables,
    },
    pools: config.defaultAddressPools,
    ula: ulaBase(`${config.containerdNamespace}:${config.dataRoot}`),
  });
  const proxy = new PortProxy({ logger: log });
  const sandboxes = new Sandboxes({
    networks,
    links,
    ports: new PortAllocator(),
    proxy,
    userlandProxy: config.userlandProxy,
    ipv6Host,
    logger: log,
    upstreams,
  });
  await sandboxes.cleanupExcept(keep);
  await networks.init();
  cleanups.push(async () => {
    await sandboxes.shutdown();
    await networks.shutdown({ keepKernelState: config.liveRestore });
  });
  return { networks, sandboxes };
}

async function start(config: DaemonConfig, logger: Logger): Promise<Shutdown> {
  const cleanups: Array<() => Promise<void> | void> = [];
  const shutdown: Shutdown = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error({ err }, 'error during shutdown');
      }
    }
  };
  try {
    fs.mkdirSync(config.dataRoot, { recursive: true, mode: 0o711 });
    fs.mkdirSync(config.execRoot, { recursive: true, mode: 0o700 });
    const locks = acquireDaemonLocks({ dataRoot: config.dataRoot, execRoot: config.execRoot, pidfile: config.pidfile });
    cleanups.push(() => locks.release());

    fs.rmSync(config.tmpDir, { recursive: true, force: true });
    fs.mkdirSync(config.tmpDir, { recursive: true, mode: 0o700 });
    // Root-only home of every temporary mount; what a crash left there goes now.
    const staleMounts = await initTempMounts(config.dataRoot);
    if (staleMounts.length > 0) logger.info({ count: staleMounts.length }, 'removed leftover temporary mounts');
    cleanups.push(() => closeTempMounts());
    const db = openDatabase(config.dataRoot);
    cleanups.push(() => {
      db.close();
    });
    const daemonId = new MetaRepo(db).getOrCreate('daemon-id', () => randomUUID());
    // Only with --metrics-addr: the collectors (and prom-client) cost nothing when nobody can
    // scrape them. Like swarm mode and the dashboard, their code is loaded only when configured.
    const metricsKit = config.metricsAddr ? await import('./metrics/daemon-metrics.js') : undefined;
    const metrics = metricsKit && new metricsKit.DaemonMetrics();

    let address = config.containerd;
    if (!address) {
      const supervisor = new ContainerdSupervisor({
        dataRoot: config.dataRoot,
        execRoot: config.execRoot,
        logger: logger.child({ component: 'containerd' }),
        debug: config.debug,
        // Live restore: containerd (and through it the shims) outlives berthd, and the next
        // berthd reconnects to it.
        keepRunning: config.liveRestore,
      });
      cleanups.push(() => supervisor.stop());
      address = await supervisor.start();
    }
    const ctd = new Containerd({
      address,
      namespace: config.containerdNamespace,
      logger: logger.child({ component: 'runtime' }),
      ...(metrics
        ? { observeCall: (svc: string, m: string, code: string, s: number) => metrics.observeContainerdCall(svc, m, code, s) }
        : {}),
    });
    cleanups.push(() => ctd.close());
    await ctd.waitReady(30_000);

    // dockerd's certs.d for root; the user agent names the engine version as dockerd's does.
    const registry = registrySettings(
      { mirrors: config.registryMirrors, insecureRegistries: config.insecureRegistries },
      {
        certsDir: process.env.BERTH_CERTS_DIR ?? '/etc/docker/certs.d',
        userAgent: `docker/${engineInfo().version} os/linux arch/${hostArchitecture()}`,
      },
    );
    // Keep-alive sockets to registries would otherwise hold the process after shutdown.
    cleanups.push(() => closeTransports());
    const events = new EventBus((err) => logger.error({ err }, 'event subscriber failed'));
    // The containers in memory first: the image, volume and network services ask it who uses what.
    const containerStore = new ContainerStore(new ContainerRepo(db));
    const images = new ImageService({
      usage: containerStore,
      ctd,
      repo: new ImageRepo(db),
      events,
      logger: logger.child({ component: 'images' }),
      tmpDir: config.tmpDir,
      pull: {
        registry,
        maxConcurrentDownloads: config.maxConcurrentDownloads,
        maxDownloadAttempts: config.maxDownloadAttempts,
        ...(metrics ? { onBytes: (n: number) => metrics.countPullBytes(n) } : {}),
      },
      push: {
        registry: {
          endpoints: (domain) => endpointsOrInvalid(endpointsFor(domain, registry)),
          open: (endpoint, name, opts) => openRepository(endpoint, name, { ...opts, userAgent: registry.userAgent }),
        },
        locations: new BlobLocationRepo(db),
        maxConcurrentUploads: config.maxConcurrentUploads,
      },
    });
    await images.reconcile();

    const cgroupVer = cgroupVersion();
    const specs = new SpecFactory(ctd, {
      namespace: config.containerdNamespace,
      cgroupParent: config.cgroupParent ?? (config.cgroupDriver === 'systemd' ? 'system.slice' : `/${config.containerdNamespace}`),
      cgroupDriver: config.cgroupDriver,
      cgroupVersion: cgroupVer,
      initPath: config.initPath ?? findExecutable(['docker-init', 'tini-static', 'tini']),
      initByDefault: config.init,
      seccompProfile: config.seccompProfile,
      defaultUlimits: config.defaultUlimits,
      shmSize: config.defaultShmSize,
      noNewPrivileges: config.noNewPrivileges,
    });
    const volumes = new VolumeService({
      repo: new VolumeRepo(db),
      events,
      logger: logger.child({ component: 'volumes' }),
      dataRoot: config.dataRoot,
      usage: containerStore,
    });
    specs.volumes = volumes;
    const runtime = new ContainerRuntime({
      ctd,
      fifoRoot: path.join(config.execRoot, 'fifo'),
      logger: logger.child({ component: 'tasks' }),
    });
    cleanups.push(() => runtime.close());
    // Live restore: the sandboxes of tasks still running are kept for the restore to adopt.
    const keepNetworks = new Set(
      config.liveRestore
        ? (await runtime.listTasks())
            .filter(
              (t) =>
                (t.status === 'running' || t.status === 'paused' || t.status === 'pausing') &&
                containerStore.tryGetById(t.id) !== undefined,
            )
            .map((t) => t.id)
        : [],
    );
    const { networks, sandboxes } = await startNetworking(config, db, events, logger, cleanups, containerStore, keepNetworks);
    const containers = new ContainerService({
      store: containerStore,
      images,
      runtime,
      specs,
      events,
      volumes,
      networks,
      sandboxes,
      liveRestore: config.liveRestore,
      logger: logger.child({ component: 'containers' }),
      defaults: {
        dataRoot: config.dataRoot,
        execRoot: config.execRoot,
        shmSize: config.defaultShmSize,
        ipcMode: config.defaultIpcMode,
        cgroupnsMode: config.defaultCgroupnsMode,
        runtime: config.defaultRuntime,
        logDriver: config.logDriver,
        logOpts: config.logOpts,
        // As dockerd: the default bridge's gateway unless --host-gateway-ip says otherwise.
        hostGatewayIp: config.hostGatewayIps[0] ?? networks.tryGet('bridge')?.ipam[0]?.Gateway ?? '',
        dns: config.dns,
        dnsSearch: config.dnsSearch,
        dnsOpts: config.dnsOpts,
        shutdownTimeoutSec: config.shutdownTimeout < 0 ? 3600 : config.shutdownTimeout,
      },
    });
    // Live restore: containers still running use them; the next start finds them mounted.
    if (!config.liveRestore) cleanups.push(() => volumes.close());
    // Before the restore: a container it starts again runs its healthcheck probes as execs.
    const exec = new ExecService({ containers, runtime, ctd, events, logger: logger.child({ component: 'exec' }) });
    cleanups.push(() => exec.close());
    containers.useProbeRunner(new ExecProbeRunner(exec));
    const taskEvents = subscribeTaskEvents(ctd, config.containerdNamespace, (ev) => {
      if (ev.kind === 'oom') containers.noteOom(ev.containerId);
    });
    cleanups.push(() => taskEvents.close());
    await taskEvents.ready;
    await containers.restore();
    // After the restore: every task still in containerd is one we run. Whatever else of ours
    // survives an earlier crash (shims, processes, mounts) goes before the API serves.
    // Containers recorded running count too: an exit the restore adopted may be restarting one
    // (its policy's delay) while the sweep looks.
    const liveTasks = new Set([
      ...(await runtime.listTasks()).map((t) => t.id),
      ...containerStore
        .all()
        .filter((c) => c.state.running)
        .map((c) => c.id),
    ]);
    const staleFifos = await runtime.sweepFifos(new Set(containerStore.all().map((c) => c.id)), liveTasks).catch((err: unknown) => {
      logger.warn({ err }, 'FIFO sweep failed');
      return [];
    });
    if (staleFifos.length > 0) logger.info({ count: staleFifos.length }, 'removed leftover task FIFOs');
    await sweepCrashLeftovers({
      namespace: config.containerdNamespace,
      liveTasks,
      containerdSocket: address.replace(/^unix:\/\//, ''),
      ...(config.containerd
        ? {}
        : { stateDir: path.join(config.execRoot, 'containerd'), containerdRoot: path.join(config.dataRoot, 'containerd') }),
      logger: logger.child({ component: 'crash-sweep' }),
    }).catch((err: unknown) => logger.warn({ err }, 'crash sweep failed'));
    cleanups.push(() => containers.shutdown());

    const statsView = (c: { record: { id: string; name: string }; state: { running: boolean; restarting: boolean } }): StatsContainer => ({
      id: c.record.id,
      name: c.record.name,
      running: c.state.running && !c.state.restarting,
    });
    const statsLogger = logger.child({ component: 'stats' });
    const stats = new StatsService({
      lookup: (input) => statsView(containers.get(input)),
      byId: (id) => {
        const c = containers.tryGetById(id);
        return c && statsView(c);
      },
      metrics: (ids) => runtime.metricsOf(ids),
      procStat: () => fs.promises.readFile('/proc/stat', 'utf8'),
      networks: (ids) => sandboxes.linkStats(ids),
      machineMemory: hostMemoryBytes(),
      clockTicksPerSecond: clockTicksPerSecond(),
      onError: (err, id) => statsLogger.warn({ err, container: id }, 'collecting stats failed'),
    });

    const swarmKit =
      config.clusterStore.length > 0 ? await Promise.all([import('./swarm/wiring.js'), import('./swarm/networks.js')]) : undefined;
    const swarm =
      swarmKit !== undefined
        ? await swarmKit[0].startSwarm(config, logger.child({ component: 'swarm' }), {
            containers,
            events,
            images,
            networks,
            execRoot: config.execRoot,
          })
        : undefined;
    if (swarm) cleanups.push(() => swarm.close());

    const system = new SystemService({
      dataRoot: config.dataRoot,
      id: daemonId,
      containerdVersion: () => ctd.version(),
      runcVersion: async () => {
        const v = await runcVersion();
        return { version: v.version, commit: v.commit };
      },
      initVersion: async () => {
        const v = await tiniVersion();
        return v && { version: v.version, commit: v.commit };
      },
      counts: async () => ({ containers: containers.counts(), images: images.count() }),
      debug: config.debug,
      cgroupDriver: config.cgroupDriver,
      labels: config.labels,
      experimental: config.experimental,
      liveRestore: config.liveRestore,
      defaultRuntime: config.defaultRuntime,
      registryConfig: registryServiceConfig({ mirrors: config.registryMirrors, insecureRegistries: config.insecureRegistries }),
      security: {
        seccompProfile: config.seccompProfile,
        defaultCgroupnsMode: config.defaultCgroupnsMode,
        noNewPrivileges: config.noNewPrivileges,
      },
      eventsListeners: () => events.listenerCount(),
      ...(swarm ? { swarmInfo: () => swarm.info(), swarmStatus: () => swarm.pingStatus() } : {}),
      containerd: { Address: address, Namespaces: { Containers: config.containerdNamespace, Plugins: 'plugins.berth' } },
      logger: logger.child({ component: 'system' }),
    });

    const localNetworks = {
      list: (f: NetworkListFilter, withContainers: boolean) => networks.list(f, withContainers),
      inspect: (id: string, withStatus: boolean) => networks.inspect(id, withStatus),
      create: (req: NetworkCreateRequest) => networks.create(req),
      remove: (id: string) => networks.remove(id),
      prune: (opts: Parameters<NetworkService['prune']>[0]) => networks.prune(opts),
      connect: (net: string, c: string, settings: EndpointSettings | undefined) => containers.connect(net, c, settings),
      disconnect: (net: string, c: string, force: boolean) => containers.disconnect(net, c, force),
    };
    const timed = <T extends object>(target: T, actions: Partial<Record<keyof T, string>>): T =>
      metricsKit && metrics ? metricsKit.timedMethods(target, actions, (a, s) => metrics.observeAction(a, s)) : target;
    // The Engine API and the dashboard act through this one object.
    const apiContainers = timed(withExecIds(containers, exec), {
      create: 'create',
      start: 'start',
      stop: 'stop',
      restart: 'restart',
      kill: 'kill',
      pause: 'pause',
      unpause: 'unpause',
      remove: 'delete',
    });
    const server = createApiServer({
      logger: logger.child({ component: 'api' }),
      backends: {
        system,
        images,
        containers: apiContainers,
        events,
        stats,
        exec: timed(exec, { create: 'exec_create' }),
        containerFiles: timed(containerFilesBackend({ ctd, images, containers, events, hostMounts: (r) => specs.hostMounts(r) }), {
          commit: 'commit',
          changes: 'changes',
        }),
        volumes,
        networks: swarmKit && swarm ? swarmKit[1].swarmAwareNetworks(localNetworks, swarm) : localNetworks,
        diskUsage: new DiskUsageService({ images, containers, volumes }),
        registry: new RegistryService(registry, registryClient),
        build: new BuildService(
          buildDeps({ ctd, containers, images, events, hostMounts: (r) => specs.hostMounts(r), tmpDir: config.tmpDir }),
        ),
        ...(swarmKit && swarm ? { swarm: swarmKit[0].swarmBackend(swarm) } : {}),
      },
      experimental: config.experimental,
      privatePaths: [config.dataRoot, config.execRoot],
      ...(metrics ? { observeRequest: (o: RequestObservation) => metrics.observeRequest(o) } : {}),
    });
    cleanups.push(() => server.close());
    // Runs before server.close: ends the open stats streams so the server need not wait for them.
    cleanups.push(() => stats.close());
    if (metrics && config.metricsAddr) {
      const [{ connectMetrics }, { serveMetrics }] = await Promise.all([import('./metrics/wiring.js'), import('../api/metrics-server.js')]);
      cleanups.push(connectMetrics(metrics, { events, containers: containerStore, samples: (ids, ms) => stats.sampleOnce(ids, ms) }));
      const listener = await serveMetrics(config.metricsAddr, metrics, logger.child({ component: 'metrics' }));
      cleanups.push(() => listener.close());
      logger.info({ address: listener.address }, 'metrics listening');
    }
    if (config.dashboardAddr) {
      const [{ dashboardBackend }, { serveDashboard }] = await Promise.all([
        import('./dashboard/backend.js'),
        import('../api/dashboard-server.js'),
      ]);
      const backend = dashboardBackend({ containers: apiContainers, stats, events });
      const dashboard = await serveDashboard(config.dashboardAddr, backend, logger.child({ component: 'dashboard' }));
      // Runs before stats.close and server.close: ends the page's streams first.
      cleanups.push(() => dashboard.close());
      // Also root-only in the exec root, for a --log-level that hides info and for tools.
      const urlFile = path.join(config.execRoot, 'dashboard.url');
      fs.writeFileSync(urlFile, `${dashboard.url}\n`, { mode: 0o600 });
      cleanups.push(() => fs.rmSync(urlFile, { force: true }));
      logger.info({ address: dashboard.address, url: dashboard.url }, 'dashboard listening');
    }
    await listen(server, config.hosts, { group: config.group });
    logger.info({ hosts: config.hosts, version: engineInfo().version, dataRoot: config.dataRoot }, 'API listening');
    return shutdown;
  } catch (err) {
    await shutdown();
    throw err;
  }
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseDaemonConfig(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`berthd: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (parsed.action === 'help') {
    process.stdout.write(usage());
    return;
  }
  if (parsed.action === 'version') {
    process.stdout.write(`Berth version ${engineInfo().version}, build ${engineInfo().gitCommit}\n`);
    return;
  }
  const { config, warnings } = parsed;
  const logger = pino({ level: config.logLevel === 'panic' ? 'fatal' : config.logLevel, base: { pid: process.pid } });
  for (const w of warnings) logger.warn(w);
  installCrashGuard(logger);
  if (parsed.action === 'validate') {
    process.stdout.write('configuration OK\n');
    return;
  }

  let shutdown: Shutdown;
  try {
    shutdown = await start(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'failed to start daemon');
    process.stderr.write(`berthd: failed to start daemon: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'forced exit');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  process.stderr.write(`berthd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
