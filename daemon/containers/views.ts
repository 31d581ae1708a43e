// What the container queries answer: inspect (ContainerInspectResponse), list (ContainerSummary)
// and its filters, shaped from a container's record and state.
import { InvalidParameter } from '../../lib/errors';
import type {
  ContainerConfig,
  ContainerInspectResponse,
  ContainerSummary,
  EndpointSettings,
  HostConfig,
  MountPoint,
  NetworkSettings,
  PortSummary,
} from './api-types';
import { statusName, statusText, ZERO_TIME, type Container, type StatusName } from './model';

export function inspectView(
  c: Container,
  extra: {
    graphDriverData: Record<string, string> | null;
    sizeRw?: number;
    sizeRootFs?: number;
    mounts?: MountPoint[];
    networkSettings?: NetworkSettings;
    /** The MAC asked for on the main network: Config.MacAddress, deprecated (api/version-shapes.ts drops it from API 1.52). */
    desiredMacAddress?: string;
  },
): ContainerInspectResponse {
  const r = c.record;
  const s = c.state;
  const everStarted = s.startedAt !== ZERO_TIME || s.error !== '';
  const view: ContainerInspectResponse = {
    Id: r.id,
    Created: r.created,
    Path: r.path,
    Args: r.args,
    State: {
      Status: statusName(s),
      Running: s.running,
      Paused: s.paused,
      Restarting: s.restarting,
      OOMKilled: s.oomKilled,
      Dead: s.dead,
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt,
      FinishedAt: s.finishedAt,
      ...(s.health ? { Health: s.health } : {}),
    },
    Image: r.imageId,
    // dockerd sets these paths when it first starts the container.
    ResolvConfPath: everStarted ? r.resolvConfPath : '',
    HostnamePath: everStarted ? r.hostnamePath : '',
    HostsPath: everStarted ? r.hostsPath : '',
    LogPath: everStarted ? r.logPath : '',
    Name: `/${r.name}`,
    RestartCount: s.restartCount ?? 0,
    Driver: 'overlayfs',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfigView(r.hostConfig),
    GraphDriver: { Name: 'overlayfs', Data: extra.graphDriverData ?? {} },
    Mounts: extra.mounts ?? [],
    Config: configView(r.config),
    NetworkSettings: extra.networkSettings ?? { SandboxID: '', SandboxKey: '', Ports: {}, Networks: {} },
  };
  if (extra.desiredMacAddress && view.Config)
    (view.Config as ContainerConfig & { MacAddress?: string }).MacAddress = extra.desiredMacAddress;
  if (extra.sizeRw !== undefined) view.SizeRw = extra.sizeRw;
  if (extra.sizeRootFs !== undefined) view.SizeRootFs = extra.sizeRootFs;
  return view;
}

/**
 * Config with the fields dockerd always shows (Go struct fields without omitempty) present, and
 * its omitempty ones left out when empty, whatever the client sent.
 */
export function configView(c: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = {
    Hostname: c.Hostname ?? '',
    Domainname: c.Domainname ?? '',
    User: c.User ?? '',
    AttachStdin: c.AttachStdin ?? false,
    AttachStdout: c.AttachStdout ?? false,
    AttachStderr: c.AttachStderr ?? false,
  };
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length > 0) out.ExposedPorts = c.ExposedPorts;
  out.Tty = c.Tty ?? false;
  out.OpenStdin = c.OpenStdin ?? false;
  out.StdinOnce = c.StdinOnce ?? false;
  out.Env = c.Env ?? null;
  out.Cmd = c.Cmd ?? null;
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck;
  if (c.ArgsEscaped) out.ArgsEscaped = true;
  out.Image = c.Image ?? '';
  out.Volumes = c.Volumes && Object.keys(c.Volumes).length > 0 ? c.Volumes : null;
  out.WorkingDir = c.WorkingDir ?? '';
  out.Entrypoint = c.Entrypoint && c.Entrypoint.length > 0 ? c.Entrypoint : null;
  if (c.NetworkDisabled) out.NetworkDisabled = true;
  out.OnBuild = c.OnBuild && c.OnBuild.length > 0 ? c.OnBuild : null;
  out.Labels = c.Labels ?? {};
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  if (c.StopTimeout !== undefined && c.StopTimeout !== null) out.StopTimeout = c.StopTimeout;
  if (c.Shell && c.Shell.length > 0) out.Shell = c.Shell;
  return out;
}

/** dockerd's HostConfig field set, in its order: unset slices and maps are null, numbers 0. */
const HOST_CONFIG_TEMPLATE: Readonly<Record<string, unknown>> = {
  Binds: null,
  ContainerIDFile: '',
  LogConfig: { Type: '', Config: {} },
  NetworkMode: '',
  PortBindings: null,
  RestartPolicy: { Name: '', MaximumRetryCount: 0 },
  AutoRemove: false,
  VolumeDriver: '',
  VolumesFrom: null,
  ConsoleSize: [0, 0],
  CapAdd: null,
  CapDrop: null,
  CgroupnsMode: '',
  Dns: null,
  DnsOptions: null,
  DnsSearch: null,
  ExtraHosts: null,
  GroupAdd: null,
  IpcMode: '',
  Cgroup: '',
  Links: null,
  OomScoreAdj: 0,
  PidMode: '',
  Privileged: false,
  PublishAllPorts: false,
  ReadonlyRootfs: false,
  SecurityOpt: null,
  UTSMode: '',
  UsernsMode: '',
  ShmSize: 0,
  Isolation: '',
  CpuShares: 0,
  Memory: 0,
  NanoCpus: 0,
  CgroupParent: '',
  BlkioWeight: 0,
  BlkioWeightDevice: null,
  BlkioDeviceReadBps: null,
  BlkioDeviceWriteBps: null,
  BlkioDeviceReadIOps: null,
  BlkioDeviceWriteIOps: null,
  CpuPeriod: 0,
  CpuQuota: 0,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
  CpusetCpus: '',
  CpusetMems: '',
  Devices: null,
  DeviceCgroupRules: null,
  DeviceRequests: null,
  MemoryReservation: 0,
  MemorySwap: 0,
  MemorySwappiness: null,
  OomKillDisable: false,
  PidsLimit: null,
  Ulimits: null,
  CpuCount: 0,
  CpuPercent: 0,
  IOMaximumIOps: 0,
  IOMaximumBandwidth: 0,
  MaskedPaths: null,
  ReadonlyPaths: null,
};

/** Fields dockerd leaves out when empty (omitempty). */
const HOST_CONFIG_OMITEMPTY = ['Init', 'Mounts', 'Annotations', 'StorageOpt', 'Tmpfs', 'Sysctls', 'Runtime'] as const;

export function hostConfigView(hc: HostConfig): HostConfig {
  const src = hc as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, def] of Object.entries(HOST_CONFIG_TEMPLATE)) out[k] = src[k] ?? def;
  for (const k of HOST_CONFIG_OMITEMPTY) {
    const v = src[k];
    if (v === undefined || v === null || v === '' || (typeof v === 'object' && Object.keys(v).length === 0)) continue;
    out[k] = v;
  }
  // Anything else the record holds (newer fields) is kept as it is.
  for (const [k, v] of Object.entries(src)) if (!(k in out) && !(HOST_CONFIG_OMITEMPTY as readonly string[]).includes(k)) out[k] = v;
  return out as HostConfig;
}

/** moby's list Command: path and args joined by spaces, an arg holding a space in single quotes (nothing escaped). */
export function commandLine(c: Container): string {
  if (c.record.args.length === 0) return c.record.path;
  return `${c.record.path} ${c.record.args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

export function summaryView(
  c: Container,
  imageShown: string,
  sizes?: { rw: number; rootFs: number },
  mounts: MountPoint[] = [],
  net: { ports: PortSummary[]; networks: Record<string, EndpointSettings> } = { ports: [], networks: {} },
): ContainerSummary {
  const r = c.record;
  const v: ContainerSummary = {
    Id: r.id,
    Names: [`/${r.name}`],
    Image: imageShown,
    ImageID: r.imageId,
    Command: commandLine(c),
    Created: Math.floor(Date.parse(r.created) / 1000),
    Ports: net.ports,
    Labels: r.config.Labels ?? {},
    State: statusName(c.state),
    Status: statusText(c.state),
    HostConfig: { NetworkMode: r.hostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: Object.fromEntries(Object.entries(net.networks).map(([k, e]) => [k, summaryEndpoint(e)])) },
    Mounts: mounts,
    Health: { Status: c.state.health?.Status ?? 'none', FailingStreak: c.state.health?.FailingStreak ?? 0 },
  };
  const annotations = r.hostConfig.Annotations;
  if (annotations && Object.keys(annotations).length > 0 && v.HostConfig) v.HostConfig.Annotations = annotations;
  // Left out when zero (omitempty in moby's Summary).
  if (sizes?.rw) v.SizeRw = sizes.rw;
  if (sizes?.rootFs) v.SizeRootFs = sizes.rootFs;
  return v;
}

/**
 * An endpoint as the list shows it: moby's container view copies only the operational fields
 * and the IPAM addresses; Links, Aliases, DriverOpts and DNSNames are left empty there.
 */
function summaryEndpoint(e: EndpointSettings): EndpointSettings {
  const ipam = e.IPAMConfig;
  const out: Record<string, unknown> = {
    ...e,
    IPAMConfig: ipam ? { IPv4Address: ipam.IPv4Address, IPv6Address: ipam.IPv6Address } : null,
  };
  // Go's encoder writes these nil slices and maps as null.
  for (const k of ['Links', 'Aliases', 'DriverOpts', 'DNSNames']) out[k] = null;
  return out as EndpointSettings;
}

const STATUSES: readonly StatusName[] = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
/** moby's validHealths, in its order (its error text lists them). */
const HEALTH = ['none', 'starting', 'healthy', 'unhealthy'];

/** The list filters, checked and parsed (dockerd's foldFilter). */
export interface ListFilterInput {
  get(key: string): string[];
  has(key: string): boolean;
  match(key: string, value: string): boolean;
  exactMatch(key: string, value: string): boolean;
  matchKVList(key: string, labels: Readonly<Record<string, string>> | undefined): boolean;
}

export interface ListOptions {
  all: boolean;
  limit: number;
  size: boolean;
  filters: ListFilterInput;
}

export function invalidFilterValue(key: string, value: string): InvalidParameter {
  return new InvalidParameter(`invalid filter '${key}=${value}'`);
}

export interface ListPlan {
  all: boolean;
  exited: number[];
  before?: string;
  since?: string;
  isTask?: boolean;
}

export function planList(opts: ListOptions, resolveId: (input: string) => string): ListPlan {
  const f = opts.filters;
  let all = opts.all;
  for (const v of f.get('status')) {
    if (!STATUSES.includes(v as StatusName)) throw invalidFilterValue('status', v);
    all = true;
  }
  const exited: number[] = [];
  for (const v of f.get('exited')) {
    if (!/^-?\d+$/.test(v)) throw invalidFilterValue('exited', v);
    exited.push(Number(v));
  }
  if (exited.length > 0) all = true;
  for (const v of f.get('health')) {
    if (!HEALTH.includes(v)) {
      throw new InvalidParameter(`invalid filter 'health=${v}': invalid value for health (${v}): must be one of ${HEALTH.join(', ')}`);
    }
  }
  let isTask: boolean | undefined;
  if (f.has('is-task')) {
    if (f.exactMatch('is-task', 'true')) isTask = true;
    else if (f.exactMatch('is-task', 'false')) isTask = false;
    else throw invalidFilterValue('is-task', f.get('is-task').join(','));
  }
  const before = f.get('before').map(resolveId).pop();
  const since = f.get('since').map(resolveId).pop();
  return { all, exited, before, since, isTask };
}

/**
 * Applies the filters to containers sorted newest first, in dockerd's order (before/since act as
 * cursors over that order; limit counts what was included).
 */
export function filterContainers(
  sorted: Container[],
  opts: ListOptions,
  plan: ListPlan,
  ancestorMatch: (c: Container) => boolean,
  net?: { networks: (c: Container) => string[]; published: (c: Container) => PortSummary[] },
): Container[] {
  const f = opts.filters;
  const out: Container[] = [];
  let before = plan.before;
  for (const c of sorted) {
    const running = c.state.running;
    if (!running && !plan.all && opts.limit <= 0 && before === undefined && plan.since === undefined) continue;
    if (!f.match('name', `/${c.record.name}`) && !f.match('name', c.record.name)) continue;
    if (!f.match('id', c.record.id)) continue;
    if (plan.isTask === true) continue; // no swarm tasks here
    if (opts.limit > 0 && out.length === opts.limit) break;
    if (before !== undefined) {
      if (c.record.id === before) before = undefined;
      continue;
    }
    if (plan.since !== undefined && c.record.id === plan.since) break;
    if (!f.matchKVList('label', c.record.config.Labels ?? {})) continue;
    if (plan.exited.length > 0) {
      const ok = !running && c.state.startedAt !== '0001-01-01T00:00:00Z' && plan.exited.includes(c.state.exitCode);
      if (!ok) continue;
    }
    if (!f.match('status', statusName(c.state))) continue;
    if (f.has('health')) {
      const h = c.state.health?.Status ?? 'none';
      if (!f.exactMatch('health', h)) continue;
    }
    if (f.has('ancestor') && !ancestorMatch(c)) continue;
    if (f.has('volume')) {
      // dockerd: a volume's name, a bind's source, or any mount's destination.
      const keys = new Set((c.record.mounts ?? []).flatMap((m) => [m.source, m.destination]).filter((k) => k !== ''));
      if (!f.get('volume').some((v) => keys.has(v))) continue;
    }
    if (f.has('network') && net) {
      // dockerd: a network's name or full ID, as the container is configured.
      const names = new Set(net.networks(c));
      if (!f.get('network').some((n) => names.has(n))) continue;
    }
    if (f.has('publish') && net) {
      const published = net.published(c).filter((p) => p.PublicPort !== undefined);
      if (!f.get('publish').some((want) => publishMatches(want, published))) continue;
    }
    if (f.has('expose')) {
      // dockerd matches the ports the list shows, and a container without its own network
      // stack (none, host, container:<id>) shows none.
      const mode = c.record.hostConfig.NetworkMode ?? 'default';
      const ownStack = mode !== 'none' && mode !== 'host' && !mode.startsWith('container:');
      const exposed = ownStack ? Object.keys(c.record.config.ExposedPorts ?? {}) : [];
      const wanted = f.get('expose').map((p) => (p.includes('/') ? p : `${p}/tcp`));
      if (!wanted.some((w) => exposed.includes(w))) continue;
    }
    out.push(c);
  }
  return out;
}

/**
 * dockerd's `publish` filter: "80", "80/udp" or "8000-8080/tcp" against the published host
 * ports (dockerd 20.10 matches the public side of each mapping).
 */
export function publishMatches(want: string, published: PortSummary[]): boolean {
  const [range, proto = 'tcp'] = want.split('/');
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(range);
  if (!m) throw new InvalidParameter(`invalid port specification: "${want}"`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return published.some((p) => p.Type === proto && (p.PublicPort ?? 0) >= lo && (p.PublicPort ?? 0) <= hi);
}
