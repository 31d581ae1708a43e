// The network area's domain service: the built-in networks, user-defined bridge networks
// (create, list, inspect, remove, prune), their Linux bridges, embedded DNS listeners and the
// firewall model. The bridges' kernel side and subnet choice are in bridges.ts, containers'
// attachments in sandboxes.ts. Routes call this; it never sees HTTP.
import type { ContainerUsage } from '../container-usage';
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { parseCidr4, formatIpv4, networkAddress } from '../../network/cidr';
import type { DnsServer } from '../../network/dns-server';
import type { Firewall, FirewallModel } from '../../network/firewall';
import { SubnetAllocator, checkPoolOverlap, gatewayFor, openSubnet, validateIpamConfigs, type PoolSpec } from '../../network/ipam';
import { canonicalCidr6 } from '../../network/cidr6';
import { Subnet6Allocator, isV6Config, openSubnet6 } from '../../network/ipam6';
import type { Links } from '../../network/links';
import type { NetworkRepo } from '../../store/network-repo';
import { NetworkNameTakenError } from '../../store/network-repo';
import type { EventBus } from '../events';
import { Conflict, Forbidden, InvalidParameter, NotFound, Unavailable, errorMessage } from '../../lib/errors';
import { parseBool } from '../../lib/go-strconv';
import { int64 } from '../../lib/int64';
import { nowRFC3339Nano } from '../../lib/time';
import { NetworkBridges } from './bridges';
import { ipamV4, ipamV6, type EndpointRecord, type IpamConfigRecord, type NetworkRecord } from './model';
import { networkView, type NetworkView } from './views';

export const BRIDGE_OPTS = {
  name: 'com.docker.network.bridge.name',
  icc: 'com.docker.network.bridge.enable_icc',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  hostBinding: 'com.docker.network.bridge.host_binding_ipv4',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
  mtu: 'com.docker.network.driver.mtu',
  enableIPv6: 'com.docker.network.enable_ipv6',
} as const;

export interface DefaultBridgeConfig {
  /** null: Berth makes its own bridge (bridgeName); 'none': no default bridge network. */
  bridge: string | null;
  bip: string | null;
  fixedCidr: string | null;
  ipv6: boolean;
  fixedCidrV6: string | null;
  mtu: number;
  icc: boolean;
  ipMasq: boolean;
  hostIp: string;
  /** --iptables: without it there is no masquerading, whatever --ip-masq says. */
  iptables: boolean;
}

export interface NetworkServiceDeps {
  usage: Pick<ContainerUsage, 'networkUsers' | 'containerName'>;
  repo: NetworkRepo;
  links: Links;
  firewall: Firewall;
  dns: DnsServer;
  events: EventBus;
  logger: Logger;
  /** Name of Berth's own default bridge (berth0, or berth-<hash> for another data root). */
  defaultBridgeName: string;
  defaultBridge: DefaultBridgeConfig;
  pools: PoolSpec[];
  /** The daemon's ULA /48 for IPv6 networks created without a subnet (ipam6.ulaBase). */
  ula: string;
}

export interface NetworkCreateRequest {
  Name: string;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network?: string } | null;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  CheckDuplicate?: boolean;
  IPAM?: {
    Driver?: string;
    Config?: { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }[] | null;
    Options?: Record<string, string> | null;
  } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export interface NetworkListFilter {
  /** scope and driver: of a swarm network (default: the record's, local). */
  match(n: NetworkRecord, dangling: boolean, scope?: string, driver?: string): boolean;
}

function parseBoolOption(key: string, v: string): boolean {
  try {
    return parseBool(v);
  } catch (err) {
    throw new InvalidParameter(`failed to parse ${key} value: ${(err as Error).message}`);
  }
}

/** Linux interface names: at most 15 bytes, no slash or whitespace. */
function checkIfName(name: string): void {
  if (name.length === 0 || name.length > 15 || /[\s/:]/.test(name))
    throw new InvalidParameter(`invalid bridge name: ${JSON.stringify(name)}`);
}

export class NetworkService {
  readonly repo: NetworkRepo;
  private readonly links: Links;
  private readonly firewall: Firewall;
  readonly dns: DnsServer;
  private readonly events: EventBus;
  private readonly logger: Logger;
  private readonly deps: NetworkServiceDeps;
  /** Which containers are configured on a network, and their names (the container store answers). */
  readonly usage: Pick<ContainerUsage, 'networkUsers' | 'containerName'>;
  /** Address allocation per bridge network, rebuilt from the stored endpoints on first use. */
  private readonly allocators = new Map<string, SubnetAllocator>();
  private readonly allocators6 = new Map<string, Subnet6Allocator>();
  private lastFirewall = '';
  private readonly bridges: NetworkBridges;
  /**
   * Creates, removals and the stop's teardown take turns: one that ran while a create was still
   * bringing its bridge up would miss the bridge and leave it in the kernel with no record (and
   * two creates would pick the same free subnet).
   */
  private turn: Promise<unknown> = Promise.resolve();
  /** Set by shutdown: a create still in flight then finds the daemon gone. */
  private stopped = false;

  constructor(deps: NetworkServiceDeps) {
    this.deps = deps;
    this.repo = deps.repo;
    this.links = deps.links;
    this.firewall = deps.firewall;
    this.dns = deps.dns;
    this.events = deps.events;
    this.logger = deps.logger;
    this.usage = deps.usage;
    this.bridges = new NetworkBridges({
      repo: deps.repo,
      links: deps.links,
      logger: deps.logger,
      pools: deps.pools,
      ula: deps.ula,
      networks: () => this.all(),
    });
  }

  // ------------------------------------------------------------------ lookup

  private decode(recordJson: string): NetworkRecord {
    return JSON.parse(recordJson) as NetworkRecord;
  }

  all(): NetworkRecord[] {
    return this.repo.list().map((r) => this.decode(r.recordJson));
  }

  /** By full ID, exact name, or unique ID prefix, as dockerd's FindNetwork. */
  get(input: string): NetworkRecord {
    const byId = this.repo.get(input);
    if (byId) return this.decode(byId.recordJson);
    const byName = this.repo.byName(input);
    if (byName) return this.decode(byName.recordJson);
    if (/^[a-f0-9]+$/.test(input) && input.length > 0) {
      const ids = this.repo.idsWithPrefix(input);
      if (ids.length > 1) throw new InvalidParameter(`network ${input} is ambiguous (${ids.length} matches found on name)`);
      if (ids.length === 1) return this.decode((this.repo.get(ids[0]) as { recordJson: string }).recordJson);
    }
    throw new NotFound(`network ${input} not found`);
  }

  tryGet(input: string): NetworkRecord | undefined {
    try {
      return this.get(input);
    } catch {
      return undefined;
    }
  }

  /** The network's address allocator (Sandboxes takes addresses from it). */
  allocator(n: NetworkRecord): SubnetAllocator {
    let a = this.allocators.get(n.id);
    if (!a) {
      const cfg = ipamV4(n) as IpamConfigRecord;
      const reserved = [cfg.Gateway, ...Object.values(cfg.AuxiliaryAddresses ?? {})];
      a = new SubnetAllocator({ subnet: cfg.Subnet, ipRange: cfg.IPRange, reserved });
      for (const ep of this.endpoints(n.id)) if (ep.ip) a.claim(ep.ip);
      this.allocators.set(n.id, a);
    }
    return a;
  }

  /** The network's IPv6 allocator; undefined when IPv6 is not enabled on it. */
  allocator6(n: NetworkRecord): Subnet6Allocator | undefined {
    const cfg = ipamV6(n);
    if (!cfg) return undefined;
    let a = this.allocators6.get(n.id);
    if (!a) {
      const reserved = [cfg.Gateway, ...Object.values(cfg.AuxiliaryAddresses ?? {})];
      a = new Subnet6Allocator({ subnet: cfg.Subnet, ipRange: cfg.IPRange, reserved });
      for (const ep of this.endpoints(n.id)) if (ep.ip6) a.claim(ep.ip6);
      this.allocators6.set(n.id, a);
    }
    return a;
  }

  /** Published ports of running containers' endpoints, for the firewall model. */
  private firewallPorts(): FirewallModel['ports'] {
    const out: FirewallModel['ports'] = [];
    for (const ep of this.endpoints()) {
      const n = this.tryGet(ep.networkId);
      if (!n?.bridgeName) continue;
      for (const m of ep.ports) {
        out.push({
          proto: m.proto,
          hostIp: m.hostIp,
          hostPort: m.hostPort,
          containerIp: m.hostIp.includes(':') && ep.ip6 ? ep.ip6 : ep.ip,
          containerPort: m.containerPort,
          bridge: n.bridgeName,
        });
      }
    }
    return out;
  }

  endpoints(networkId?: string): EndpointRecord[] {
    const rows = networkId ? this.repo.endpointsOfNetwork(networkId) : this.repo.endpoints();
    return rows.map((r) => JSON.parse(r.recordJson) as EndpointRecord);
  }

  // ------------------------------------------------------------------ daemon start

  /**
   * Makes the built-in networks (stable IDs once stored), brings up the default bridge and
   * the bridges and DNS listeners of user networks, and writes the firewall.
   */
  async init(): Promise<void> {
    await this.firewall.setup();
    this.ensureBuiltin('host', 'host');
    this.ensureBuiltin('none', 'null');
    if (this.deps.defaultBridge.bridge !== 'none') await this.ensureDefaultBridge();
    else {
      const old = this.repo.byName('bridge');
      if (old) this.repo.delete(old.id);
    }
    for (const n of this.all()) {
      if (n.driver !== 'bridge' || n.name === 'bridge') continue;
      try {
        await this.bridges.bringUp(n);
      } catch (err) {
        this.logger.error({ err, network: n.name }, 'bringing up the network failed');
      }
    }
    await this.syncFirewall();
  }

  private ensureBuiltin(name: 'host' | 'none', driver: 'host' | 'null'): void {
    if (this.repo.byName(name)) return;
    const rec: NetworkRecord = {
      id: randomBytes(32).toString('hex'),
      name,
      created: nowRFC3339Nano(),
      driver,
      internal: false,
      attachable: false,
      enableIPv6: false,
      labels: {},
      options: {},
      ipamDriver: 'default',
      ipamOptions: {},
      ipamConfigured: false,
      ipam: [],
      builtin: true,
    };
    this.repo.insert({ id: rec.id, name, created: rec.created, recordJson: JSON.stringify(rec) });
  }

  private async ensureDefaultBridge(): Promise<void> {
    const cfg = this.deps.defaultBridge;
    const bridgeName = cfg.bridge ?? this.deps.defaultBridgeName;
    const existing = this.repo.byName('bridge');
    const prev = existing ? this.decode(existing.recordJson) : undefined;
    let ipam: IpamConfigRecord;
    let auto = false;
    const own = cfg.bridge !== null ? await this.links.linkAddresses(bridgeName) : null;
    if (cfg.bridge !== null && own === null) throw new InvalidParameter(`bridge ${bridgeName} not found (-b names an existing bridge)`);
    if (!cfg.bip && own && own.length > 0) {
      // `-b NAME`: the user's bridge keeps its own address, as dockerd uses it.
      const c = parseCidr4(own[0]) as { ip: number; prefix: number };
      ipam = { Subnet: `${formatIpv4(networkAddress(c))}/${c.prefix}`, Gateway: formatIpv4(c.ip) };
    } else if (cfg.bip) {
      const c = parseCidr4(cfg.bip);
      if (!c) throw new InvalidParameter(`invalid bip ${cfg.bip}`);
      ipam = { Subnet: `${formatIpv4(networkAddress(c))}/${c.prefix}`, Gateway: formatIpv4(c.ip) };
    } else if (
      prev &&
      prev.ipam[0] &&
      prev.bridgeName === bridgeName &&
      !(await this.bridges.overlapsForeignRoute(prev.ipam[0].Subnet, bridgeName))
    ) {
      ipam = { Subnet: prev.ipam[0].Subnet, Gateway: prev.ipam[0].Gateway };
      auto = true;
    } else {
      const subnet = await this.bridges.pickFreeSubnet(bridgeName);
      ipam = { Subnet: subnet, Gateway: gatewayFor(subnet) };
      auto = true;
    }
    if (cfg.fixedCidr) ipam.IPRange = cfg.fixedCidr;
    // --ipv6: the --fixed-cidr-v6 subnet, else the one it had, else the next /64 of the ULA pool.
    const prev6 = prev && ipamV6(prev);
    const ipam6 = !cfg.ipv6
      ? undefined
      : cfg.fixedCidrV6
        ? { Subnet: canonicalCidr6(cfg.fixedCidrV6), Gateway: openSubnet6({ subnet: canonicalCidr6(cfg.fixedCidrV6) }) }
        : prev6
          ? { Subnet: prev6.Subnet, Gateway: prev6.Gateway }
          : this.bridges.ipv6Config(undefined);
    const rec: NetworkRecord = {
      id: prev?.id ?? randomBytes(32).toString('hex'),
      name: 'bridge',
      created: prev?.created ?? nowRFC3339Nano(),
      driver: 'bridge',
      internal: false,
      attachable: false,
      enableIPv6: cfg.ipv6,
      labels: {},
      options: {
        [BRIDGE_OPTS.defaultBridge]: 'true',
        [BRIDGE_OPTS.icc]: String(cfg.icc),
        [BRIDGE_OPTS.masquerade]: String(cfg.ipMasq && cfg.iptables),
        [BRIDGE_OPTS.hostBinding]: cfg.hostIp,
        [BRIDGE_OPTS.name]: bridgeName,
        [BRIDGE_OPTS.mtu]: String(cfg.mtu),
      },
      ipamDriver: 'default',
      ipamOptions: {},
      ipamConfigured: false,
      ipam: ipam6 ? [ipam, ipam6] : [ipam],
      bridgeName,
      mtu: cfg.mtu,
      icc: cfg.icc,
      masquerade: cfg.ipMasq,
      hostBindingIpv4: cfg.hostIp,
      builtin: true,
    };
    if (prev) this.repo.update(rec.id, JSON.stringify(rec));
    else this.repo.insert({ id: rec.id, name: 'bridge', created: rec.created, recordJson: JSON.stringify(rec) });
    await this.bridges.bringUp(rec);
    if (auto) await this.bridges.settleAutoSubnet(rec);
  }

  /** Rewrites Berth's firewall chains from the current networks and published ports. */
  async syncFirewall(): Promise<void> {
    const bridges = this.all()
      .filter((n) => n.driver === 'bridge' && n.bridgeName)
      .map((n) => ({
        name: n.bridgeName as string,
        subnet: n.ipam[0]?.Subnet ?? '',
        ...(ipamV6(n) ? { subnet6: ipamV6(n)?.Subnet } : {}),
        internal: n.internal,
        icc: n.icc !== false,
        masquerade: n.masquerade !== false,
      }));
    const model = { bridges, ports: this.firewallPorts() };
    // Most starts and stops change no rule (no published port): no iptables run for those.
    const key = JSON.stringify(model);
    if (key === this.lastFirewall) return;
    // The firewall writes the newest model it was given, so the latest call's key is what holds.
    this.lastFirewall = key;
    try {
      await this.firewall.apply(model);
    } catch (err) {
      this.lastFirewall = '';
      throw err;
    }
  }

  // ------------------------------------------------------------------ create

  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** `opts.id`: the ID to use (a swarm network's local bridge keeps the swarm network's ID). */
  create(req: NetworkCreateRequest, opts: { id?: string } = {}): Promise<{ Id: string; Warning: string }> {
    return this.inTurn(() => this.createNow(req, opts));
  }

  private async createNow(req: NetworkCreateRequest, opts: { id?: string }): Promise<{ Id: string; Warning: string }> {
    if (this.stopped) throw new Unavailable('the daemon is shutting down');
    const name = req.Name;
    if (!name) throw new InvalidParameter('invalid name: ');
    const driver = req.Driver || 'bridge';
    if (BUILTIN_NAME_SET.has(name)) {
      // dockerd's text, trailing space included.
      throw new Forbidden(`operation is not permitted on predefined ${name} network `);
    }
    if (driver === 'host' || driver === 'null') throw new Forbidden(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw new NotFound(`plugin "${driver}" not found`);
    if (req.Scope && req.Scope !== 'local')
      throw new InvalidParameter(`cannot create a ${req.Scope}-scoped network with the bridge driver`);
    if (req.Ingress) throw new Forbidden('ingress networks are only available with swarm');
    if (req.ConfigOnly || (req.ConfigFrom && req.ConfigFrom.Network))
      throw new InvalidParameter('config-only networks are not supported by Berth');
    if (req.EnableIPv4 === false) throw new InvalidParameter('IPv4 cannot be disabled on a bridge network in Berth');
    const ipamDriver = req.IPAM?.Driver || 'default';
    if (ipamDriver !== 'default') throw new NotFound(`plugin "${ipamDriver}" not found`);
    if (this.repo.byName(name)) throw new Conflict(`network with name ${name} already exists`);

    const options = { ...(req.Options ?? {}) };
    const icc = options[BRIDGE_OPTS.icc] !== undefined ? parseBoolOption(BRIDGE_OPTS.icc, options[BRIDGE_OPTS.icc]) : true;
    const masquerade =
      options[BRIDGE_OPTS.masquerade] !== undefined ? parseBoolOption(BRIDGE_OPTS.masquerade, options[BRIDGE_OPTS.masquerade]) : true;
    let mtu = this.deps.defaultBridge.mtu;
    if (options[BRIDGE_OPTS.mtu] !== undefined) {
      const m = Number(options[BRIDGE_OPTS.mtu]);
      if (!/^[0-9]+$/.test(options[BRIDGE_OPTS.mtu]) || m < 68 || m > 65535) {
        throw new InvalidParameter(`invalid MTU number: ${options[BRIDGE_OPTS.mtu]}`);
      }
      mtu = m;
    }
    const hostBinding = options[BRIDGE_OPTS.hostBinding] ?? '';
    if (hostBinding && !parseCidr4(`${hostBinding}/32`))
      throw new InvalidParameter(`failed to parse ${BRIDGE_OPTS.hostBinding} value: ${hostBinding}`);

    const id = opts.id ?? randomBytes(32).toString('hex');
    if (opts.id !== undefined && (!/^[a-z0-9]{1,64}$/.test(opts.id) || this.repo.get(opts.id))) {
      throw new Conflict(`network with ID ${opts.id} already exists`);
    }
    const bridgeName = options[BRIDGE_OPTS.name] ?? `br-${id.slice(0, 12)}`;
    checkIfName(bridgeName);
    if (this.all().some((n) => n.bridgeName === bridgeName)) {
      throw new Forbidden(`bridge name ${bridgeName} is already in use by another network`);
    }

    // As moby: an explicit EnableIPv6 wins (and drops the driver option), else the option counts.
    let enableIPv6 = req.EnableIPv6 === true;
    const v6opt = options[BRIDGE_OPTS.enableIPv6];
    if (req.EnableIPv6 !== undefined && req.EnableIPv6 !== null) delete options[BRIDGE_OPTS.enableIPv6];
    else if (v6opt !== undefined) {
      try {
        enableIPv6 = parseBool(v6opt);
      } catch {
        throw new InvalidParameter(`driver-opt "${BRIDGE_OPTS.enableIPv6}" is not a valid bool`);
      }
    }
    const all = validateIpamConfigs(req.IPAM?.Config ?? [], enableIPv6);
    const given = all.filter((c) => !isV6Config(c));
    let ipam: IpamConfigRecord;
    if (given.length === 1 && given[0].Subnet) {
      const subnet = given[0].Subnet;
      checkPoolOverlap(
        subnet,
        given[0].IPRange,
        this.all().flatMap((o) => o.ipam.map((c) => ({ subnet: c.Subnet, ipRange: c.IPRange }))),
      );
      // Checks the gateway and aux addresses as dockerd's IPAM does (taken, outside the pool).
      const opened = openSubnet({
        subnet,
        ipRange: given[0].IPRange,
        gateway: given[0].Gateway,
        auxAddresses: given[0].AuxiliaryAddresses,
      });
      ipam = { Subnet: subnet, Gateway: opened.gateway };
      if (given[0].IPRange) ipam.IPRange = given[0].IPRange;
      if (given[0].AuxiliaryAddresses && Object.keys(given[0].AuxiliaryAddresses).length > 0)
        ipam.AuxiliaryAddresses = given[0].AuxiliaryAddresses;
    } else {
      const subnet = await this.bridges.pickFreeSubnet();
      ipam = { Subnet: subnet, Gateway: gatewayFor(subnet) };
    }
    const ipam6 = enableIPv6 ? this.bridges.ipv6Config(all.find((c) => isV6Config(c))) : undefined;

    const rec: NetworkRecord = {
      id,
      name,
      created: nowRFC3339Nano(),
      driver: 'bridge',
      internal: req.Internal === true,
      attachable: req.Attachable === true,
      enableIPv6,
      labels: { ...(req.Labels ?? {}) },
      options,
      ipamDriver: 'default',
      ipamOptions: { ...(req.IPAM?.Options ?? {}) },
      ipamConfigured: given.length > 0 && given[0].Subnet !== undefined,
      ipam: ipam6 ? [ipam, ipam6] : [ipam],
      bridgeName,
      mtu,
      icc,
      masquerade,
      hostBindingIpv4: hostBinding || undefined,
      builtin: false,
    };
    try {
      this.repo.insert({ id, name, created: rec.created, recordJson: JSON.stringify(rec) });
    } catch (err) {
      if (err instanceof NetworkNameTakenError) throw new Conflict(`network with name ${name} already exists`);
      throw err;
    }
    try {
      await this.bridges.bringUp(rec);
      if (!rec.ipamConfigured) await this.bridges.settleAutoSubnet(rec);
      await this.syncFirewall();
    } catch (err) {
      this.repo.delete(id);
      await this.bridges.releaseBridge(rec).catch(() => undefined);
      throw new Forbidden(`failed to create the network's bridge: ${errorMessage(err)}`);
    }
    this.events.publish('network', 'create', id, { name, type: 'bridge' });
    return { Id: id, Warning: '' };
  }

  // ------------------------------------------------------------------ queries

  /** withStatus: API 1.52+ shows the addresses in use per subnet. */
  inspect(input: string, withStatus = false): NetworkView {
    const n = this.get(input);
    const view = networkView(n, this.endpoints(n.id), (id) => this.usage.containerName(id) ?? '', true);
    if (withStatus) {
      const a = n.driver === 'bridge' && n.ipam[0] ? this.allocator(n) : undefined;
      const st = a && { inUse: a.inUse(), available: a.available() };
      view.Status = { IPAM: { Subnets: st ? { [n.ipam[0].Subnet]: { IPsInUse: st.inUse, DynamicIPsAvailable: st.available } } : {} } };
      const a6 = this.allocator6(n);
      if (a6) view.Status.IPAM.Subnets[a6.text] = { IPsInUse: a6.inUse(), DynamicIPsAvailable: int64(a6.available()) };
    }
    return view;
  }

  /** withContainers: each network's endpoints, as inspect shows them (the list before API 1.28). */
  list(filter: NetworkListFilter, withContainers = false): NetworkView[] {
    const out: NetworkView[] = [];
    for (const n of this.all()) {
      const dangling = !n.builtin && this.usage.networkUsers(n.id).length === 0;
      if (!filter.match(n, dangling)) continue;
      out.push(networkView(n, this.endpoints(n.id), (id) => this.usage.containerName(id) ?? '', withContainers));
    }
    return out;
  }

  // ------------------------------------------------------------------ remove and prune

  remove(input: string): Promise<void> {
    return this.inTurn(() => this.removeNow(input));
  }

  private async removeNow(input: string): Promise<void> {
    const n = this.get(input);
    if (n.builtin) throw new Forbidden(`${n.name} is a pre-defined network and cannot be removed`);
    const active = this.endpoints(n.id);
    if (active.length > 0) {
      throw new Forbidden(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    }
    this.repo.delete(n.id);
    await this.bridges.releaseBridge(n).catch((err: unknown) => this.logger.warn({ err, network: n.name }, 'bridge removal failed'));
    await this.syncFirewall().catch((err: unknown) => this.logger.warn({ err }, 'firewall update failed'));
    this.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
  }

  async prune(opts: {
    until?: number;
    labels: (l: Readonly<Record<string, string>>) => boolean;
  }): Promise<{ NetworksDeleted: string[] | null }> {
    const deleted: string[] = [];
    for (const n of this.all()) {
      if (n.builtin) continue;
      if (opts.until !== undefined && Date.parse(n.created) / 1000 >= opts.until) continue;
      if (!opts.labels(n.labels)) continue;
      if (this.endpoints(n.id).length > 0 || this.usage.networkUsers(n.id).length > 0) continue;
      try {
        await this.remove(n.id);
        deleted.push(n.name);
      } catch (err) {
        this.logger.debug({ err, network: n.name }, 'prune skipped network');
      }
    }
    this.events.publish('network', 'prune', '', { reclaimed: '0' });
    return { NetworksDeleted: deleted.length > 0 ? deleted : null };
  }

  /**
   * Daemon stop (every container is stopped by then): the DNS listeners, the bridges and the
   * firewall chains go, so a stopped daemon leaves nothing in the kernel; init makes them again.
   */
  shutdown(opts: { keepKernelState?: boolean } = {}): Promise<void> {
    return this.inTurn(() => this.shutdownNow(opts));
  }

  private async shutdownNow(opts: { keepKernelState?: boolean }): Promise<void> {
    this.stopped = true;
    await this.dns.closeAll().catch(() => undefined);
    // Live restore: running containers keep their bridges, routes and published ports' rules.
    if (opts.keepKernelState) return;
    for (const n of this.all()) {
      if (n.bridgeName && (n.name !== 'bridge' || this.deps.defaultBridge.bridge === null)) {
        await this.bridges
          .releaseBridge(n)
          .catch((err: unknown) => this.logger.warn({ err, bridge: n.bridgeName }, 'bridge removal failed'));
      }
    }
    await this.firewall.teardown().catch((err: unknown) => this.logger.warn({ err }, 'firewall teardown failed'));
  }

  publishNetworkEvent(action: 'connect' | 'disconnect', n: NetworkRecord, containerId: string): void {
    this.events.publish('network', action, n.id, { container: containerId, name: n.name, type: n.driver });
  }
}

const BUILTIN_NAME_SET = new Set<string>(['bridge', 'host', 'none']);

/** The daemon's tag for its kernel objects: short and stable per containerd namespace. */
export function networkTag(namespace: string): { defaultBridge: string; chainPrefix: string } {
  if (namespace === 'berth') return { defaultBridge: 'berth0', chainPrefix: 'BERTH' };
  const h = createHash('sha256').update(namespace).digest('hex').slice(0, 6);
  return { defaultBridge: `berth-${h}`, chainPrefix: `BERTH-${h.toUpperCase()}` };
}
