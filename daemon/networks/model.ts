// What Berth keeps about networks and endpoints. Networks persist as JSON records; endpoints
// exist while a container runs (dockerd creates them at start and deletes them at stop), while
// what a container asked for on each network (aliases, static address…) stays in its record.

export type NetworkDriver = 'bridge' | 'host' | 'null';

export interface IpamConfigRecord {
  Subnet: string;
  Gateway: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  id: string;
  name: string;
  created: string;
  driver: NetworkDriver;
  internal: boolean;
  attachable: boolean;
  enableIPv6: boolean;
  labels: Record<string, string>;
  /** Options as the client gave them (the default bridge: as dockerd shows them). */
  options: Record<string, string>;
  ipamDriver: string;
  ipamOptions: Record<string, string>;
  /** The user asked for these subnets (false: carved from the default pools). */
  ipamConfigured: boolean;
  ipam: IpamConfigRecord[];
  /** Linux bridge (driver bridge only). */
  bridgeName?: string;
  mtu?: number;
  icc?: boolean;
  masquerade?: boolean;
  hostBindingIpv4?: string;
  /** bridge, host, none: made by the daemon, never removed. */
  builtin: boolean;
}

/** What a container asked for on one network; kept in the container's record. */
export interface EndpointConfig {
  networkId: string;
  /** The name the container was connected with (NetworkSettings.Networks' key). */
  networkName: string;
  aliases: string[];
  links: string[];
  ipv4Address: string;
  /** --ip6 (absent in records written before IPv6). */
  ipv6Address?: string;
  /** --link-local-ip addresses, either family. */
  linkLocalIps?: string[];
  macAddress: string;
  driverOpts: Record<string, string> | null;
  gwPriority: number;
}

export interface PortMapping {
  proto: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

/** A running container's attachment to a network. */
export interface EndpointRecord {
  id: string;
  networkId: string;
  containerId: string;
  ifName: string;
  hostVeth: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  /** The IPv6 address on a network with IPv6 (absent otherwise). */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
  mac: string;
  aliases: string[];
  links: string[];
  /** Names the embedded DNS answers for this endpoint (dockerd's DNSNames). */
  dnsNames: string[];
  /** Published ports (only on the container's first network). */
  ports: PortMapping[];
  /** This endpoint gives the container its default route. */
  defaultRoute: boolean;
}

export const BUILTIN_NAMES = ['bridge', 'host', 'none'] as const;

/** The network's IPv4 IPAM config (the first: IPv4 always comes first, as in dockerd's inspect). */
export function ipamV4(n: NetworkRecord): IpamConfigRecord | undefined {
  return n.ipam.find((c) => !c.Subnet.includes(':'));
}

/** The network's IPv6 IPAM config, when IPv6 is enabled on it. */
export function ipamV6(n: NetworkRecord): IpamConfigRecord | undefined {
  return n.enableIPv6 ? n.ipam.find((c) => c.Subnet.includes(':')) : undefined;
}
