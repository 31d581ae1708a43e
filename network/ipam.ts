// IPv4 address management as dockerd's default IPAM driver does it: picking a subnet for a
// network from the default address pools, validating a network create's IPAM config, and
// handing out addresses inside one subnet. Pure: the caller supplies what is taken (other
// networks' subnets, host routes) and persists what is allocated.
//
// Error texts and kinds are dockerd's (moby v29, API 1.53); where dockerd 20.10 differs the
// comment says so.

import { Forbidden, InvalidParameter, SystemError } from '../lib/errors';
import { canonicalIpv6 } from './cidr6';
import { ipv6ConfigProblems } from './ipam6';
import {
  broadcastAddress,
  cidrContains,
  cidrOverlaps,
  formatCidr4,
  formatIpv4,
  maskedCidr,
  networkAddress,
  parseCidr4,
  parseIpv4,
  type Cidr4,
} from './cidr';

/** One default-address-pools entry: `base` is split into subnets of prefix length `size`. */
export interface PoolSpec {
  base: string;
  size: number;
}

/** dockerd's local-scope defaults: 172.17/16 … 172.31/16, then 192.168.0.0/16 in /20 steps. */
export const DEFAULT_POOLS: PoolSpec[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

interface Pool {
  base: Cidr4;
  size: number;
}

/** Pools as dockerd's addrSpace holds them: sorted by address (then shorter prefix first),
 *  a pool overlapping an earlier one dropped, so the order of the config does not matter. */
function orderedPools(pools: PoolSpec[]): Pool[] {
  const parsed = pools.map((p): Pool => {
    const c = parseCidr4(p.base);
    if (!c || !Number.isInteger(p.size) || p.size < c.prefix || p.size > 32) {
      throw new InvalidParameter(`invalid address pool ${JSON.stringify(p.base)} with size ${p.size}`);
    }
    return { base: maskedCidr(c), size: p.size };
  });
  parsed.sort((a, b) => a.base.ip - b.base.ip || a.base.prefix - b.base.prefix);
  const out: Pool[] = [];
  for (const p of parsed) {
    const last = out[out.length - 1];
    if (last && cidrOverlaps(last.base, p.base)) continue;
    out.push(p);
  }
  return out;
}

function parseTaken(taken: string[]): Cidr4[] {
  const out: Cidr4[] = [];
  for (const t of taken) {
    const c = parseCidr4(t);
    if (c) out.push(maskedCidr(c));
  }
  return out;
}

/**
 * First subnet carved from the pools (in address order) that overlaps none of `taken` (CIDR
 * strings; unparsable entries and IPv6 are ignored); null when every pool is used up.
 * Stateless lowest-first choice as moby v29's allocatePredefinedPool (20.10 instead
 * round-robined through the pools, so a removed network's subnet was not reused at once).
 * `taken` must not hold the default route: 0.0.0.0/0 overlaps everything.
 */
export function pickSubnet(pools: PoolSpec[], taken: string[]): string | null {
  const busy = parseTaken(taken);
  for (const pool of orderedPools(pools)) {
    const step = 2 ** (32 - pool.size);
    const end = broadcastAddress(pool.base);
    let cand = pool.base.ip;
    while (cand <= end) {
      const c: Cidr4 = { ip: cand, prefix: pool.size };
      let skipTo = -1;
      for (const t of busy) {
        if (cidrOverlaps(t, c)) skipTo = Math.max(skipTo, broadcastAddress(t) + 1);
      }
      if (skipTo < 0) return formatCidr4(c);
      // Jump past the blocking block, staying aligned to the subnet size.
      cand = Math.max(cand + step, Math.ceil(skipTo / step) * step);
    }
  }
  return null;
}

/** Whether `subnet` overlaps any of `taken` (unparsable entries ignored). */
export function subnetOverlapsAny(subnet: string, taken: string[]): boolean {
  const c = parseCidr4(subnet);
  if (!c) throw new InvalidParameter(`invalid subnet ${subnet}: invalid CIDR block notation`);
  return parseTaken(taken).some((t) => cidrOverlaps(t, c));
}

/**
 * The gateway dockerd picks when none is given: the first free address of the ip-range, else
 * of the subnet (network address excluded), i.e. x.y.z.1 for a plain subnet. Throws dockerd's
 * "failed to allocate gateway (): no available addresses on this pool" for a /31 or /32.
 */
export function gatewayFor(subnet: string, ipRange?: string): string {
  const alloc = new SubnetAllocator({ subnet, ipRange, reserved: [] });
  try {
    return alloc.allocate();
  } catch (err) {
    if (err instanceof NoAvailableAddresses) throw new SystemError(`failed to allocate gateway (): ${err.message}`);
    throw err;
  }
}

export interface IpamConfigInput {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** An IPv6 value (subnets of IPv6 configs are checked by ipam6.ts). */
function looksIpv6(s: string): boolean {
  return s.includes(':');
}

/** dockerd's validateAddress: the reason an address does not fit the subnet, or null. */
function addressProblem(addr: string, subnet: Cidr4): string | null {
  if (looksIpv6(addr)) return 'parent subnet is an IPv4 block';
  // The v1.53 API still accepts a gateway written with a prefix ("172.18.0.1/16").
  const slash = addr.indexOf('/');
  const ip = parseIpv4(slash < 0 ? addr : addr.slice(0, slash));
  if (ip === null || (slash >= 0 && !parseCidr4(addr))) return 'invalid address';
  if (!cidrContains(subnet, ip)) return `parent subnet ${formatCidr4(subnet)} doesn't contain this address`;
  return null;
}

function stripPrefix(addr: string): string {
  const slash = addr.indexOf('/');
  return slash < 0 ? addr : addr.slice(0, slash);
}

/**
 * dockerd's checks of a network create's IPAM config (daemon validateIpamConfig, then the bridge
 * driver's one-subnet rule). Every problem is reported at once as dockerd does:
 * "invalid network config:\n<problem>" for one, "invalid network config:\n* a\n* b" for several
 * (InvalidParameter, 400). More than one IPv4 config: Forbidden (403) "bridge driver doesn't
 * support multiple subnets", for each family. IPv6 configs are checked when `enableIPv6`, and
 * dropped without a word when not (moby v25+, issue 47202; 20.10 kept them in inspect).
 * Returns the configs with empty fields dropped and the gateway without a prefix.
 * (dockerd 20.10 checked none of this up front and failed later with 500s such as
 * "failed to allocate gateway (10.9.9.9): Requested address is out of range".)
 */
export function validateIpamConfigs(all: IpamConfigInput[], enableIPv6 = false): IpamConfigInput[] {
  const errs: string[] = [];
  let v4 = 0;
  let v6 = 0;
  const configs = all.filter((cfg) => enableIPv6 || !looksIpv6(cfg.Subnet ?? ''));
  for (const cfg of configs) {
    const subnetText = cfg.Subnet ?? '';
    if (looksIpv6(subnetText)) {
      v6++;
      errs.push(...ipv6ConfigProblems(cfg));
      continue;
    }
    v4++;
    if (subnetText === '') {
      // No subnet: one is picked from the pools. What else is given cannot be in it; v29
      // words it with Go's zero netip.Prefix.
      if (cfg.IPRange) errs.push(`invalid ip-range ${cfg.IPRange}: parent subnet invalid Prefix doesn't contain ip-range`);
      if (cfg.Gateway) errs.push(`invalid gateway ${cfg.Gateway}: parent subnet invalid Prefix doesn't contain this address`);
      for (const name of Object.keys(cfg.AuxiliaryAddresses ?? {})) {
        errs.push(`invalid auxiliary address ${name}: parent subnet invalid Prefix doesn't contain this address`);
      }
      continue;
    }
    const subnet = parseCidr4(subnetText);
    if (!subnet) {
      errs.push(`invalid subnet ${subnetText}: invalid CIDR block notation`);
      continue;
    }
    const masked = maskedCidr(subnet);
    if (masked.ip !== subnet.ip) errs.push(`invalid subnet ${subnetText}: it should be ${formatCidr4(masked)}`);

    const rangeText = cfg.IPRange ?? '';
    if (rangeText !== '') {
      const range = parseCidr4(rangeText);
      if (looksIpv6(rangeText)) errs.push(`invalid ip-range ${rangeText}: parent subnet is an IPv4 block`);
      else if (!range) errs.push(`invalid ip-range ${rangeText}: invalid CIDR block notation`);
      else {
        if (range.prefix < subnet.prefix) {
          errs.push(`invalid ip-range ${rangeText}: CIDR block is bigger than its parent subnet ${subnetText}`);
        }
        const rm = maskedCidr(range);
        if (rm.ip !== range.ip) errs.push(`invalid ip-range ${rangeText}: it should be ${formatCidr4(rm)}`);
        if (!cidrOverlaps(masked, rm)) {
          errs.push(`invalid ip-range ${rangeText}: parent subnet ${subnetText} doesn't contain ip-range`);
        }
      }
    }

    const gw = cfg.Gateway ?? '';
    if (gw !== '') {
      const p = addressProblem(gw, subnet);
      if (p) errs.push(`invalid gateway ${gw}: ${p}`);
    }
    for (const [name, aux] of Object.entries(cfg.AuxiliaryAddresses ?? {})) {
      const p = addressProblem(aux, subnet);
      if (p) errs.push(`invalid auxiliary address ${name}: ${p}`);
    }
  }
  if (errs.length === 1) throw new InvalidParameter(`invalid network config:\n${errs[0]}`);
  if (errs.length > 1) throw new InvalidParameter(`invalid network config:\n* ${errs.join('\n* ')}`);
  if (v4 > 1 || v6 > 1) throw new Forbidden("bridge driver doesn't support multiple subnets");

  return configs.map((cfg) => {
    const out: IpamConfigInput = {};
    if (cfg.Subnet) out.Subnet = cfg.Subnet;
    if (cfg.IPRange) out.IPRange = cfg.IPRange;
    if (cfg.Gateway) out.Gateway = looksIpv6(cfg.Gateway) ? canonicalIpv6(stripPrefix(cfg.Gateway)) : stripPrefix(cfg.Gateway);
    if (cfg.AuxiliaryAddresses && Object.keys(cfg.AuxiliaryAddresses).length > 0) {
      out.AuxiliaryAddresses = { ...cfg.AuxiliaryAddresses };
    }
    return out;
  });
}

export interface ExistingPool {
  subnet: string;
  ipRange?: string;
}

/**
 * dockerd's static pool request check for a network create with an explicit subnet, against
 * the subnets of this daemon's other networks: Forbidden (403) "invalid pool request: Pool
 * overlaps with other one on this address space" (20.10: the same without "invalid pool
 * request: "). As in dockerd, a request WITH an ip-range is only refused when the very same
 * subnet and ip-range exist (moby issue 46756): such networks share the subnet.
 */
export function checkPoolOverlap(subnet: string, ipRange: string | undefined, existing: ExistingPool[]): void {
  const c = parseCidr4(subnet);
  if (!c) throw new InvalidParameter(`invalid subnet ${subnet}: invalid CIDR block notation`);
  const net = maskedCidr(c);
  const range = ipRange ? parseCidr4(ipRange) : null;
  const sameRange = (a: Cidr4 | null, b: Cidr4 | null): boolean =>
    a === null || b === null ? a === b : networkAddress(a) === networkAddress(b) && a.prefix === b.prefix;
  for (const e of existing) {
    const ec = parseCidr4(e.subnet);
    if (!ec) continue;
    const en = maskedCidr(ec);
    const same = en.ip === net.ip && en.prefix === net.prefix;
    const clash = range ? same && sameRange(range, e.ipRange ? parseCidr4(e.ipRange) : null) : cidrOverlaps(en, net);
    if (clash) throw new Forbidden('invalid pool request: Pool overlaps with other one on this address space');
  }
}

/** No free address left: dockerd's texts, a plain error there (500). */
export class NoAvailableAddresses extends SystemError {}

export interface SubnetAllocatorOptions {
  subnet: string;
  /** Addresses are handed out from here (inside the subnet); claim() may still use the whole subnet. */
  ipRange?: string;
  /** Gateway, auxiliary addresses: never handed out (ignored when outside the subnet). */
  reserved: string[];
  /** bitseq's serial mode: continue after the last address handed out, wrapping. dockerd uses it
   *  only for swarm networks; its local networks (default false) take the lowest free address,
   *  so a released address is reused at once (measured on dockerd 20.10). */
  serial?: boolean;
}

/**
 * One subnet's address allocator, as dockerd's bitmap: the network and broadcast addresses are
 * never handed out (so a /31 or /32 has no usable address, as in dockerd 20.10), reserved ones
 * neither. Kept as a set of used addresses, so a /8 costs nothing until used.
 */
export class SubnetAllocator {
  readonly subnet: Cidr4;
  /** First and last address allocate() may return. */
  private readonly lo: number;
  private readonly hi: number;
  private readonly used = new Set<number>();
  private readonly serial: boolean;
  private cursor: number;

  constructor(opts: SubnetAllocatorOptions) {
    const c = parseCidr4(opts.subnet);
    if (!c) throw new InvalidParameter(`invalid subnet ${opts.subnet}: invalid CIDR block notation`);
    this.subnet = maskedCidr(c);
    const first = this.subnet.ip;
    const last = broadcastAddress(this.subnet);
    this.lo = first;
    this.hi = last;
    if (opts.ipRange) {
      const r = parseCidr4(opts.ipRange);
      if (!r) throw new InvalidParameter(`invalid ip-range ${opts.ipRange}: invalid CIDR block notation`);
      const rm = maskedCidr(r);
      if (!cidrOverlaps(rm, this.subnet)) {
        throw new InvalidParameter(`invalid ip-range ${opts.ipRange}: parent subnet ${formatCidr4(this.subnet)} doesn't contain ip-range`);
      }
      // A range wider than the subnet means the whole subnet (dockerd's pre-v24 compatibility).
      this.lo = Math.max(first, rm.ip);
      this.hi = Math.min(last, broadcastAddress(rm));
    }
    this.serial = opts.serial ?? false;
    this.cursor = this.lo;
    this.used.add(first);
    this.used.add(last);
    for (const r of opts.reserved) {
      const ip = parseIpv4(stripPrefix(r));
      if (ip !== null && cidrContains(this.subnet, ip)) this.used.add(ip);
    }
  }

  /** Marks an address used (restore, static --ip). false if taken or outside the subnet. */
  claim(ip: string): boolean {
    const n = parseIpv4(ip);
    if (n === null || !cidrContains(this.subnet, n) || this.used.has(n)) return false;
    this.used.add(n);
    return true;
  }

  /** claim() with dockerd's errors for a static address: outside every subnet → InvalidParameter
   *  "invalid address <ip>: It does not belong to any of this network's subnets" (400; 20.10: 500),
   *  taken → Forbidden "Address already in use" (403). */
  claimOrThrow(ip: string): void {
    const n = parseIpv4(ip);
    if (n === null || !cidrContains(this.subnet, n)) {
      throw new InvalidParameter(`invalid address ${ip}: It does not belong to any of this network's subnets`);
    }
    if (!this.claim(ip)) throw new Forbidden('Address already in use');
  }

  /**
   * The next free address of the ip-range (or the subnet): the lowest free one, or with
   * `serial` the first free one after the last handed out, wrapping. When none is left throws
   * NoAvailableAddresses: "no available IPv4 addresses on this network's address pools:
   * <name> (<id>)" when the network is given (dockerd's endpoint text), else the IPAM driver's
   * "no available addresses on this pool".
   */
  allocate(network?: { name: string; id: string }): string {
    const start = this.serial && this.cursor >= this.lo && this.cursor <= this.hi ? this.cursor : this.lo;
    // Each step passes a used address, so the scan is bounded by the number in use.
    for (let ip = start; ip <= this.hi; ip++) if (!this.used.has(ip)) return this.take(ip);
    for (let ip = this.lo; ip < start; ip++) if (!this.used.has(ip)) return this.take(ip);
    throw new NoAvailableAddresses(
      network
        ? `no available IPv4 addresses on this network's address pools: ${network.name} (${network.id})`
        : 'no available addresses on this pool',
    );
  }

  /** Frees an address; the network and broadcast addresses stay reserved. */
  release(ip: string): void {
    const n = parseIpv4(ip);
    if (n === null || n === this.subnet.ip || n === broadcastAddress(this.subnet)) return;
    this.used.delete(n);
  }

  /** Whether the address is inside the subnet. */
  contains(ip: string): boolean {
    const n = parseIpv4(ip);
    return n !== null && cidrContains(this.subnet, n);
  }

  /** Whether the address is in use (including network, broadcast and reserved addresses). */
  has(ip: string): boolean {
    const n = parseIpv4(ip);
    return n !== null && this.used.has(n);
  }

  /** Addresses of the subnet in use or reserved (network, broadcast, gateway, aux included). */
  inUse(): number {
    return this.used.size;
  }

  /** How many addresses allocate() could still hand out. */
  available(): number {
    let inRange = 0;
    for (const n of this.used) if (n >= this.lo && n <= this.hi) inRange++;
    return this.hi - this.lo + 1 - inRange;
  }

  private take(ip: number): string {
    this.used.add(ip);
    this.cursor = ip + 1 > this.hi ? this.lo : ip + 1;
    return formatIpv4(ip);
  }
}

/**
 * A new network's allocator as dockerd sets it up: the gateway (given, else the first free
 * address of the range) then the auxiliary addresses are reserved. Errors as dockerd's (500):
 * "failed to allocate gateway (<gw>): <why>", "failed to allocate secondary ip address
 * (<name>:<ip>): <why>", <why> being "Address already in use" or "no available addresses on
 * this pool". Expects a config that passed validateIpamConfigs.
 */
export function openSubnet(cfg: { subnet: string; ipRange?: string; gateway?: string; auxAddresses?: Record<string, string> }): {
  allocator: SubnetAllocator;
  gateway: string;
} {
  const allocator = new SubnetAllocator({ subnet: cfg.subnet, ipRange: cfg.ipRange, reserved: [] });
  let gateway: string;
  if (cfg.gateway) {
    gateway = stripPrefix(cfg.gateway);
    if (!allocator.claim(gateway)) {
      const why = allocator.contains(gateway) ? 'Address already in use' : 'requested address is out of range';
      throw new SystemError(`failed to allocate gateway (${cfg.gateway}): ${why}`);
    }
  } else {
    try {
      gateway = allocator.allocate();
    } catch (err) {
      if (err instanceof NoAvailableAddresses) throw new SystemError(`failed to allocate gateway (): ${err.message}`);
      throw err;
    }
  }
  for (const [name, ip] of Object.entries(cfg.auxAddresses ?? {})) {
    if (!allocator.claim(ip)) {
      if (!allocator.contains(ip)) {
        throw new Forbidden(`auxiliary address: (${name}:${ip}) must belong to the master pool: ${formatCidr4(allocator.subnet)}`);
      }
      throw new SystemError(`failed to allocate secondary ip address (${name}:${ip}): Address already in use`);
    }
  }
  return { allocator, gateway };
}
