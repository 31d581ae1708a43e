// A container's NetworkSettings (inspect) and its ports and networks in `docker ps`, from what
// it asked for (its EndpointConfigs) and, while it runs, its live endpoints.
import { createHash } from 'node:crypto';
import type { EndpointIPAMConfig, EndpointSettings, NetworkSettings } from '../containers/api-types';
import type { EndpointConfig, EndpointRecord, NetworkRecord } from './model';
import { portMapView, portSummary, type PortSpec } from './port-bindings';

export interface ContainerNetView {
  id: string;
  running: boolean;
  mode: string;
  configs: EndpointConfig[];
  endpoints: EndpointRecord[];
  ports: PortSpec;
  netnsPath?: string;
}

/** The endpoint's IPAMConfig as the client gave it (moby's omitempty fields), null when empty. */
export function endpointIpamConfig(cfg: EndpointConfig): EndpointIPAMConfig | null {
  const out: EndpointIPAMConfig = {};
  if (cfg.ipv4Address) out.IPv4Address = cfg.ipv4Address;
  if (cfg.ipv6Address) out.IPv6Address = cfg.ipv6Address;
  if (cfg.linkLocalIps && cfg.linkLocalIps.length > 0) out.LinkLocalIPs = cfg.linkLocalIps;
  return Object.keys(out).length > 0 ? out : null;
}

function endpointSettings(
  cfg: EndpointConfig | undefined,
  n: NetworkRecord | undefined,
  ep: EndpointRecord | undefined,
  modern: boolean,
): EndpointSettings {
  const out: EndpointSettings = {
    IPAMConfig: (cfg && endpointIpamConfig(cfg)) ?? undefined,
    Links: cfg && cfg.links.length > 0 ? cfg.links : undefined,
    MacAddress: ep?.mac ?? (modern ? (cfg?.macAddress ?? '') : ''),
    Aliases: cfg && cfg.aliases.length > 0 ? cfg.aliases : undefined,
    DriverOpts: cfg?.driverOpts ?? null,
    GwPriority: cfg?.gwPriority ?? 0,
    NetworkID: n?.id ?? cfg?.networkId ?? '',
    EndpointID: ep?.id ?? '',
    Gateway: ep?.gateway ?? '',
    IPAddress: ep?.ip ?? '',
    IPPrefixLen: ep?.prefixLen ?? 0,
    IPv6Gateway: ep?.gateway6 ?? '',
    GlobalIPv6Address: ep?.ip6 ?? '',
    GlobalIPv6PrefixLen: ep?.prefixLen6 ?? 0,
    DNSNames: ep && ep.dnsNames.length > 0 ? ep.dnsNames : null,
  } as EndpointSettings;
  // Go's encoder writes nil slices and pointers as null.
  const loose = out as Record<string, unknown>;
  for (const k of ['IPAMConfig', 'Links', 'Aliases']) if (loose[k] === undefined) loose[k] = null;
  return out;
}

/** NetworkSettings.Networks: one entry per configured network, keyed as the container names it. */
export function networksView(
  v: ContainerNetView,
  lookup: (id: string) => NetworkRecord | undefined,
  builtin: (name: string) => NetworkRecord | undefined,
  modern = true,
): Record<string, EndpointSettings> {
  const out: Record<string, EndpointSettings> = {};
  if (v.mode === 'host' || v.mode === 'none') {
    const e = endpointSettings(undefined, builtin(v.mode), undefined, modern);
    // dockerd joins a (driverless) endpoint on these networks while the container runs.
    if (v.running) e.EndpointID = createHash('sha256').update(`endpoint:${v.id}:${v.mode}`).digest('hex');
    out[v.mode] = e;
    return out;
  }
  for (const cfg of v.configs) {
    const ep = v.running ? v.endpoints.find((e) => e.networkId === cfg.networkId) : undefined;
    const n = lookup(cfg.networkId);
    out[n?.name ?? cfg.networkName] = endpointSettings(cfg, n, ep, modern);
  }
  return out;
}

/**
 * The whole NetworkSettings, in the newest API's shape (api/version-shapes.ts adds the deprecated
 * top-level fields older clients expect).
 */
export function networkSettingsView(
  v: ContainerNetView,
  lookup: (id: string) => NetworkRecord | undefined,
  builtin: (name: string) => NetworkRecord | undefined,
): NetworkSettings {
  const first = v.running ? v.endpoints[0] : undefined;
  const own = v.mode !== 'host' && v.mode !== 'none' && !v.mode.startsWith('container:');
  return {
    SandboxID: v.running && v.netnsPath ? createHash('sha256').update(`sandbox:${v.id}`).digest('hex') : '',
    SandboxKey: v.running && v.netnsPath ? v.netnsPath : '',
    Ports: v.running && own ? portMapView(v.ports, first?.ports ?? []) : {},
    Networks: networksView(v, lookup, builtin),
  };
}

/** `docker ps`'s Ports of a running container with its own stack: mappings, then exposed ports. */
export function summaryPorts(v: ContainerNetView): ReturnType<typeof portSummary> {
  const own = v.mode !== 'host' && v.mode !== 'none' && !v.mode.startsWith('container:');
  // A stopped container shows none: dockerd lists what its NetworkSettings.Ports holds.
  if (!own || !v.running) return [];
  return portSummary(v.ports, v.endpoints[0]?.ports ?? []);
}
