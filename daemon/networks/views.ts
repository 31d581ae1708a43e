// The API shapes of networks (list and inspect) from their records and endpoints.
import type { Int64 } from '../../lib/int64';
import type { EndpointRecord, NetworkRecord } from './model';

export interface EndpointResourceView {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

export interface NetworkView {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: Record<string, unknown>[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers?: Record<string, EndpointResourceView>;
  /** DynamicIPsAvailable is a uint64 in moby (an IPv6 /64 has more than 2^53): exact digits. */
  Status?: { IPAM: { Subnets: Record<string, { IPsInUse: number; DynamicIPsAvailable: Int64 }> } };
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export function networkView(
  n: NetworkRecord,
  endpoints: EndpointRecord[],
  containerName: (id: string) => string,
  withContainers: boolean,
): NetworkView {
  const config = n.ipam.map((c) => {
    const out: Record<string, unknown> = { Subnet: c.Subnet };
    if (c.IPRange) out.IPRange = c.IPRange;
    out.Gateway = c.Gateway;
    if (c.AuxiliaryAddresses) out.AuxiliaryAddresses = c.AuxiliaryAddresses;
    return out;
  });
  const view: NetworkView = {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv4: n.driver === 'bridge',
    EnableIPv6: n.enableIPv6,
    IPAM: { Driver: n.ipamDriver, Options: n.builtin ? null : n.ipamOptions, Config: config },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Options: n.options,
    Labels: n.labels,
  };
  const containers: Record<string, EndpointResourceView> = {};
  for (const ep of endpoints) {
    containers[ep.containerId] = {
      Name: containerName(ep.containerId),
      EndpointID: ep.id,
      MacAddress: ep.mac,
      IPv4Address: ep.ip ? `${ep.ip}/${ep.prefixLen}` : '',
      IPv6Address: ep.ip6 ? `${ep.ip6}/${ep.prefixLen6 ?? 64}` : '',
    };
  }
  view.Containers = withContainers ? containers : {};
  return view;
}
