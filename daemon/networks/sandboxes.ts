// Containers' network stacks: a netns per running container, an endpoint (veth, address, MAC,
// route) per network, published ports, and what the embedded DNS answers. Every kernel object
// is recorded in SQLite before it is made, so whatever a crash leaves is found and removed at the
// next start.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { Logger } from 'pino';
import { macForIp, parseCidr4, parseIpv4 } from '../../network/cidr';
import { formatIpv6 } from '../../network/cidr6';
import { NETNS_DIR, type Links } from '../../network/links';
import { parseProcNetDev, peerCounters } from '../../network/link-stats';
import type { PortAllocator } from '../../network/port-allocator';
import type { PortProxy } from '../../network/port-proxy';
import { Conflict, InvalidParameter, SystemError, errorMessage } from '../../lib/errors';
import {
  ipamV4,
  ipamV6,
  type EndpointConfig,
  type EndpointRecord,
  type IpamConfigRecord,
  type NetworkRecord,
  type PortMapping,
} from './model';
import type { NetworkService } from './service';
import { portRequests, type PortRequestSpec, type PortSpec } from './port-bindings';
import { ContainerResolvers, EMBEDDED_DNS_IP, hasEmbeddedDns } from './container-dns';
import { compareStrings } from '../../lib/order';

export { splitLink } from './dns-resolver';

export interface SandboxesDeps {
  networks: NetworkService;
  links: Links;
  ports: PortAllocator;
  proxy: PortProxy;
  userlandProxy: boolean;
  /** The host can listen on IPv6: ports published without a host IP are published on "::" too. */
  ipv6Host: boolean;
  logger: Logger;
  /** Each container's own --dns servers, shared with the embedded DNS resolver, which reads it. */
  upstreams: Map<string, string[]>;
}

/** What the network layer needs to know about a container. */
export interface ContainerNet {
  id: string;
  name: string;
  hostname: string;
  endpoints: EndpointConfig[];
  ports: PortSpec;
  /** The container's own --dns servers (upstreams of the embedded DNS for it). */
  dns: string[];
}

export interface SandboxInfo {
  netnsPath: string;
  /** The container's addresses, for /etc/hosts. */
  addresses: string[];
  /** The embedded DNS's address when the container is on a user network (resolv.conf). */
  nameserver: string | null;
  /** The firewall rules for the container's ports, written while the task is made and started. */
  firewall: Promise<void>;
}

interface LiveProxy {
  close(): Promise<void>;
}

const NETNS_PREFIX = 'berth-';
/** dockerd's maxAllocatePortAttempts. */
const MAX_PORT_ATTEMPTS = 10;

/**
 * One interface's counters as `docker stats` reports them (the API's per-interface network
 * stats). Owned here, where they are read; the stats code uses this one.
 */
export interface NetworkCounters {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

export class Sandboxes {
  private readonly networks: NetworkService;
  private readonly links: Links;
  private readonly logger: Logger;
  private readonly proxies = new Map<string, LiveProxy[]>();
  /** Each running container's own --dns servers: the embedded DNS forwards its queries there. */
  private readonly upstreamsOf: Map<string, string[]>;
  private readonly resolvers: ContainerResolvers;
  /**
   * Torn-down sandboxes whose kernel side (veths, netns) is still being removed, by container.
   * The sandbox row stays until that ends, so a crash leaves it to cleanupExcept.
   */
  private readonly removing = new Map<string, Promise<void>>();

  constructor(private readonly deps: SandboxesDeps) {
    this.networks = deps.networks;
    this.links = deps.links;
    this.logger = deps.logger;
    this.upstreamsOf = deps.upstreams;
    this.resolvers = new ContainerResolvers(deps.networks.dns, deps.logger);
  }

  netnsName(containerId: string): string {
    return `${NETNS_PREFIX}${containerId.slice(0, 12)}`;
  }

  netnsPath(containerId: string): string | undefined {
    const row = this.liveSandbox(containerId);
    return row ? `${NETNS_DIR}/${row.netns}` : undefined;
  }

  /** The container's sandbox row, unless it is torn down and only its kernel side is left. */
  private liveSandbox(containerId: string): { netns: string } | undefined {
    return this.removing.has(containerId) ? undefined : this.networks.repo.sandbox(containerId);
  }

  /** Waits for the kernel side of the sandboxes torn down so far (their addresses are held until then). */
  private async removalsSettled(): Promise<void> {
    await Promise.all([...this.removing.values()]);
  }

  /** Resolves once the torn-down sandbox of the container is gone from the kernel too. */
  async kernelGone(containerId: string): Promise<void> {
    await this.removing.get(containerId);
  }

  endpointsOf(containerId: string): EndpointRecord[] {
    return this.networks.repo.endpointsOfContainer(containerId).map((r) => JSON.parse(r.recordJson) as EndpointRecord);
  }

  private saveEndpoint(ep: EndpointRecord): void {
    this.networks.repo.putEndpoint({ id: ep.id, networkId: ep.networkId, containerId: ep.containerId, recordJson: JSON.stringify(ep) });
  }

  // ------------------------------------------------------------------ start and stop

  /** Makes the container's netns and its endpoints (the first one with the published ports). */
  async setUp(c: ContainerNet): Promise<SandboxInfo> {
    await this.kernelGone(c.id); // a restart: the same netns name
    const netns = this.netnsName(c.id);
    this.networks.repo.putSandbox({ containerId: c.id, netns });
    this.upstreamsOf.set(c.id, c.dns);
    try {
      // The netns is made with the first endpoint, in the same ip processes.
      const netnsPath = `${NETNS_DIR}/${netns}`;
      const gateway = this.gatewayEndpoint(c.endpoints);
      let first = true;
      for (const cfg of c.endpoints) {
        await this.attach(c, cfg, first, cfg === gateway);
        first = false;
      }
      const firewall = this.networks
        .syncFirewall()
        .catch((err: unknown) => this.logger.error({ err, container: c.id }, 'firewall rules for the container could not be written'));
      return { netnsPath, ...this.etcFacts(c.id), firewall };
    } catch (err) {
      await this.tearDown(c.id).catch((e: unknown) =>
        this.logger.warn({ err: e, container: c.id }, 'network teardown after a failed setup failed'),
      );
      throw err;
    }
  }

  /** Addresses for /etc/hosts and the nameserver for resolv.conf, from the live endpoints. */
  etcFacts(containerId: string): { addresses: string[]; nameserver: string | null } {
    const eps = this.endpointsOf(containerId);
    const embedded = this.resolvers.running(containerId) || eps.some((ep) => this.usesEmbeddedDns(ep));
    return { addresses: eps.flatMap((e) => [e.ip, e.ip6 ?? '']).filter((ip) => ip !== ''), nameserver: embedded ? EMBEDDED_DNS_IP : null };
  }

  /**
   * The endpoint that gives the default route: the highest GwPriority among the non-internal
   * networks, ties going to the network name that sorts first (the API's rule).
   */
  private gatewayEndpoint(endpoints: EndpointConfig[]): EndpointConfig | undefined {
    const candidates = endpoints
      .map((cfg) => ({ cfg, n: this.networks.tryGet(cfg.networkId) }))
      .filter((x) => x.n !== undefined && !x.n.internal);
    candidates.sort((a, b) => b.cfg.gwPriority - a.cfg.gwPriority || compareStrings(a.n?.name ?? '', b.n?.name ?? ''));
    return candidates[0]?.cfg;
  }

  /**
   * Connects a running container's sandbox to one more network (or one of the first ones at
   * start). route: whether this endpoint gives the default route; when not said (a live connect),
   * it does if the container has none yet.
   */
  async attach(c: ContainerNet, cfg: EndpointConfig, withPorts: boolean, route?: boolean): Promise<EndpointRecord> {
    const n = this.networks.get(cfg.networkId);
    if (n.driver !== 'bridge') throw new InvalidParameter(`container cannot be connected to network ${n.name}`);
    const existing = this.endpointsOf(c.id);
    if (existing.some((e) => e.networkId === n.id)) {
      throw new Conflict(`endpoint with name ${c.name} already exists in network ${n.name}`);
    }
    const netns = this.liveSandbox(c.id)?.netns;
    if (!netns) throw new Conflict(`container ${c.id} has no network namespace`);
    // An address asked for may be held by a stopped container's veth still being removed.
    if (cfg.ipv4Address || cfg.ipv6Address) await this.removalsSettled();
    const alloc = this.networks.allocator(n);
    let ip: string;
    if (cfg.ipv4Address) {
      alloc.claimOrThrow(cfg.ipv4Address);
      ip = cfg.ipv4Address;
    } else {
      ip = alloc.allocate({ name: n.name, id: n.id });
    }
    const v4 = ipamV4(n) as IpamConfigRecord;
    const subnet = parseCidr4(v4.Subnet);
    const prefixLen = subnet?.prefix ?? 16;
    const mac = cfg.macAddress || macForIp(parseIpv4(ip) ?? 0);
    const v6 = this.allocate6(n, cfg, mac, () => alloc.release(ip));
    const used = new Set(existing.map((e) => e.ifName));
    let ifIndex = 0;
    while (used.has(`eth${ifIndex}`)) ifIndex++;
    const defaultRoute = route ?? (!n.internal && !existing.some((e) => e.defaultRoute));
    const shortId = c.id.slice(0, 12);
    const userNet = n.name !== 'bridge';
    const dnsNames = userNet
      ? unique([c.name, ...cfg.aliases, shortId, ...(c.hostname && c.hostname !== shortId ? [c.hostname] : [])])
      : [];
    const ep: EndpointRecord = {
      id: randomBytes(32).toString('hex'),
      networkId: n.id,
      containerId: c.id,
      ifName: `eth${ifIndex}`,
      hostVeth: `veth${randomBytes(4).toString('hex').slice(0, 7)}`,
      ip,
      prefixLen,
      gateway: v4.Gateway,
      ...v6,
      mac,
      aliases: cfg.aliases,
      links: cfg.links,
      dnsNames,
      ports: [],
      defaultRoute,
    };
    this.saveEndpoint(ep);
    try {
      await this.links.addEndpoint({
        netns,
        hostVeth: ep.hostVeth,
        bridge: n.bridgeName as string,
        ifName: ep.ifName,
        mac: ep.mac,
        addressCidr: `${ip}/${prefixLen}`,
        gateway: defaultRoute ? ep.gateway : undefined,
        address6Cidr: ep.ip6 ? `${ep.ip6}/${ep.prefixLen6}` : undefined,
        gateway6: defaultRoute && ep.ip6 ? ep.gateway6 : undefined,
        linkLocal: linkLocalCidrs(cfg.linkLocalIps ?? []),
        mtu: n.mtu ?? 1500,
        createNetns: existing.length === 0,
      });
      if (withPorts && !n.internal) await this.publish(c, n, ep);
    } catch (err) {
      await this.detachEndpoint(ep, { announce: false });
      throw err;
    }
    await this.startEmbeddedDns(c.id);
    this.networks.publishNetworkEvent('connect', n, c.id);
    return ep;
  }

  /** The endpoint's IPv6 address on a network with IPv6 (--ip6, else the next free one). */
  private allocate6(
    n: NetworkRecord,
    cfg: EndpointConfig,
    mac: string,
    undo: () => void,
  ): Pick<EndpointRecord, 'ip6' | 'prefixLen6' | 'gateway6'> {
    const a6 = this.networks.allocator6(n);
    const c6 = ipamV6(n);
    if (!a6 || !c6) return {};
    try {
      let ip6: string;
      // The default bridge with a /80 or wider: the subnet with the MAC as the low 48 bits, as
      // dockerd ("fd00::242:ac11:2" for 02:42:ac:11:00:02).
      const fromMac = n.name === 'bridge' && a6.subnet.prefix <= 80 ? macAddress6(a6.subnet.ip, mac) : null;
      if (fromMac && a6.claim(fromMac)) ip6 = fromMac;
      else if (cfg.ipv6Address) {
        a6.claimOrThrow(cfg.ipv6Address);
        ip6 = cfg.ipv6Address;
      } else ip6 = a6.allocate({ name: n.name, id: n.id });
      return { ip6, prefixLen6: a6.subnet.prefix, gateway6: c6.Gateway };
    } catch (err) {
      undo();
      throw err;
    }
  }

  private async publish(c: ContainerNet, n: NetworkRecord, ep: EndpointRecord): Promise<void> {
    const defaultIp = n.hostBindingIpv4 || '0.0.0.0';
    const live: LiveProxy[] = [];
    this.proxies.set(ep.id, live);
    const fail = (err: unknown): never => {
      throw new SystemError(`driver failed programming external connectivity on endpoint ${c.name} (${ep.id}): ${errorMessage(err)}`);
    };
    let lastPort = 0;
    for (const req of portRequests(c.ports, defaultIp, this.deps.ipv6Host)) {
      const v6 = req.hostIp.includes(':');
      // An IPv6 host port reaches a container with IPv6 through ip6tables' DNAT and the proxy; an
      // IPv4-only one through the userland proxy alone (dockerd's proxying from IPv6 to IPv4).
      if (v6 && !ep.ip6 && (!this.deps.userlandProxy || req.proto === 'sctp')) continue;
      if (req.twin) {
        // The "::" twin takes the port its IPv4 binding got; another process holding it on IPv6
        // leaves the binding IPv4 only (dockerd would pick another port for both).
        const port = lastPort;
        try {
          this.deps.ports.allocate({ proto: req.proto, hostIp: req.hostIp, hostPortStart: port, hostPortEnd: port });
        } catch (err) {
          this.logger.warn({ err, container: c.id, port }, 'IPv6 twin of a published port not allocated');
          continue;
        }
        await this.openProxy(c, ep, live, { ...req, hostPortStart: port }, port).catch((err: unknown) => {
          this.deps.ports.release(req.proto, req.hostIp, port);
          this.logger.warn({ err, container: c.id, port }, 'IPv6 twin of a published port not opened');
        });
        continue;
      }
      // A port another process (another daemon, say) holds is skipped when any port would do,
      // as dockerd moves on through the range; a port the user named is an error at once.
      const flexible = req.hostPortStart !== req.hostPortEnd || req.hostPortStart === 0;
      for (let attempt = 0; ; attempt++) {
        let hostPort: number;
        try {
          hostPort = this.deps.ports.allocate({
            proto: req.proto,
            hostIp: req.hostIp,
            hostPortStart: req.hostPortStart,
            hostPortEnd: req.hostPortEnd,
          });
        } catch (err) {
          fail(err);
          return;
        }
        try {
          await this.openProxy(c, ep, live, req, hostPort);
          lastPort = hostPort;
          break;
        } catch (err) {
          this.deps.ports.release(req.proto, req.hostIp, hostPort);
          if (!flexible || attempt >= MAX_PORT_ATTEMPTS || (err as { code?: string }).code !== 'EADDRINUSE') fail(err);
        }
      }
    }
  }

  /** The userland proxy of one mapping (none without the proxy, or for sctp), then its record. */
  private async openProxy(c: ContainerNet, ep: EndpointRecord, live: LiveProxy[], req: PortRequestSpec, hostPort: number): Promise<void> {
    if (this.deps.userlandProxy && req.proto !== 'sctp') {
      live.push(
        await this.deps.proxy.open({
          proto: req.proto,
          hostIp: req.hostIp,
          hostPort,
          containerIp: proxyTarget(ep, req.hostIp),
          containerPort: req.containerPort,
        }),
      );
    }
    this.recordPort(ep, { proto: req.proto, containerPort: req.containerPort, hostIp: req.hostIp, hostPort });
  }

  private recordPort(ep: EndpointRecord, m: PortMapping): void {
    ep.ports.push(m);
    this.saveEndpoint(ep);
  }

  /**
   * Removes one endpoint: proxies, ports, veth and address (unless the caller removes the veth
   * and then frees the address: `kernelAfter`), row. Never throws.
   */
  private async detachEndpoint(ep: EndpointRecord, opts: { announce?: boolean; kernelAfter?: boolean } = {}): Promise<void> {
    for (const p of this.proxies.get(ep.id) ?? []) await p.close().catch(() => undefined);
    this.proxies.delete(ep.id);
    for (const m of ep.ports) this.deps.ports.release(m.proto, m.hostIp, m.hostPort);
    if (!opts.kernelAfter) {
      await this.links
        .removeEndpoint(ep.hostVeth)
        .catch((err: unknown) => this.logger.warn({ err, veth: ep.hostVeth }, 'veth removal failed'));
      this.releaseAddresses(ep);
    }
    this.networks.repo.deleteEndpoint(ep.id);
    const n = this.networks.tryGet(ep.networkId);
    if (n && opts.announce !== false) this.networks.publishNetworkEvent('disconnect', n, ep.containerId);
  }

  /** Its addresses are free once no veth holds them on the bridge. */
  private releaseAddresses(ep: EndpointRecord): void {
    const n = this.networks.tryGet(ep.networkId);
    if (n && ep.ip && n.ipam[0]) this.networks.allocator(n).release(ep.ip);
    if (n && ep.ip6) this.networks.allocator6(n)?.release(ep.ip6);
  }

  /** Disconnects a running container from one network. */
  async detach(containerId: string, networkId: string): Promise<void> {
    const ep = this.endpointsOf(containerId).find((e) => e.networkId === networkId);
    if (!ep) return;
    await this.detachEndpoint(ep);
    await this.networks.syncFirewall().catch((err: unknown) => this.logger.warn({ err }, 'firewall update failed'));
  }

  private usesEmbeddedDns(ep: EndpointRecord): boolean {
    const n = this.networks.tryGet(ep.networkId);
    return n !== undefined && hasEmbeddedDns(n);
  }

  /** The embedded DNS in the container's netns once it is on a user network (after a daemon
   *  restart too); it runs until the sandbox goes, as dockerd's. Never throws. */
  async startEmbeddedDns(containerId: string): Promise<void> {
    const netnsPath = this.netnsPath(containerId);
    if (netnsPath && this.endpointsOf(containerId).some((ep) => this.usesEmbeddedDns(ep)))
      await this.resolvers.start(containerId, netnsPath);
  }

  /**
   * After the task exited: the endpoints' rows, ports and addresses go, and the firewall follows;
   * the veths and the netns go behind it in one ip process (kernelGone), off the exit's path.
   * Never throws.
   */
  async tearDown(containerId: string): Promise<void> {
    if (this.removing.has(containerId)) return;
    await this.resolvers.stop(containerId);
    const eps = this.endpointsOf(containerId);
    const row = this.networks.repo.sandbox(containerId);
    if (row) this.removing.set(containerId, this.removeKernelSide(containerId, row.netns, eps));
    for (const ep of eps) await this.detachEndpoint(ep, { kernelAfter: row !== undefined });
    this.upstreamsOf.delete(containerId);
    await this.networks.syncFirewall().catch((err: unknown) => this.logger.warn({ err }, 'firewall update failed'));
  }

  /** Veths and netns in one ip process, then the addresses and the row. Never rejects. */
  private async removeKernelSide(containerId: string, netns: string, eps: EndpointRecord[]): Promise<void> {
    try {
      await this.links.removeSandbox(
        netns,
        eps.map((e) => e.hostVeth),
      );
    } catch (err) {
      this.logger.warn({ err, netns }, 'sandbox removal failed');
    }
    try {
      for (const ep of eps) this.releaseAddresses(ep);
      this.networks.repo.deleteSandbox(containerId);
    } catch (err) {
      this.logger.warn({ err, netns }, 'sandbox row removal failed: the next start removes it');
    }
    this.removing.delete(containerId);
  }

  /**
   * Daemon start: every recorded sandbox and endpoint is a leftover, except those of the
   * containers in `keep` (tasks left running for live restore), whose kernel objects stay and
   * whose host ports are claimed again before anything else can take them.
   */
  async cleanupExcept(keep: ReadonlySet<string>): Promise<void> {
    const eps = this.networks.repo.endpoints().map((r) => JSON.parse(r.recordJson) as EndpointRecord);
    const sandboxes = this.networks.repo.sandboxes();
    const withSandbox = new Set(sandboxes.map((sb) => sb.containerId));
    for (const sb of sandboxes) {
      if (keep.has(sb.containerId)) continue;
      const veths = eps.filter((e) => e.containerId === sb.containerId).map((e) => e.hostVeth);
      await this.links
        .removeSandbox(sb.netns, veths)
        .catch((err: unknown) => this.logger.warn({ err, netns: sb.netns }, 'leftover sandbox removal failed'));
      this.networks.repo.deleteSandbox(sb.containerId);
    }
    for (const ep of eps) {
      if (keep.has(ep.containerId) && withSandbox.has(ep.containerId)) {
        for (const m of ep.ports) {
          try {
            this.deps.ports.allocate({ proto: m.proto, hostIp: m.hostIp, hostPortStart: m.hostPort, hostPortEnd: m.hostPort });
          } catch (err) {
            this.logger.warn({ err, container: ep.containerId, port: m.hostPort }, 'port of a restored container already taken');
          }
        }
        continue;
      }
      if (!withSandbox.has(ep.containerId)) await this.links.removeEndpoint(ep.hostVeth).catch(() => undefined);
      this.networks.repo.deleteEndpoint(ep.id);
    }
  }

  /**
   * Live restore: a kept sandbox is served again: the userland proxies of its published ports
   * (they lived in the previous berthd), its embedded DNS and the --dns servers it forwards to.
   */
  async adopt(c: ContainerNet): Promise<void> {
    this.upstreamsOf.set(c.id, c.dns);
    // Its 127.0.0.11 listeners lived in the previous berthd: made again, rules rewritten.
    await this.startEmbeddedDns(c.id);
    if (!this.deps.userlandProxy) return;
    for (const ep of this.endpointsOf(c.id)) {
      const live: LiveProxy[] = [];
      this.proxies.set(ep.id, live);
      for (const m of ep.ports) {
        if (m.proto === 'sctp') continue;
        try {
          live.push(
            await this.deps.proxy.open({
              proto: m.proto,
              hostIp: m.hostIp,
              hostPort: m.hostPort,
              containerIp: proxyTarget(ep, m.hostIp),
              containerPort: m.containerPort,
            }),
          );
        } catch (err) {
          this.logger.warn({ err, container: c.id, port: m.hostPort }, 'could not reopen the proxy of a published port');
        }
      }
    }
  }

  /** Daemon stop: proxies close (containers are stopped by then), torn-down netns go. */
  async shutdown(): Promise<void> {
    await this.removalsSettled();
    for (const list of this.proxies.values()) for (const p of list) await p.close().catch(() => undefined);
    this.proxies.clear();
  }

  /** `docker stats`' networks: each running container's interfaces, from one read of /proc/net/dev. */
  async linkStats(ids: string[]): Promise<Map<string, Record<string, NetworkCounters>>> {
    const out = new Map<string, Record<string, NetworkCounters>>();
    const wanted = new Set(ids);
    const eps = this.networks.endpoints().filter((e) => wanted.has(e.containerId));
    if (eps.length === 0) return out;
    const dev = parseProcNetDev(await fs.promises.readFile('/proc/net/dev', 'utf8'));
    for (const ep of eps) {
      const host = dev.get(ep.hostVeth);
      if (!host) continue;
      const c = peerCounters(host);
      const entry = out.get(ep.containerId) ?? {};
      entry[ep.ifName] = {
        rx_bytes: c.rxBytes,
        rx_packets: c.rxPackets,
        rx_errors: c.rxErrors,
        rx_dropped: c.rxDropped,
        tx_bytes: c.txBytes,
        tx_packets: c.txPackets,
        tx_errors: c.txErrors,
        tx_dropped: c.txDropped,
      };
      out.set(ep.containerId, entry);
    }
    return out;
  }

  /** A container was renamed: its DNS name follows. */
  renamed(containerId: string, oldName: string, newName: string): void {
    for (const ep of this.endpointsOf(containerId)) {
      if (ep.dnsNames.length === 0) continue;
      ep.dnsNames = unique(ep.dnsNames.map((d) => (d === oldName ? newName : d)));
      this.saveEndpoint(ep);
    }
  }
}

function macAddress6(subnet: bigint, mac: string): string {
  return formatIpv6(subnet | BigInt(`0x${mac.replace(/:/g, '')}`));
}

/** Where a published port's proxy connects: the IPv6 address for an IPv6 host address when
 *  the container has one, else its IPv4 address (dockerd's proxying of IPv6 to IPv4-only). */
function proxyTarget(ep: EndpointRecord, hostIp: string): string {
  return hostIp.includes(':') && ep.ip6 ? ep.ip6 : ep.ip;
}

/** --link-local-ip addresses as the kernel gets them: IPv4 in 169.254/16, IPv6 in a /64 (as dockerd). */
function linkLocalCidrs(ips: string[]): string[] {
  return ips.map((ip) => (ip.includes(':') ? `${ip}/64` : `${ip}/16`));
}

function unique(xs: string[]): string[] {
  return [...new Set(xs.filter((x) => x !== ''))];
}
