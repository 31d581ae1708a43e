// `docker create`'s planning: the request's settings with the daemon's defaults, checked as
// dockerd checks them, merged with the image, with mounts, name, hostname and networks decided,
// as the record the store keeps. Nothing is created here but, at each start, the etc files.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidParameter, NotFound } from '../../lib/errors';
import { DEFAULT_READONLY_PATHS, hostSpecFacts } from '../../runtime/spec-host';
import type { ImageService } from '../images/service';
import { resolveImage } from '../images/lookup';
import { validateLogOpts } from '../logs/format';
import { checkNetworkModeConflicts } from '../networks/endpoint-plan';
import { validatePortSpec } from '../networks/port-bindings';
import { checkRuntimeName } from '../runtimes';
import type { ContainerConfig, HostConfig, NetworkingConfig } from './api-types';
import { writeEtcFiles } from './etc-files';
import { nowRfc3339Nano, type Container, type ContainerRecord } from './model';
import { planMounts } from './mounts';
import { generateName, validateName } from './names';
import { portSpecOf, type ContainerNetworking } from './networking';
import { entrypointAndArgs, mergeWithImage, verifySettings, withHostDefaults } from './settings';
import type { SpecFactory } from './spec-factory';
import type { ContainerStore } from './store';

export interface ContainerDefaults {
  dataRoot: string;
  execRoot: string;
  shmSize: number;
  ipcMode: string;
  cgroupnsMode: 'host' | 'private';
  /** `--default-runtime`: HostConfig.Runtime when a create leaves it empty. */
  runtime: string;
  logDriver: string;
  logOpts: Record<string, string>;
  hostGatewayIp: string;
  dns: string[];
  dnsSearch: string[];
  dnsOpts: string[];
  shutdownTimeoutSec: number;
}

export interface CreateRequest {
  name: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig: NetworkingConfig | null;
  /** A build step on `FROM scratch`: no image, an empty root (never set from the API). */
  scratch?: boolean;
}

export interface CreateContext {
  store: ContainerStore;
  images: ImageService;
  specs: SpecFactory;
  net: ContainerNetworking;
  defaults: ContainerDefaults;
}

/** <data-root>/containers: one directory per container. */
export function containersRoot(defaults: ContainerDefaults): string {
  return path.join(defaults.dataRoot, 'containers');
}

/** <data-root>/containers/<id>: the log, the /etc files. */
export function containerDir(defaults: ContainerDefaults, id: string): string {
  return path.join(containersRoot(defaults), id);
}

/** The record of a new container, and the warnings create answers with. */
export function planCreate(ctx: CreateContext, req: CreateRequest): { record: ContainerRecord; warnings: string[] } {
  const { defaults, images, net } = ctx;
  const config: ContainerConfig = { ...req.config };
  const hostConfig = withHostDefaults(req.hostConfig, {
    shmSize: defaults.shmSize,
    ipcMode: defaults.ipcMode,
    cgroupnsMode: defaults.cgroupnsMode,
    runtime: defaults.runtime,
    maskedPaths: hostSpecFacts().maskedPaths,
    readonlyPaths: DEFAULT_READONLY_PATHS,
  });
  if (!hostConfig.LogConfig?.Type || (req.hostConfig.LogConfig?.Type ?? '') === '') {
    hostConfig.LogConfig = {
      Type: defaults.logDriver as 'json-file',
      Config: { ...defaults.logOpts, ...(req.hostConfig.LogConfig?.Config ?? {}) },
    };
  }
  const warnings = verifySettings(config, hostConfig);
  checkRuntimeName(req.hostConfig.Runtime);
  checkNetworkModeConflicts(req.config, hostConfig);
  validateLogOpts(hostConfig.LogConfig?.Type ?? 'json-file', hostConfig.LogConfig?.Config ?? {});
  warnings.push(...ctx.specs.validate(config, hostConfig));

  shareNamespacesById(ctx.store, hostConfig);
  if (!config.Image && !req.scratch) throw new InvalidParameter('Config.Image must be set'); // dockerd: no image given
  const image = req.scratch ? undefined : resolveImage(images.repo, config.Image ?? '').image;
  mergeWithImage(config, image ? images.config(image).config : undefined);
  const { path: procPath, args } = entrypointAndArgs(config);
  const plan = planMounts(hostConfig, Object.keys(config.Volumes ?? {}), (other) => otherContainer(ctx.store, other).record.mounts ?? []);
  for (const m of plan) {
    if (m.type !== 'image') continue;
    const img = resolveImage(images.repo, m.source).image;
    const imgLayers = images.repo.layers(img.id);
    m.imageId = img.id;
    m.imageChain = imgLayers.length > 0 ? imgLayers[imgLayers.length - 1].chainId : '';
  }

  const id = randomBytes(32).toString('hex');
  const name = req.name ? validateName(req.name) : generateName((n) => ctx.store.nameTaken(n));
  if (!config.Hostname) config.Hostname = hostConfig.NetworkMode === 'host' ? os.hostname() : id.slice(0, 12);
  const netMode = hostConfig.NetworkMode || 'default';
  if (netMode.startsWith('container:')) {
    // Stored as the other container's full ID (an unknown one is reported at start, as dockerd does).
    const other = ctx.store.tryGet(netMode.slice('container:'.length));
    if (other) hostConfig.NetworkMode = `container:${other.record.id}`;
  }
  const endpoints = net.plan(hostConfig, req.networkingConfig, (config as { MacAddress?: string }).MacAddress ?? '');
  if ((hostConfig.Links ?? []).length > 0) hostConfig.Links = net.legacyLinks(hostConfig.Links ?? [], name);
  validatePortSpec(portSpecOf(config, hostConfig));
  if (netMode === 'host' && Object.keys(hostConfig.PortBindings ?? {}).length > 0) {
    warnings.push('Published ports are discarded when using host network mode');
    hostConfig.PortBindings = {};
  }

  const dir = containerDir(defaults, id);
  const layers = image ? images.repo.layers(image.id) : [];
  const record: ContainerRecord = {
    id,
    name,
    created: nowRfc3339Nano(),
    path: procPath,
    args,
    config,
    hostConfig,
    networkingConfig: req.networkingConfig,
    imageId: image?.id ?? '',
    snapshotParent: layers.length > 0 ? layers[layers.length - 1].chainId : '',
    logPath: hostConfig.LogConfig?.Type === 'none' ? '' : path.join(dir, `${id}-json.log`),
    resolvConfPath: path.join(dir, 'resolv.conf'),
    hostnamePath: path.join(dir, 'hostname'),
    hostsPath: path.join(dir, 'hosts'),
    mounts: plan,
    networks: endpoints,
  };
  return { record, warnings };
}

/**
 * Another container named by this one's settings. Unknown, it is a bad parameter (400), never a
 * 404: the CLI reads a 404 from create as a missing image and goes to pull it (moby#39823).
 */
export function otherContainer(store: ContainerStore, name: string): Container {
  try {
    return store.get(name);
  } catch (err) {
    if (err instanceof NotFound) throw new InvalidParameter(err.message);
    throw err;
  }
}

/**
 * `container:<name>` PID and IPC modes, stored by the other container's ID (so a rename keeps the
 * sharing, as moby's adaptSharedNamespaceContainer does). An unknown one is refused at create,
 * except where moby skips its SELinux label lookup (host PID/IPC, privileged, an explicit label).
 */
function shareNamespacesById(store: ContainerStore, host: HostConfig): void {
  const labelled = (host.SecurityOpt ?? []).some((o) => o.split('=')[0] === 'label');
  const lenient = host.IpcMode === 'host' || host.PidMode === 'host' || host.Privileged === true || labelled;
  for (const key of ['PidMode', 'IpcMode'] as const) {
    const mode = host[key];
    if (!mode?.startsWith('container:')) continue;
    const name = mode.slice('container:'.length);
    const other = lenient ? store.tryGet(name) : otherContainer(store, name);
    if (other) host[key] = `container:${other.record.id}`;
  }
}

/** Writes the container's hostname, hosts and resolv.conf (again at each start, with its addresses). */
export function writeContainerEtc(
  ctx: Pick<CreateContext, 'net' | 'defaults'>,
  c: Container,
  net: { addresses: string[]; nameserver: string | null } = { addresses: [], nameserver: null },
): void {
  const hc = c.record.hostConfig;
  const d = ctx.defaults;
  const dir = containerDir(d, c.record.id);
  // Made again when missing (a record from before create made it first, cut by a crash): the
  // start then works instead of failing on its own files.
  fs.mkdirSync(dir, { recursive: true, mode: 0o710 });
  writeEtcFiles(dir, {
    hostname: c.record.config.Hostname ?? '',
    domainname: c.record.config.Domainname ?? '',
    addresses: net.addresses,
    embeddedDns: net.nameserver,
    links: ctx.net.legacyLinkHosts(c),
    extraHosts: hc.ExtraHosts ?? [],
    hostGatewayIp: d.hostGatewayIp,
    dns: hc.Dns?.length ? hc.Dns : d.dns,
    dnsSearch: hc.DnsSearch?.length ? hc.DnsSearch : d.dnsSearch,
    dnsOptions: hc.DnsOptions?.length ? hc.DnsOptions : d.dnsOpts,
    hostNetwork: hc.NetworkMode === 'host',
  });
}
