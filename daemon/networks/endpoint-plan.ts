// What a container asks of each network, worked out and checked at create (and at connect) as
// dockerd checks it: which networks, the aliases, a static address, a MAC.
import type { ContainerConfig, EndpointSettings, HostConfig, NetworkingConfig } from '../containers/api-types';
import { Forbidden, InvalidParameter } from '../../lib/errors';
import { ipFamily } from '../../lib/addresses';
import { canonicalIpv6, cidr6Contains, parseCidr6, parseIpv6 } from '../../network/cidr6';
import { ipamV6, type EndpointConfig, type NetworkRecord } from './model';

export interface NetworkLookup {
  get(input: string): NetworkRecord;
  tryGet(input: string): NetworkRecord | undefined;
}

/**
 * moby's validateNetMode: settings that make no sense with another container's (or the
 * host's) network stack. Checked on the request as sent, before the image's config is merged.
 */
export function checkNetworkModeConflicts(config: ContainerConfig, host: HostConfig): void {
  const mode = host.NetworkMode || 'default';
  if (mode === 'container' || mode === 'container:') {
    throw new InvalidParameter('Invalid network mode: invalid container format container:<name|id>');
  }
  const container = mode.startsWith('container:');
  const fail = (what: string): never => {
    throw new InvalidParameter(`conflicting options: ${what}`);
  };
  if (host.UTSMode === 'host' && config.Hostname) fail('hostname and the UTS mode');
  if (container && config.Hostname) fail('hostname and the network mode');
  if (container && (host.Links ?? []).length > 0)
    fail("container type network can't be used with links. This would result in undefined behavior");
  if (container && (host.Dns ?? []).length > 0) fail('dns and the network mode');
  if (container && (host.ExtraHosts ?? []).length > 0) fail('custom host-to-IP mapping and the network mode');
  if ((container || mode === 'host') && (config as { MacAddress?: string }).MacAddress) fail('mac-address and the network mode');
  if (container && (Object.keys(host.PortBindings ?? {}).length > 0 || host.PublishAllPorts))
    fail('port publishing and the container type network mode');
  if (container && Object.keys(config.ExposedPorts ?? {}).length > 0) fail('port exposing and the container type network mode');
  if (mode === 'host' && (host.Links ?? []).length > 0)
    fail("host type networking can't be used with links. This would result in undefined behavior");
}

/** The container has a network stack of its own (bridge-like modes) rather than none/host/another's. */
export function ownsNetworkStack(mode: string | undefined): boolean {
  const m = mode || 'default';
  return m !== 'host' && m !== 'none' && !m.startsWith('container:');
}

const MAC_RE = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;

/** One endpoint's settings from the API, checked against the network it is for. */
export function endpointConfig(n: NetworkRecord, networkName: string, s: EndpointSettings | undefined, fallbackMac = ''): EndpointConfig {
  const userNet = n.name !== 'bridge';
  const aliases = (s?.Aliases ?? []).filter((a) => a !== '');
  const ipv4 = s?.IPAMConfig?.IPv4Address ?? '';
  const ipv6 = s?.IPAMConfig?.IPv6Address ?? '';
  const links = s?.Links ?? [];
  if (!userNet && aliases.length > 0)
    throw new InvalidParameter('network-scoped alias is supported only for containers in user defined networks');
  if (ipv4 || ipv6) {
    if (!userNet) throw new InvalidParameter('user specified IP address is supported on user defined networks only');
    if (ipv4 && !n.ipamConfigured)
      throw new InvalidParameter('user specified IP address is supported only when connecting to networks with user configured subnets');
    if (ipv4 && !/^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(ipv4)) throw new InvalidParameter(`invalid IPv4 address: ${ipv4}`);
  }
  const linkLocal = checkEndpointIpv6(n, ipv6, s?.IPAMConfig?.LinkLocalIPs ?? []);
  const mac = s?.MacAddress || fallbackMac;
  if (mac && !MAC_RE.test(mac)) throw new InvalidParameter(`invalid MAC address: ${mac}`);
  return {
    networkId: n.id,
    networkName,
    aliases,
    links,
    ipv4Address: ipv4,
    ...(ipv6 ? { ipv6Address: canonicalIpv6(ipv6) } : {}),
    ...(linkLocal.length > 0 ? { linkLocalIps: linkLocal } : {}),
    macAddress: mac.toLowerCase(),
    driverOpts: s?.DriverOpts ?? null,
    gwPriority: s?.GwPriority ?? 0,
  };
}

/**
 * The endpoints a new container will have, in order (the first one, from NetworkMode, carries
 * the published ports and the default route). [] for none/host/container: modes, and for the
 * default mode when the daemon runs without a default bridge.
 */
export function planEndpoints(
  host: HostConfig,
  networking: NetworkingConfig | null,
  nets: NetworkLookup,
  legacyMac = '',
): EndpointConfig[] {
  const mode = host.NetworkMode || 'default';
  const configs = networking?.EndpointsConfig ?? {};
  if (!ownsNetworkStack(mode)) {
    const extra = Object.keys(configs).filter(
      (k) => k !== mode && !(mode === 'none' && k === 'none') && !(mode === 'host' && k === 'host'),
    );
    if (mode.startsWith('container:') && (extra.length > 0 || Object.values(configs).some((c) => (c.Aliases ?? []).length > 0))) {
      throw new InvalidParameter('conflicting options: networking options cannot be used with a container network mode');
    }
    if (extra.length > 0)
      throw new InvalidParameter(`container cannot be connected to networks other than ${mode} when it uses network mode ${mode}`);
    for (const c of Object.values(configs)) {
      if ((c.Aliases ?? []).length > 0)
        throw new InvalidParameter('network-scoped alias is supported only for containers in user defined networks');
      if (c.IPAMConfig?.IPv4Address || c.IPAMConfig?.IPv6Address)
        throw new InvalidParameter('user specified IP address is supported on user defined networks only');
    }
    return [];
  }
  const primaryName = mode === 'default' ? 'bridge' : mode;
  const primary = nets.tryGet(primaryName);
  if (!primary) {
    // As dockerd: an unknown network is reported when the container starts (a 404 from create
    // would make the CLI look for the image instead). Without a default bridge (`-b none`),
    // `bridge` means no network at all, as it does for dockerd.
    if (mode !== 'default' && mode !== 'bridge') return [unresolved(mode, configs[mode])];
    if (Object.keys(configs).filter((k) => k !== 'default' && k !== 'bridge').length > 0) {
      throw new InvalidParameter('networking options need a network: the daemon runs without a default bridge');
    }
    return [];
  }
  if (primary.driver === 'host' || primary.driver === 'null') {
    // `--network <id of host>` and the like: the mode itself is what counts.
    throw new InvalidParameter(`container cannot be connected to network ${primary.name} by ID; use --network ${primary.name}`);
  }
  const out: EndpointConfig[] = [];
  const seen = new Set<string>();
  // The CLI keys the default mode's settings "default".
  const resolve = (k: string): NetworkRecord | undefined => nets.tryGet(k === 'default' ? 'bridge' : k);
  const primaryKey = Object.keys(configs).find((k) => resolve(k)?.id === primary.id);
  out.push(
    endpointConfig(
      primary,
      primaryName === primary.id ? primary.name : primaryName,
      primaryKey ? configs[primaryKey] : undefined,
      legacyMac,
    ),
  );
  seen.add(primary.id);
  for (const [key, settings] of Object.entries(configs)) {
    const n = resolve(key);
    if (!n) {
      out.push(unresolved(key, settings));
      continue;
    }
    if (seen.has(n.id)) continue;
    if (n.driver !== 'bridge')
      throw new InvalidParameter(`container cannot be connected to networks ${primary.name} and ${n.name} at the same time`);
    seen.add(n.id);
    out.push(endpointConfig(n, key === n.id ? n.name : key, settings));
  }
  return out;
}

/**
 * moby v29's checks of an endpoint's --ip6 and --link-local-ip (normalizeEndpointIPAMConfig,
 * validateEndpointIPAddress), as one InvalidParameter "invalid endpoint settings:\n…". An --ip6
 * on a network without IPv6 is outside every configured subnet there. (dockerd 20.10 said "user
 * specified IP address is supported only when connecting to networks with user configured
 * subnets", at start.) Returns the link-local addresses in Go's text.
 */
function checkEndpointIpv6(n: NetworkRecord, ipv6: string, linkLocal: string[]): string[] {
  const errs: string[] = [];
  if (ipv6) {
    const v = parseIpv6(ipv6);
    if (v === null || v === 0n || ipv6.includes('.')) errs.push(`invalid IPv6 address: ${ipv6}`);
    else {
      const cfg = ipamV6(n);
      const subnet = cfg ? parseCidr6(cfg.Subnet) : null;
      if (!subnet || !cidr6Contains(subnet, v)) errs.push(`no configured subnet contains IP address ${canonicalIpv6(ipv6)}`);
    }
  }
  const out: string[] = [];
  for (const a of linkLocal) {
    const fam = ipFamily(a);
    if (fam === 0 || a === '0.0.0.0' || parseIpv6(a) === 0n) errs.push(`invalid link-local IP address: ${a}`);
    else out.push(fam === 6 ? canonicalIpv6(a) : a);
  }
  if (errs.length > 0) throw new InvalidParameter(`invalid endpoint settings:\n${errs.join('\n')}`);
  return out;
}

/** A network not found at create: kept by name, resolved (or reported missing) at start. */
function unresolved(name: string, s: EndpointSettings | undefined): EndpointConfig {
  return {
    networkId: '',
    networkName: name,
    aliases: (s?.Aliases ?? []).filter((a) => a !== ''),
    links: s?.Links ?? [],
    ipv4Address: s?.IPAMConfig?.IPv4Address ?? '',
    ...(s?.IPAMConfig?.IPv6Address ? { ipv6Address: s.IPAMConfig.IPv6Address } : {}),
    ...((s?.IPAMConfig?.LinkLocalIPs ?? []).length > 0 ? { linkLocalIps: s?.IPAMConfig?.LinkLocalIPs ?? [] } : {}),
    macAddress: (s?.MacAddress ?? '').toLowerCase(),
    driverOpts: s?.DriverOpts ?? null,
    gwPriority: s?.GwPriority ?? 0,
  };
}

/** `docker network connect` onto a container's configuration: the checks dockerd makes. */
export function checkConnect(mode: string | undefined, current: EndpointConfig[], n: NetworkRecord, containerName: string): void {
  const m = mode || 'default';
  if (n.driver === 'host') throw new InvalidParameter('container cannot be disconnected from host network or connected to host network');
  if (m === 'none' || n.driver === 'null') {
    throw new InvalidParameter('container cannot be connected to multiple networks with one of the networks in private (none) mode');
  }
  if (!ownsNetworkStack(m)) {
    throw new InvalidParameter(
      'container sharing network namespace with another container or host cannot be connected to any other network',
    );
  }
  if (current.some((e) => e.networkId === n.id)) {
    throw new Forbidden(`endpoint with name ${containerName} already exists in network ${n.name}`);
  }
}
