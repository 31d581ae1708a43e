// The system service: what GET /info and GET /version report, read from the host and from the
// components Berth drives. Facts that cannot change while the daemon runs (kernel features,
// cgroup layout) are read once; counts, versions and sysctls on every call.

import * as os from 'node:os';
import type { Logger } from 'pino';
import { API_VERSION, MIN_API_VERSION, engineInfo } from './engine';
import { DEFAULT_RUNTIME, STOCK_RUNTIMES } from '../runtimes';
import { formatBuildTime, formatRfc3339Nano } from './format';
import {
  cgroupFeatures,
  goArch,
  isContainerized,
  machineArchitecture,
  memTotal,
  openFileDescriptors,
  readOsRelease,
  readProcBool,
  securityFeatures,
  type CgroupFeatures,
  type SecurityFeatures,
} from './host';
import type { ComponentVersion, ContainerdInfo, PluginsInfo, RegistryServiceConfig, SwarmInfo, SystemInfo, SystemVersion } from './types';

export interface ObjectCounts {
  containers: { running: number; paused: number; stopped: number };
  images: number;
}

export interface ComponentRelease {
  version: string;
  commit: string;
}

export interface SystemServiceDeps {
  /** The data root (DockerRootDir). */
  dataRoot: string;
  /** The daemon's persistent ID. */
  id: string;
  /** Reported host name; the machine's hostname when unset. */
  name?: string;
  containerdVersion(): Promise<{ version: string; revision: string }>;
  runcVersion(): Promise<ComponentRelease>;
  /** The init binary's (tini) release, or undefined when there is none. */
  initVersion(): Promise<ComponentRelease | undefined>;
  counts(): Promise<ObjectCounts>;
  debug: boolean;
  cgroupDriver: 'cgroupfs' | 'systemd';
  labels: string[];
  experimental?: boolean;
  liveRestore?: boolean;
  /** `--default-runtime` (runc when unset). */
  defaultRuntime?: string;
  /** What the daemon applies to containers (SecurityOptions lists only that); dockerd's defaults when unset. */
  security?: Partial<AppliedSecurity>;
  /** The init binary's name, as `docker info` shows it (default docker-init, as dockerd). */
  initBinary?: string;
  /** Registry settings; dockerd's defaults (localhost insecure, docker.io secure) when unset. */
  registryConfig?: RegistryServiceConfig;
  /** Driver lists to report; each defaults to what Berth ships. */
  plugins?: Partial<PluginsInfo>;
  /** Where containerd listens and the namespaces used, when Berth talks to one. */
  containerd?: ContainerdInfo;
  /** The Swarm section (swarm mode on a cluster store); an inactive node's when unset. */
  swarmInfo?(): Promise<SwarmInfo>;
  /** The ping's Swarm header ("inactive" when unset). */
  swarmStatus?(): string;
  /** Current number of /events subscribers. */
  eventsListeners?(): number;
  logger?: Logger;
  /** Filesystem root the host facts are read from (tests only). */
  hostRoot?: string;
}

/** What dockerd answers when a runtime component's version cannot be had. */
const NOT_AVAILABLE = 'N/A';

export function defaultRegistryConfig(): RegistryServiceConfig {
  return {
    // Localhost is insecure by default: a stop-gap dockerd keeps for local registries.
    InsecureRegistryCIDRs: ['::1/128', '127.0.0.0/8'],
    IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true } },
    Mirrors: [],
  };
}

/** dockerd's MaskCredentials: hide the user info of a proxy URL. */
export function maskCredentials(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username === '' && u.password === '') return raw;
    u.username = 'xxxxx';
    u.password = 'xxxxx';
    return u.toString().replace(/\/$/, raw.endsWith('/') ? '/' : '');
  } catch {
    return raw;
  }
}

function envAny(...names: string[]): string {
  for (const n of names) {
    const v = process.env[n];
    if (v) return v;
  }
  return '';
}

export class SystemService {
  private hostFacts: { cgroups: CgroupFeatures; security: SecurityFeatures } | undefined;

  constructor(private readonly deps: SystemServiceDeps) {}

  private get root(): string {
    return this.deps.hostRoot ?? '/';
  }

  private facts(): { cgroups: CgroupFeatures; security: SecurityFeatures } {
    this.hostFacts ??= { cgroups: cgroupFeatures(this.root), security: securityFeatures(this.root) };
    return this.hostFacts;
  }

  private warn(err: unknown, msg: string): void {
    this.deps.logger?.warn({ err }, msg);
  }

  async version(): Promise<SystemVersion> {
    const engine = engineInfo();
    const kernel = os.release();
    const arch = goArch();
    const buildTime = formatBuildTime(engine.buildTime);
    const goVersion = `node${process.versions.node}`;
    const experimental = this.deps.experimental ?? false;
    const components: ComponentVersion[] = [
      {
        Name: 'Engine',
        Version: engine.version,
        Details: {
          ApiVersion: API_VERSION,
          Arch: arch,
          BuildTime: buildTime,
          Experimental: String(experimental),
          GitCommit: engine.gitCommit,
          GoVersion: goVersion,
          KernelVersion: kernel,
          MinAPIVersion: MIN_API_VERSION,
          Os: 'linux',
        },
      },
    ];
    const [containerd, runc, init] = await Promise.allSettled([
      this.deps.containerdVersion(),
      this.deps.runcVersion(),
      this.deps.initVersion(),
    ]);
    if (containerd.status === 'fulfilled') {
      components.push({ Name: 'containerd', Version: containerd.value.version, Details: { GitCommit: containerd.value.revision } });
    } else this.warn(containerd.reason, 'Failed to retrieve containerd version');
    if (runc.status === 'fulfilled') {
      components.push({ Name: 'runc', Version: runc.value.version, Details: { GitCommit: runc.value.commit } });
    } else this.warn(runc.reason, 'Failed to retrieve default runtime version');
    if (init.status === 'fulfilled') {
      if (init.value) components.push({ Name: this.initBinary(), Version: init.value.version, Details: { GitCommit: init.value.commit } });
    } else this.warn(init.reason, 'Failed to retrieve init version');

    const v: SystemVersion = {
      Platform: { Name: 'Berth' },
      Components: components,
      Version: engine.version,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: engine.gitCommit,
      GoVersion: goVersion,
      Os: 'linux',
      Arch: arch,
      KernelVersion: kernel,
      BuildTime: buildTime,
    };
    if (experimental) v.Experimental = true; // omitempty in dockerd
    return v;
  }

  private appliedSecurity(cgroupVersion: '1' | '2'): AppliedSecurity {
    const sec = this.deps.security ?? {};
    return {
      seccompProfile: sec.seccompProfile ?? 'builtin',
      defaultCgroupnsMode: sec.defaultCgroupnsMode ?? (cgroupVersion === '2' ? 'private' : 'host'),
      noNewPrivileges: sec.noNewPrivileges ?? false,
    };
  }

  private initBinary(): string {
    return this.deps.initBinary ?? 'docker-init';
  }

  swarmStatus(): string {
    return this.deps.swarmStatus?.() ?? 'inactive';
  }

  async info(): Promise<SystemInfo> {
    const { cgroups, security } = this.facts();
    const root = this.root;
    const [counts, containerd, runc, init] = await Promise.all([
      this.deps.counts(),
      this.deps.containerdVersion().then(
        (v) => v.revision,
        (err: unknown) => (this.warn(err, 'Failed to retrieve containerd version'), NOT_AVAILABLE),
      ),
      this.deps.runcVersion().then(
        (v) => v.commit,
        (err: unknown) => (this.warn(err, 'Failed to retrieve default runtime version'), NOT_AVAILABLE),
      ),
      this.deps.initVersion().then(
        (v) => (v ? v.commit : NOT_AVAILABLE),
        (err: unknown) => (this.warn(err, 'Failed to retrieve init version'), NOT_AVAILABLE),
      ),
    ]);
    const release = readOsRelease(root);
    const ipv4Forwarding = readProcBool(root, 'proc/sys/net/ipv4/ip_forward');
    const { running, paused, stopped } = counts.containers;

    const info: SystemInfo = {
      ID: this.deps.id,
      Containers: running + paused + stopped,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: stopped,
      Images: counts.images,
      // Image content lives in containerd's overlayfs snapshotter, as with dockerd's
      // containerd image store.
      Driver: 'overlayfs',
      DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']],
      Plugins: {
        Volume: this.deps.plugins?.Volume ?? ['local'],
        Network: this.deps.plugins?.Network ?? ['bridge', 'host', 'null'],
        Authorization: this.deps.plugins?.Authorization ?? null,
        Log: this.deps.plugins?.Log ?? ['json-file'],
      },
      MemoryLimit: cgroups.memoryLimit,
      SwapLimit: cgroups.swapLimit,
      CpuCfsPeriod: cgroups.cpuCfs,
      CpuCfsQuota: cgroups.cpuCfs,
      CPUShares: cgroups.cpuShares,
      CPUSet: cgroups.cpuset,
      PidsLimit: cgroups.pidsLimit,
      IPv4Forwarding: ipv4Forwarding,
      Debug: this.deps.debug,
      NFd: openFileDescriptors(root),
      OomKillDisable: cgroups.oomKillDisable,
      // Node has no goroutines; its live handles and requests are the nearest equivalent.
      NGoroutines: process.getActiveResourcesInfo().length,
      SystemTime: formatRfc3339Nano(new Date()),
      LoggingDriver: 'json-file',
      CgroupDriver: this.deps.cgroupDriver,
      CgroupVersion: cgroups.version,
      NEventsListener: this.deps.eventsListeners?.() ?? 0,
      KernelVersion: os.release(),
      OperatingSystem: release.prettyName + (isContainerized(root) ? ' (containerized)' : ''),
      OSVersion: release.versionId,
      OSType: 'linux',
      Architecture: machineArchitecture(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: this.deps.registryConfig ?? defaultRegistryConfig(),
      NCPU: os.availableParallelism(),
      MemTotal: memTotal(root),
      GenericResources: null,
      DockerRootDir: this.deps.dataRoot,
      HttpProxy: maskCredentials(envAny('HTTP_PROXY', 'http_proxy')),
      HttpsProxy: maskCredentials(envAny('HTTPS_PROXY', 'https_proxy')),
      NoProxy: envAny('NO_PROXY', 'no_proxy'),
      Name: this.deps.name ?? os.hostname(),
      Labels: [...this.deps.labels],
      ExperimentalBuild: this.deps.experimental ?? false,
      ServerVersion: engineInfo().version,
      Runtimes: structuredClone(STOCK_RUNTIMES),
      DefaultRuntime: this.deps.defaultRuntime ?? DEFAULT_RUNTIME,
      Swarm: this.deps.swarmInfo
        ? await this.deps.swarmInfo()
        : { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: this.deps.liveRestore ?? false,
      Isolation: '',
      InitBinary: this.initBinary(),
      ContainerdCommit: { ID: containerd },
      RuncCommit: { ID: runc },
      InitCommit: { ID: init },
      SecurityOptions: securityOptions(security, this.appliedSecurity(cgroups.version)),
      CDISpecDirs: [],
      DiscoveredDevices: [],
      Warnings: null,
    };
    if (this.deps.containerd) info.Containerd = this.deps.containerd;
    const warnings = hostWarnings(cgroups, {
      ipv4Forwarding,
      bridgeNfIptables: readProcBool(root, 'proc/sys/net/bridge/bridge-nf-call-iptables'),
      bridgeNfIp6tables: readProcBool(root, 'proc/sys/net/bridge/bridge-nf-call-ip6tables'),
    });
    info.Warnings = warnings.length > 0 ? warnings : null;
    return info;
  }
}

/** The security settings the daemon applies to the containers it creates. */
export interface AppliedSecurity {
  /** --seccomp-profile: 'builtin', 'unconfined' or a profile's path. */
  seccompProfile: string;
  /** --default-cgroupns-mode. */
  defaultCgroupnsMode: 'host' | 'private';
  noNewPrivileges: boolean;
}

/**
 * dockerd's SecurityOptions, in its order, limited to what is applied: Berth loads no AppArmor
 * profile (dockerd lists apparmor whenever the host has it, because it applies docker-default),
 * and userns, selinux and rootless are refused at start, so none of them is ever listed.
 */
export function securityOptions(host: SecurityFeatures, applied: AppliedSecurity): string[] {
  const out: string[] = [];
  if (host.seccomp) out.push(`name=seccomp,profile=${applied.seccompProfile || 'builtin'}`);
  if (host.cgroupNamespaces && applied.defaultCgroupnsMode === 'private') out.push('name=cgroupns');
  if (applied.noNewPrivileges) out.push('name=no-new-privileges');
  return out;
}

/** The warnings `docker info` prints, with dockerd's texts, for what the host lacks. */
export function hostWarnings(
  cg: CgroupFeatures,
  net: { ipv4Forwarding: boolean; bridgeNfIptables: boolean; bridgeNfIp6tables: boolean },
): string[] {
  const w: string[] = [];
  const v2 = cg.version === '2';
  if (!cg.memoryLimit) w.push('WARNING: No memory limit support');
  if (!cg.swapLimit) w.push('WARNING: No swap limit support');
  if (!cg.oomKillDisable && !v2) w.push('WARNING: No oom kill disable support');
  if (!cg.cpuCfs) w.push('WARNING: No cpu cfs quota support', 'WARNING: No cpu cfs period support');
  if (!cg.cpuShares) w.push('WARNING: No cpu shares support');
  if (!cg.cpuset) w.push('WARNING: No cpuset support');
  // blkio weight is gone from cgroup v1 since kernel 5.0: nothing to act on, so only v2 warns.
  if (!cg.blkioWeight && v2) w.push('WARNING: No io.weight support');
  if (!cg.blkioWeightDevice && v2) w.push('WARNING: No io.weight (per device) support');
  if (!cg.blkioReadBpsDevice) w.push(v2 ? 'WARNING: No io.max (rbps) support' : 'WARNING: No blkio throttle.read_bps_device support');
  if (!cg.blkioWriteBpsDevice) w.push(v2 ? 'WARNING: No io.max (wbps) support' : 'WARNING: No blkio throttle.write_bps_device support');
  if (!cg.blkioReadIOpsDevice) w.push(v2 ? 'WARNING: No io.max (riops) support' : 'WARNING: No blkio throttle.read_iops_device support');
  if (!cg.blkioWriteIOpsDevice) w.push(v2 ? 'WARNING: No io.max (wiops) support' : 'WARNING: No blkio throttle.write_iops_device support');
  if (!v2) {
    w.push(
      'WARNING: Support for cgroup v1 is deprecated and planned to be removed by no later than May 2029 (https://github.com/moby/moby/issues/51111)',
    );
  }
  if (!net.ipv4Forwarding) w.push('WARNING: IPv4 forwarding is disabled');
  if (!net.bridgeNfIptables) w.push('WARNING: bridge-nf-call-iptables is disabled');
  if (!net.bridgeNfIp6tables) w.push('WARNING: bridge-nf-call-ip6tables is disabled');
  return w;
}
