// What the embedded DNS answers a container on user networks: container names, aliases and
// --link aliases in the asking container's networks, reverse names, and where other names go. It
// reads the stored endpoints and networks (not the network service), so it exists before the
// DNS server and the network service are built.
import type { DnsAnswer, DnsResolver } from '../../network/dns-server';
import type { NetworkRepo } from '../../store/network-repo';
import type { ContainerUsage } from '../container-usage';
import type { EndpointRecord, NetworkRecord } from './model';

/** The stored facts the resolver reads. */
export interface ResolverView {
  endpoints(networkId: string): EndpointRecord[];
  endpointsOf(containerId: string): EndpointRecord[];
  network(id: string): NetworkRecord | undefined;
  containerName(id: string): string | undefined;
}

/** The view over the network repository and the container store. */
export function repoResolverView(repo: NetworkRepo, usage: Pick<ContainerUsage, 'containerName'>): ResolverView {
  const parse = (rows: { recordJson: string }[]): EndpointRecord[] => rows.map((r) => JSON.parse(r.recordJson) as EndpointRecord);
  return {
    endpoints: (networkId) => parse(repo.endpointsOfNetwork(networkId)),
    endpointsOf: (containerId) => parse(repo.endpointsOfContainer(containerId)),
    network: (id) => {
      const row = repo.get(id);
      return row && (JSON.parse(row.recordJson) as NetworkRecord);
    },
    containerName: (id) => usage.containerName(id),
  };
}

export interface EmbeddedDnsResolverDeps {
  view: ResolverView;
  /** Each running container's own --dns servers (Sandboxes keeps them). */
  upstreams: ReadonlyMap<string, string[]>;
  hostResolvers: () => string[];
}

/**
 * Answers for one container: each container has its own listener (on 127.0.0.11 in its netns),
 * keyed by its id, so the asker is known from the listener, never from a source address.
 */
export class EmbeddedDnsResolver implements DnsResolver {
  constructor(private readonly deps: EmbeddedDnsResolverDeps) {}

  /** The container's endpoints on user-defined bridge networks, with their networks, in order. */
  private scope(containerId: string): { n: NetworkRecord; own: EndpointRecord }[] {
    const { view } = this.deps;
    const out: { n: NetworkRecord; own: EndpointRecord }[] = [];
    for (const own of view.endpointsOf(containerId)) {
      const n = view.network(own.networkId);
      if (n !== undefined && n.name !== 'bridge' && n.driver === 'bridge') out.push({ n, own });
    }
    return out;
  }

  lookup(containerId: string, _clientIp: string, rawName: string): DnsAnswer | null {
    const { view } = this.deps;
    const name = rawName.toLowerCase();
    for (const { n, own } of this.scope(containerId)) {
      // `name.<network>` is the qualified form of a name on that network.
      const suffix = `.${n.name.toLowerCase()}`;
      const candidates = name.endsWith(suffix) ? [name.slice(0, -suffix.length), name] : [name];
      const eps = view.endpoints(n.id);
      for (const want of candidates) {
        // --link aliases: visible to the linking container only.
        for (const link of own.links ?? []) {
          const [target, alias] = splitLink(link);
          if (alias.toLowerCase() !== want) continue;
          const hit = eps.find((e) => view.containerName(e.containerId) === target || e.containerId.startsWith(target));
          if (hit) return { addresses: addressesOf(hit) };
        }
        const ips = eps.filter((e) => e.dnsNames.some((d) => d.toLowerCase() === want)).flatMap(addressesOf);
        if (ips.length > 0) return { addresses: ips };
      }
    }
    return null;
  }

  reverse(containerId: string, _clientIp: string, ip: string): string[] | null {
    for (const { n } of this.scope(containerId)) {
      const ep = this.deps.view.endpoints(n.id).find((e) => e.ip === ip || e.ip6 === ip);
      if (ep && ep.dnsNames.length > 0) return [`${ep.dnsNames[0]}.${n.name}`];
    }
    return null;
  }

  /** Forwarding only for a container with at least one network that is not internal (dockerd's
   *  hasExternalAccess; CVE-2024-29018: an internal network must not leak names or data out). */
  forwards(containerId: string): boolean {
    const { view } = this.deps;
    return view.endpointsOf(containerId).some((e) => {
      const n = view.network(e.networkId);
      return n !== undefined && n.driver === 'bridge' && !n.internal;
    });
  }

  /**
   * The container's --dns servers, else the host's. Queries leave from the container's namespace,
   * except to the host's loopback resolvers (`host(ip)`), which only the host's namespace reaches:
   * dockerd marks those `host(...)` in its ExtServers and queries them from its own. A loopback
   * --dns server is the container's own, as with dockerd.
   */
  upstreams(containerId: string): string[] {
    const own = this.deps.upstreams.get(containerId);
    if (own && own.length > 0) return own;
    return this.deps.hostResolvers().map((s) => (isLoopback(s) ? `host(${s})` : s));
  }
}

/** An endpoint's addresses: IPv4, and IPv6 on a network with IPv6 (A and AAAA answers). */
function addressesOf(ep: EndpointRecord): string[] {
  return ep.ip6 ? [ep.ip, ep.ip6] : [ep.ip];
}

function isLoopback(server: string): boolean {
  const host = server.replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1');
  return /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

/** "name:alias" (alias defaults to the name), names without their leading slash. */
export function splitLink(link: string): [string, string] {
  const i = link.indexOf(':');
  const target = (i < 0 ? link : link.slice(0, i)).replace(/^\//, '');
  const alias = i < 0 ? target : link.slice(i + 1).replace(/^.*\//, '');
  return [target, alias];
}
