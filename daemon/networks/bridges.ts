// The Linux bridges of the bridge networks: making one with its gateway address (claimed in
// SQLite first), releasing it, and choosing a free subnet that no host route or other daemon uses.
import type { Logger } from 'pino';
import { cidrOverlaps, parseCidr4 } from '../../network/cidr';
import { DEFAULT_POOLS, gatewayFor, pickSubnet, type IpamConfigInput, type PoolSpec } from '../../network/ipam';
import { checkPoolOverlap6, openSubnet6, pickSubnet6 } from '../../network/ipam6';
import type { Links } from '../../network/links';
import type { NetworkRepo } from '../../store/network-repo';
import { Forbidden, InvalidParameter } from '../../lib/errors';
import { canonicalCidr6, parseCidr6 } from '../../network/cidr6';
import { ipamV6, type IpamConfigRecord, type NetworkRecord } from './model';

export interface NetworkBridgesDeps {
  repo: NetworkRepo;
  links: Links;
  logger: Logger;
  pools: PoolSpec[];
  /** The daemon's ULA /48 (ipam6.ulaBase). */
  ula: string;
  /** This daemon's networks, whose subnets are taken. */
  networks: () => NetworkRecord[];
}

export class NetworkBridges {
  constructor(private readonly deps: NetworkBridgesDeps) {}

  /**
   * The IPv6 config of a new network: the given subnet (checked against this daemon's other IPv6
   * subnets, its gateway and aux addresses claimed), else the next free /64 of the daemon's ULA
   * /48, as moby v27+ (20.10 refused --ipv6 without a subnet: no default IPv6 pool).
   */
  ipv6Config(given: IpamConfigInput | undefined): IpamConfigRecord {
    const taken = this.deps.networks().flatMap((o) => o.ipam.map((c) => c.Subnet).filter((s) => s.includes(':')));
    if (given?.Subnet) {
      const subnet = canonicalCidr6(given.Subnet);
      checkPoolOverlap6(subnet, taken);
      const gateway = openSubnet6({ subnet, ipRange: given.IPRange, gateway: given.Gateway, auxAddresses: given.AuxiliaryAddresses });
      const out: IpamConfigRecord = { Subnet: subnet, Gateway: gateway };
      if (given.IPRange) out.IPRange = canonicalCidr6(given.IPRange);
      if (given.AuxiliaryAddresses && Object.keys(given.AuxiliaryAddresses).length > 0) out.AuxiliaryAddresses = given.AuxiliaryAddresses;
      return out;
    }
    const subnet = pickSubnet6(this.deps.ula, taken);
    if (!subnet)
      throw new Forbidden('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
    return { Subnet: subnet, Gateway: openSubnet6({ subnet }) };
  }

  /** Subnets in use: this daemon's networks and the host's routes (other daemons' bridges, the LAN). */
  private async takenSubnets(exceptBridge?: string): Promise<string[]> {
    const mine = this.deps.networks().flatMap((n) => n.ipam.map((c) => c.Subnet));
    const routes = (await this.deps.links.hostRoutes()).filter((r) => r.dev !== exceptBridge).map((r) => r.dst);
    return [...mine, ...routes];
  }

  async pickFreeSubnet(exceptBridge?: string): Promise<string> {
    const subnet = pickSubnet(this.deps.pools.length > 0 ? this.deps.pools : DEFAULT_POOLS, await this.takenSubnets(exceptBridge));
    if (!subnet)
      throw new Forbidden('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    return subnet;
  }

  async overlapsForeignRoute(subnet: string, ownBridge: string): Promise<boolean> {
    const c = parseCidr4(subnet);
    if (!c) return false;
    for (const r of await this.deps.links.hostRoutes()) {
      const rc = parseCidr4(r.dst);
      if (r.dev !== ownBridge && rc && cidrOverlaps(c, rc)) return true;
    }
    return false;
  }

  /**
   * Two daemons starting at once can pick the same free subnet (each checked the host's routes
   * before the other's bridge existed). Once our bridge is up we look again: whoever sees a rival
   * route on another interface moves on to the next free subnet. Of two bridges made at once, the
   * one checked last always sees the other, so at least one moves; a random pause keeps two that
   * both moved from landing together again.
   */
  async settleAutoSubnet(rec: NetworkRecord): Promise<void> {
    const bridge = rec.bridgeName as string;
    const avoid: string[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const mine = parseCidr4(rec.ipam[0].Subnet);
      if (!mine) return;
      const rivals = (await this.deps.links.hostRoutes()).filter((r) => {
        const rc = parseCidr4(r.dst);
        return r.dev !== bridge && rc !== null && cidrOverlaps(rc, mine);
      });
      if (rivals.length === 0) return;
      this.deps.logger.info(
        { network: rec.name, subnet: rec.ipam[0].Subnet, rivals },
        'subnet taken at the same moment elsewhere: picking another',
      );
      await this.releaseBridge(rec);
      avoid.push(rec.ipam[0].Subnet, ...rivals.map((r) => r.dst));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 50)));
      const pools = this.deps.pools.length > 0 ? this.deps.pools : DEFAULT_POOLS;
      const subnet = pickSubnet(pools, [...(await this.takenSubnets(bridge)), ...avoid]);
      if (!subnet)
        throw new Forbidden('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      rec.ipam = [{ ...rec.ipam[0], Subnet: subnet, Gateway: gatewayFor(subnet) }, ...rec.ipam.slice(1)];
      this.deps.repo.update(rec.id, JSON.stringify(rec));
      await this.bringUp(rec);
    }
  }

  /** The Linux bridge with its gateway address. */
  async bringUp(n: NetworkRecord): Promise<void> {
    if (n.driver !== 'bridge' || !n.bridgeName) return;
    const cfg = n.ipam[0];
    const c = parseCidr4(cfg.Subnet);
    if (!c) throw new InvalidParameter(`invalid subnet ${cfg.Subnet}`);
    const name = n.bridgeName;
    const cidr = `${cfg.Gateway}/${c.prefix}`;
    const prior = this.deps.repo.bridge(name);
    const mine = prior?.networkId === n.id ? prior : undefined;
    // The claim is written before the link is made: a crash right after still knows it is ours.
    const res = await this.deps.links.ensureBridge(name, cidr, n.mtu ?? 1500, () =>
      this.deps.repo.putBridge({ name, networkId: n.id, created: true, address: null }),
    );
    if (!res.created) {
      // A link that was there: ours only when our own claim says so (left by a crash); else the host's.
      const ours = mine?.created === true;
      const address = ours ? null : res.addressAdded ? cidr : (mine?.address ?? null);
      this.deps.repo.putBridge({ name, networkId: n.id, created: ours, address });
    }
    // The IPv6 gateway. On an adopted bridge it stays when the network goes (it may be the host's).
    const v6 = ipamV6(n);
    const c6 = v6 && parseCidr6(v6.Subnet);
    if (v6 && c6) await this.deps.links.ensureAddress6(name, `${v6.Gateway}/${c6.prefix}`);
  }

  /**
   * Undoes bringUp's kernel side: a bridge berthd made is deleted; an adopted host bridge keeps
   * everything but the gateway address berthd added. Without a claim nothing is touched.
   */
  async releaseBridge(n: NetworkRecord): Promise<void> {
    const name = n.bridgeName;
    if (!name) return;
    const row = this.deps.repo.bridge(name);
    if (!row || row.networkId !== n.id) {
      this.deps.logger.info({ bridge: name, network: n.name }, 'bridge not claimed by this network: left alone');
      return;
    }
    if (row.created) await this.deps.links.deleteBridge(name);
    else if (row.address) await this.deps.links.deleteAddress(name, row.address);
    this.deps.repo.deleteBridge(name);
  }
}
