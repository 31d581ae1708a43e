// Every response body's shape per API version, in one place (and, at the end, what a create
// request from an older client means and what the daemon must be asked for). The daemon answers
// in the newest shape (API 1.53); the rules below turn that body into the one a client speaking an
// older version expects, as moby's routers do with their compat wrappers: fields added later are
// taken out, fields dropped or emptied later are put back with the values moby gives them.
//
// Sources: moby's API version history (api/docs/CHANGELOG.md) and its routers
// (daemon/server/router/{container,image,network,system}); checked at 1.24 and 1.41 field by
// field against dockerd 20.10 (test/integration/api-version-shapes.test.ts). Where current moby
// keeps a field that came later for every version (DNSNames, GwPriority, EnableIPv4, CDISpecDirs)
// these rules follow the spec of the version asked for and dockerd of that time, which leave it out
// (docs/divergence.md, "API versions").
//
// A rule with `before: X` applies to versions older than X; one with `from: X` to X and newer
// (the deprecated facts the daemon still hands over, dropped from X on).
import { InvalidParameter } from '../lib/errors';
import { versionLessThan } from './version';

type Json = Record<string, unknown>;

interface Rule {
  /** Applies to versions older than this one. */
  before?: string;
  /** Applies to this version and newer ones. */
  from?: string;
  /** What changed at that version, in the version history's words. */
  change: string;
  apply(body: Json): void;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const objectAt = (o: Json, key: string): Json | undefined => (isObject(o[key]) ? o[key] : undefined);

function applies(r: Rule, version: string): boolean {
  if (r.before !== undefined && !versionLessThan(version, r.before)) return false;
  if (r.from !== undefined && versionLessThan(version, r.from)) return false;
  return true;
}

/**
 * A copy of a JSON body: plain objects and arrays copied all the way down, anything else (numbers,
 * bigints, strings, and objects of other classes, which no rule changes) shared. A fifth of
 * structuredClone's time on a container summary, which matters for a list of 1,000.
 */
function jsonCopy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(jsonCopy) as T;
  if (typeof v !== 'object' || v === null) return v;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) out[k] = jsonCopy(x);
  return out as T;
}

/** Shapes bodies for `version`: the rules that apply are picked once (a whole list shares them). */
function shaper(rules: readonly Rule[], version: string): <T>(body: T) => T {
  const active = rules.filter((r) => applies(r, version));
  return <T>(body: T): T => {
    if (active.length === 0 || !isObject(body)) return body;
    // The daemon's views may share nested objects with its records: never changed in place.
    const out = jsonCopy(body) as Json;
    for (const r of active) r.apply(out);
    return out as T;
  };
}

/** A copy of `body` shaped for `version` (the body itself when no rule applies). */
function shape<T>(rules: readonly Rule[], body: T, version: string): T {
  return shaper(rules, version)(body);
}

/** Each endpoint of NetworkSettings.Networks. */
function endpoints(body: Json): Json[] {
  const nets = objectAt(objectAt(body, 'NetworkSettings') ?? {}, 'Networks') ?? {};
  return Object.values(nets).filter(isObject);
}

function deleteEach(objects: Json[], key: string): void {
  for (const o of objects) delete o[key];
}

/** Sets `key` only where the body has none (moby's compat.WithExtraFields is additive). */
function addMissing(o: Json, fields: Json): void {
  for (const [k, v] of Object.entries(fields)) if (!(k in o) || o[k] === null || o[k] === undefined) o[k] = v;
}

const isUserDefinedNetwork = (name: string): boolean =>
  !['default', 'bridge', 'host', 'none'].includes(name) && !name.startsWith('container:');

// ---------------------------------------------------------------- containers

const DNS_NAMES: Rule = {
  before: '1.44',
  change: '1.44: endpoints gained DNSNames',
  apply: (b) => deleteEach(endpoints(b), 'DNSNames'),
};
const GW_PRIORITY: Rule = {
  before: '1.48',
  change: '1.48: endpoints gained GwPriority',
  apply: (b) => deleteEach(endpoints(b), 'GwPriority'),
};
const IMAGE_MANIFEST_DESCRIPTOR: Rule = {
  before: '1.48',
  change: '1.48: ImageManifestDescriptor',
  apply: (b) => delete b.ImageManifestDescriptor,
};

/** The default bridge's endpoint, repeated at the top of NetworkSettings before 1.52. */
function legacyNetworkSettings(b: Json): void {
  const ns = objectAt(b, 'NetworkSettings');
  if (!ns) return;
  const bridge = objectAt(objectAt(ns, 'Networks') ?? {}, 'bridge') ?? {};
  const str = (k: string): unknown => (typeof bridge[k] === 'string' ? bridge[k] : '');
  const num = (k: string): unknown => (typeof bridge[k] === 'number' ? bridge[k] : 0);
  const { Networks, ...rest } = ns;
  // In dockerd 20.10's order (NetworkSettingsBase, then DefaultNetworkSettings, then Networks).
  b.NetworkSettings = {
    Bridge: '',
    SandboxID: rest.SandboxID ?? '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: rest.Ports ?? {},
    SandboxKey: rest.SandboxKey ?? '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    ...rest,
    EndpointID: str('EndpointID'),
    Gateway: str('Gateway'),
    GlobalIPv6Address: str('GlobalIPv6Address'),
    GlobalIPv6PrefixLen: num('GlobalIPv6PrefixLen'),
    IPAddress: str('IPAddress'),
    IPPrefixLen: num('IPPrefixLen'),
    IPv6Gateway: str('IPv6Gateway'),
    MacAddress: str('MacAddress'),
    Networks,
  };
}

const CONTAINER_INSPECT: readonly Rule[] = [
  {
    before: '1.42',
    change: '1.42: HostConfig.KernelMemory and KernelMemoryTCP omitted when not set',
    apply: (b) => {
      const hc = objectAt(b, 'HostConfig');
      if (hc) addMissing(hc, { KernelMemory: 0, KernelMemoryTCP: 0 });
    },
  },
  DNS_NAMES,
  {
    before: '1.45',
    change: '1.45: Aliases no longer hold the short container ID (and the hostname)',
    apply: (b) => {
      const shortId = typeof b.Id === 'string' ? b.Id.slice(0, 12) : '';
      const hostname = objectAt(b, 'Config')?.Hostname;
      const nets = objectAt(objectAt(b, 'NetworkSettings') ?? {}, 'Networks') ?? {};
      for (const [name, ep] of Object.entries(nets)) {
        if (!isUserDefinedNetwork(name) || !isObject(ep)) continue;
        const aliases = Array.isArray(ep.Aliases) ? (ep.Aliases as unknown[]) : [];
        ep.Aliases = [...new Set([...aliases, shortId, typeof hostname === 'string' ? hostname : ''])];
      }
    },
  },
  GW_PRIORITY,
  IMAGE_MANIFEST_DESCRIPTOR,
  {
    before: '1.52',
    change: "1.52: NetworkSettings' deprecated top-level fields (the default bridge's endpoint) removed",
    apply: legacyNetworkSettings,
  },
  {
    from: '1.52',
    change: '1.52: the container-wide Config.MacAddress is gone (the endpoint settings hold it)',
    apply: (b) => {
      const config = objectAt(b, 'Config');
      if (config) delete config.MacAddress;
    },
  },
];

const CONTAINER_SUMMARY: readonly Rule[] = [
  DNS_NAMES,
  {
    before: '1.46',
    change: '1.46: HostConfig.Annotations in the list',
    apply: (b) => {
      const hc = objectAt(b, 'HostConfig');
      if (hc) delete hc.Annotations;
    },
  },
  GW_PRIORITY,
  IMAGE_MANIFEST_DESCRIPTOR,
  { before: '1.52', change: '1.52: Health in the list', apply: (b) => delete b.Health },
];

// ---------------------------------------------------------------- images

/** container.Config's fields in Go's order, as dockerd 20.10 writes an image's (empty) config. */
const EMPTY_CONTAINER_CONFIG: Json = {
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: null,
  Image: '',
  Volumes: null,
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: null,
};

/** The image Config fields moby still wrote for 1.50 and 1.51 although unset (moby#50134). */
const CONFIG_KEPT_TO_151 = ['Cmd', 'Entrypoint', 'Env', 'Labels', 'OnBuild', 'User', 'Volumes', 'WorkingDir'];

/** Puts back `keys` of the empty config where unset, in container.Config's order. */
function restoreConfigFields(b: Json, keys: readonly string[]): void {
  const config = objectAt(b, 'Config') ?? {};
  const out: Json = {};
  for (const [k, v] of Object.entries(EMPTY_CONTAINER_CONFIG)) {
    if (k in config) out[k] = config[k];
    else if (keys.includes(k)) out[k] = v;
  }
  for (const [k, v] of Object.entries(config)) if (!(k in out)) out[k] = v;
  b.Config = out;
}

const IMAGE_INSPECT: readonly Rule[] = [
  {
    before: '1.44',
    change: '1.44: VirtualSize removed; Created omitted when the config has none (was the zero time)',
    apply: (b) => {
      b.VirtualSize = b.Size;
      if (b.Created === undefined || b.Created === '') b.Created = '0001-01-01T00:00:00Z';
    },
  },
  {
    before: '1.45',
    change: '1.45: Container and ContainerConfig removed',
    apply: (b) => addMissing(b, { Container: '', ContainerConfig: { ...EMPTY_CONTAINER_CONFIG } }),
  },
  { before: '1.48', change: '1.48: Descriptor', apply: (b) => delete b.Descriptor },
  {
    before: '1.50',
    change: "1.50: Config's container-only fields (Hostname, Attach*, Tty, Image…) removed",
    apply: (b) => restoreConfigFields(b, Object.keys(EMPTY_CONTAINER_CONFIG)),
  },
  {
    before: '1.52',
    change: '1.52: unset Config fields (Cmd, Entrypoint, Env, Labels, OnBuild, User, Volumes, WorkingDir) omitted',
    apply: (b) => restoreConfigFields(b, CONFIG_KEPT_TO_151),
  },
  {
    from: '1.52',
    change: '1.52: Parent, Comment, DockerVersion and Author omitted when empty',
    apply: (b) => {
      for (const k of ['Parent', 'Comment', 'DockerVersion', 'Author']) if (b[k] === '' || b[k] === undefined) delete b[k];
    },
  },
];

/** An image as listed, by `GET /images/json` and in `GET /system/df`. */
const IMAGE_ITEM: readonly Rule[] = [
  {
    before: '1.43',
    change: '1.43: RepoTags and RepoDigests empty arrays (were null, or the <none> placeholders)',
    apply: (b) => {
      for (const k of ['RepoTags', 'RepoDigests']) if (Array.isArray(b[k]) && (b[k] as unknown[]).length === 0) b[k] = null;
    },
  },
  { before: '1.44', change: '1.44: VirtualSize removed', apply: (b) => (b.VirtualSize = b.Size) },
  { before: '1.48', change: '1.48: Descriptor', apply: (b) => delete b.Descriptor },
];

/** `GET /images/json` (df counts the containers at every version). */
const IMAGE_SUMMARY: readonly Rule[] = [
  ...IMAGE_ITEM,
  { before: '1.51', change: '1.51: Containers counts the containers (was -1)', apply: (b) => (b.Containers = -1) },
];

// ---------------------------------------------------------------- networks

const NETWORK: readonly Rule[] = [
  { before: '1.48', change: '1.48: EnableIPv4', apply: (b) => delete b.EnableIPv4 },
  { before: '1.52', change: '1.52: Status (IPAM allocations)', apply: (b) => delete b.Status },
];

// ---------------------------------------------------------------- system

const INFO: readonly Rule[] = [
  {
    before: '1.25',
    change: '1.24 still carried ExecutionDriver (dockerd 20.10 answers "<not supported>")',
    apply: (b) => (b.ExecutionDriver = '<not supported>'),
  },
  {
    before: '1.42',
    change: '1.42: KernelMemory and KernelMemoryTCP omitted when unsupported (false before)',
    apply: (b) => addMissing(b, { KernelMemory: false, KernelMemoryTCP: false }),
  },
  {
    before: '1.44',
    change: '1.44: CDISpecDirs; Runtimes gained status',
    apply: (b) => {
      delete b.CDISpecDirs;
      const runtimes = objectAt(b, 'Runtimes') ?? {};
      for (const rt of Object.values(runtimes)) if (isObject(rt)) delete rt.status;
    },
  },
  { before: '1.46', change: '1.46: Containerd', apply: (b) => delete b.Containerd },
  {
    before: '1.47',
    change: '1.47: RegistryConfig.AllowNondistributableArtifacts* omitted',
    apply: (b) => {
      const rc = objectAt(b, 'RegistryConfig');
      if (rc) b.RegistryConfig = { AllowNondistributableArtifactsCIDRs: null, AllowNondistributableArtifactsHostnames: null, ...rc };
    },
  },
  {
    before: '1.49',
    change: '1.49: FirewallBackend; the *Commit.Expected fields omitted',
    apply: (b) => {
      delete b.FirewallBackend;
      // Older clients compare these to flag a mismatch; equal means "as expected".
      for (const k of ['ContainerdCommit', 'RuncCommit', 'InitCommit']) {
        const c = objectAt(b, k);
        if (c) c.Expected = c.ID;
      }
    },
  },
  {
    before: '1.50',
    change: '1.50: DiscoveredDevices; BridgeNfIptables and BridgeNfIp6tables omitted (always false since 1.48)',
    apply: (b) => {
      delete b.DiscoveredDevices;
      b.BridgeNfIptables = false;
      b.BridgeNfIp6tables = false;
    },
  },
  { before: '1.53', change: '1.53: NRI', apply: (b) => delete b.NRI },
];

const DISK_USAGE_LEGACY: readonly Rule[] = [
  { before: '1.42', change: '1.42: BuilderSize removed', apply: (b) => addMissing(b, { BuilderSize: 0 }) },
];

// ---------------------------------------------------------------- events

const EVENT: readonly Rule[] = [
  {
    before: '1.52',
    change: '1.52: the deprecated status, id and from of container and image events removed',
    apply: (b) => {
      if (b.Type !== 'container' && b.Type !== 'image') return;
      const actor = objectAt(b, 'Actor') ?? {};
      const attrs = objectAt(actor, 'Attributes') ?? {};
      const legacy: Json = {};
      // Left out when empty, as dockerd 20.10 does.
      if (b.Action !== '') legacy.status = b.Action;
      if (actor.ID !== '') legacy.id = actor.ID;
      const from = b.Type === 'container' ? attrs.image : undefined;
      if (typeof from === 'string' && from !== '') legacy.from = from;
      // First in the object, where dockerd 20.10 writes them.
      const rest = { ...b };
      for (const k of Object.keys(b)) delete b[k];
      Object.assign(b, legacy, rest);
    },
  },
];

// ---------------------------------------------------------------- the shapes, by body

export const shapes = {
  containerInspect: <T>(body: T, version: string): T => shape(CONTAINER_INSPECT, body, version),
  containerList: <T>(list: T[], version: string): T[] => list.map(shaper(CONTAINER_SUMMARY, version)),
  imageInspect: <T>(body: T, version: string): T => shape(IMAGE_INSPECT, body, version),
  imageList: <T>(list: T[], version: string): T[] => list.map(shaper(IMAGE_SUMMARY, version)),
  network: <T>(body: T, version: string): T => shape(NETWORK, body, version),
  networkList: <T>(list: T[], version: string): T[] => list.map(shaper(NETWORK, version)),
  info: <T>(body: T, version: string): T => shape(INFO, body, version),
  event: <T>(body: T, version: string): T => shape(EVENT, body, version),
  /** The legacy body of `GET /system/df` (before 1.52, and beside the new fields at 1.52+). */
  diskUsageLegacy(body: Json, version: string): Json {
    const out = shape(DISK_USAGE_LEGACY, body, version);
    if (Array.isArray(out.Images)) out.Images = (out.Images as Json[]).map(shaper(IMAGE_ITEM, version));
    if (Array.isArray(out.Containers)) out.Containers = shapes.containerList(out.Containers as Json[], version);
    return out;
  },
};

// ---------------------------------------------------------------- requests

const mountsOf = (hostConfig: Json): Json[] => (Array.isArray(hostConfig.Mounts) ? (hostConfig.Mounts as unknown[]).filter(isObject) : []);

/**
 * A container create request as a client at `version` means it (moby's postContainersCreate):
 * fields that came later are ignored or refused, defaults that changed keep the old ones. Changes
 * the parsed request in place; throws InvalidParameter with moby's texts.
 */
export function containerCreateAt(
  req: { config: Json; hostConfig: Json; networkingConfig: Json | null; platform: string },
  version: string,
): void {
  const { config, hostConfig, networkingConfig } = req;
  const mounts = mountsOf(hostConfig);
  const endpoints = isObject(networkingConfig?.EndpointsConfig) ? (networkingConfig.EndpointsConfig as Json) : {};
  const before = (v: string): boolean => versionLessThan(version, v);
  if (before('1.40')) {
    for (const m of mounts) if (isObject(m.BindOptions)) delete m.BindOptions.NonRecursive;
    // Older clients expect shareable as the default IPC mode.
    if (!hostConfig.IpcMode) hostConfig.IpcMode = 'shareable';
  }
  // The platform parameter came with 1.41.
  if (before('1.41')) req.platform = '';
  if (before('1.42')) {
    for (const m of mounts) {
      if (isObject(m.BindOptions)) delete m.BindOptions.CreateMountpoint;
      // Invalid, but not refused before 1.42: reset so that validation lets them through.
      if (m.VolumeOptions !== undefined && m.Type !== 'volume') delete m.VolumeOptions;
      if (m.TmpfsOptions !== undefined && m.Type !== 'tmpfs') delete m.TmpfsOptions;
    }
    hostConfig.ConsoleSize = [0, 0];
  }
  if (before('1.43')) delete hostConfig.Annotations;
  if (before('1.44')) {
    if (isObject(config.Healthcheck)) delete config.Healthcheck.StartInterval;
    for (const m of mounts) {
      if (m.Type === 'bind' && isObject(m.BindOptions) && m.BindOptions.ReadOnlyForceRecursive === true)
        throw new InvalidParameter('BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer');
    }
    const names = Object.keys(endpoints);
    if (names.length > 1) throw new InvalidParameter(`Container cannot be created with multiple network endpoints: ${names.join(', ')}`);
  }
  if (before('1.45')) {
    for (const m of mounts) {
      if (isObject(m.VolumeOptions) && typeof m.VolumeOptions.Subpath === 'string' && m.VolumeOptions.Subpath !== '')
        throw new InvalidParameter('VolumeOptions.Subpath needs API v1.45 or newer');
    }
  }
  if (before('1.48')) {
    // All endpoints had the same priority.
    for (const ep of Object.values(endpoints)) if (isObject(ep)) ep.GwPriority = 0;
    for (const m of mounts) if (m.Type === 'image') throw new InvalidParameter('Mount type "Image" needs API v1.48 or newer');
  }
  // The container-wide MAC address is read only from clients before 1.52.
  if (!before('1.52')) delete config.MacAddress;
}

/** What the daemon must be asked for, by version (request options moby's routers derive the same way). */
export const versionAsks = {
  /** Before 1.43 untagged images are listed with `<none>` placeholders. */
  imagePlaceholders: (version: string): boolean => versionLessThan(version, '1.43'),
  /** Before 1.28 the network list carried each network's containers, as inspect does. */
  networkListContainers: (version: string): boolean => versionLessThan(version, '1.28'),
  /** 1.52 added the IPAM allocation Status to network inspect. */
  networkStatus: (version: string): boolean => !versionLessThan(version, '1.52'),
  /** 1.46 added image `create` events; older clients do not see them. */
  imageCreateEvents: (version: string): boolean => !versionLessThan(version, '1.46'),
  /** 1.52 split `GET /system/df` into per-type usage objects. */
  diskUsageByType: (version: string): boolean => !versionLessThan(version, '1.52'),
  /** 1.42 added `GET /system/df`'s `type` filter. */
  diskUsageTypeFilter: (version: string): boolean => !versionLessThan(version, '1.42'),
};
