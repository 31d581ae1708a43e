// IPv6 address management as dockerd's default IPAM driver does it for IPv6 subnets: checking a
// network create's IPv6 config, carving /64s from the daemon's ULA pool when no subnet is given
// (moby v27+'s deriveULABaseNetwork), and handing out addresses inside one subnet. Pure, as
// ipam.ts: the caller supplies what is taken and persists what is allocated.
import { createHash } from 'node:crypto';
import { Forbidden, InvalidParameter, SystemError } from '../lib/errors';
import {
  cidr6Contains,
  cidr6Overlaps,
  formatCidr6,
  formatIpv6,
  lastAddress6,
  maskedCidr6,
  parseCidr6,
  parseIpv6,
  type Cidr6,
} from './cidr6';

export interface Ipv6ConfigInput {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** Whether a config's subnet is IPv6 (what dockerd files under ipamV6Config). */
export function isV6Config(cfg: { Subnet?: string }): boolean {
  return (cfg.Subnet ?? '').includes(':');
}

function addressProblem(addr: string, subnet: Cidr6): string | null {
  if (!addr.includes(':')) return 'parent subnet is an IPv6 block';
  const ip = parseIpv6(addr.includes('/') ? addr.slice(0, addr.indexOf('/')) : addr);
  if (ip === null) return 'invalid address';
  if (!cidr6Contains(subnet, ip)) return `parent subnet ${formatCidr6(subnet)} doesn't contain this address`;
  return null;
}

/** dockerd's validateIpamConfig for one IPv6 config: the problems, in dockerd's words. */
export function ipv6ConfigProblems(cfg: Ipv6ConfigInput): string[] {
  const errs: string[] = [];
  const subnetText = cfg.Subnet ?? '';
  const subnet = parseCidr6(subnetText);
  if (!subnet) return [`invalid subnet ${subnetText}: invalid CIDR block notation`];
  const masked = maskedCidr6(subnet);
  if (masked.ip !== subnet.ip) errs.push(`invalid subnet ${formatCidr6(subnet)}: it should be ${formatCidr6(masked)}`);
  const rangeText = cfg.IPRange ?? '';
  if (rangeText !== '') {
    const range = parseCidr6(rangeText);
    if (!rangeText.includes(':')) errs.push(`invalid ip-range ${rangeText}: parent subnet is an IPv6 block`);
    else if (!range) errs.push(`invalid ip-range ${rangeText}: invalid CIDR block notation`);
    else {
      if (range.prefix < subnet.prefix) {
        errs.push(`invalid ip-range ${formatCidr6(range)}: CIDR block is bigger than its parent subnet ${formatCidr6(subnet)}`);
      }
      const rm = maskedCidr6(range);
      if (rm.ip !== range.ip) errs.push(`invalid ip-range ${formatCidr6(range)}: it should be ${formatCidr6(rm)}`);
      if (!cidr6Overlaps(masked, rm)) {
        errs.push(`invalid ip-range ${formatCidr6(range)}: parent subnet ${formatCidr6(subnet)} doesn't contain ip-range`);
      }
    }
  }
  if (cfg.Gateway) {
    const p = addressProblem(cfg.Gateway, subnet);
    if (p) errs.push(`invalid gateway ${cfg.Gateway}: ${p}`);
  }
  for (const [name, aux] of Object.entries(cfg.AuxiliaryAddresses ?? {})) {
    const p = addressProblem(aux, subnet);
    if (p) errs.push(`invalid auxiliary address ${name}: ${p}`);
  }
  return errs;
}

/**
 * The daemon's own ULA /48 (RFC 4193 style, as moby's deriveULABaseNetwork): fd00::/8 with 40
 * bits of a hash of `seed`, split into /64s for networks created with --ipv6 and no subnet.
 */
export function ulaBase(seed: string): string {
  const sha = createHash('sha256').update(seed).digest();
  const gid = sha.readBigUInt64BE(0) & ((1n << 40n) - 1n);
  return formatCidr6({ ip: (0xfdn << 120n) | (gid << 80n), prefix: 48 });
}

/** The first /64 of `base` (a /48 or shorter) that overlaps none of `taken` (IPv6 CIDRs; others ignored). */
export function pickSubnet6(base: string, taken: string[], size = 64): string | null {
  const b = parseCidr6(base);
  if (!b || size < b.prefix || size > 128) return null;
  const busy = taken.map((t) => parseCidr6(t)).filter((c): c is Cidr6 => c !== null);
  const start = maskedCidr6(b).ip;
  const step = 1n << BigInt(128 - size);
  const count = 1n << BigInt(size - b.prefix);
  // Networks are few: a linear walk past the busy ones is bounded by their number.
  for (let i = 0n; i < count && i <= BigInt(busy.length); i++) {
    const c: Cidr6 = { ip: start + i * step, prefix: size };
    if (!busy.some((t) => cidr6Overlaps(t, c))) return formatCidr6(c);
  }
  return null;
}

/** checkPoolOverlap for IPv6 subnets (dockerd's static pool request check). */
export function checkPoolOverlap6(subnet: string, existing: string[]): void {
  const c = parseCidr6(subnet);
  if (!c) throw new InvalidParameter(`invalid subnet ${subnet}: invalid CIDR block notation`);
  for (const e of existing) {
    const ec = parseCidr6(e);
    if (ec && cidr6Overlaps(ec, c)) throw new Forbidden('invalid pool request: Pool overlaps with other one on this address space');
  }
}

/**
 * One IPv6 subnet's allocator, as dockerd's: the subnet-router anycast address (the network
 * address) is never handed out, nor reserved ones; IPv6 has no broadcast address. Addresses
 * come lowest first from the ip-range (or the subnet).
 */
export class Subnet6Allocator {
  readonly subnet: Cidr6;
  private readonly lo: bigint;
  private readonly hi: bigint;
  private readonly used = new Set<bigint>();

  constructor(opts: { subnet: string; ipRange?: string; reserved: string[] }) {
    const c = parseCidr6(opts.subnet);
    if (!c) throw new InvalidParameter(`invalid subnet ${opts.subnet}: invalid CIDR block notation`);
    this.subnet = maskedCidr6(c);
    this.lo = this.subnet.ip;
    this.hi = lastAddress6(this.subnet);
    if (opts.ipRange) {
      const r = parseCidr6(opts.ipRange);
      if (r && cidr6Overlaps(maskedCidr6(r), this.subnet)) {
        const rm = maskedCidr6(r);
        this.lo = rm.ip > this.lo ? rm.ip : this.lo;
        const rl = lastAddress6(rm);
        this.hi = rl < this.hi ? rl : this.hi;
      }
    }
    this.used.add(this.subnet.ip);
    for (const r of opts.reserved) {
      const ip = parseIpv6(r.includes('/') ? r.slice(0, r.indexOf('/')) : r);
      if (ip !== null && cidr6Contains(this.subnet, ip)) this.used.add(ip);
    }
  }

  claim(ip: string): boolean {
    const n = parseIpv6(ip);
    if (n === null || !cidr6Contains(this.subnet, n) || this.used.has(n)) return false;
    this.used.add(n);
    return true;
  }

  /** A static --ip6: taken → Forbidden "Address already in use" (403), as for IPv4. */
  claimOrThrow(ip: string): void {
    const n = parseIpv6(ip);
    if (n === null || !cidr6Contains(this.subnet, n)) {
      throw new InvalidParameter(`invalid endpoint settings:\nno configured subnet contains IP address ${ip}`);
    }
    if (!this.claim(ip)) throw new Forbidden('Address already in use');
  }

  allocate(network?: { name: string; id: string }): string {
    // Each step passes a used address, so the scan is bounded by the number in use.
    for (let ip = this.lo; ip <= this.hi; ip++) {
      if (!this.used.has(ip)) {
        this.used.add(ip);
        return formatIpv6(ip);
      }
    }
    throw new SystemError(
      network
        ? `no available IPv6 addresses on this network's address pools: ${network.name} (${network.id})`
        : 'no available addresses on this pool',
    );
  }

  release(ip: string): void {
    const n = parseIpv6(ip);
    if (n === null || n === this.subnet.ip) return;
    this.used.delete(n);
  }

  contains(ip: string): boolean {
    const n = parseIpv6(ip);
    return n !== null && cidr6Contains(this.subnet, n);
  }

  inUse(): number {
    return this.used.size;
  }

  /** How many addresses allocate() could still hand out, capped at 2^64-1 as moby's uint64. */
  available(): bigint {
    let inRange = 0n;
    for (const n of this.used) if (n >= this.lo && n <= this.hi) inRange++;
    const free = this.hi - this.lo + 1n - inRange;
    const max = (1n << 64n) - 1n;
    return free > max ? max : free;
  }

  /** The subnet in Go's text. */
  get text(): string {
    return formatCidr6(this.subnet);
  }
}

/** A new IPv6 subnet's gateway: given (claimed), else the first free address ("::1"). */
export function openSubnet6(cfg: { subnet: string; ipRange?: string; gateway?: string; auxAddresses?: Record<string, string> }): string {
  const alloc = new Subnet6Allocator({ subnet: cfg.subnet, ipRange: cfg.ipRange, reserved: [] });
  let gateway: string;
  if (cfg.gateway) {
    const gw = cfg.gateway.includes('/') ? cfg.gateway.slice(0, cfg.gateway.indexOf('/')) : cfg.gateway;
    if (!alloc.claim(gw)) throw new SystemError(`failed to allocate gateway (${cfg.gateway}): requested address is out of range`);
    gateway = formatIpv6(parseIpv6(gw) as bigint);
  } else {
    gateway = alloc.allocate();
  }
  for (const [name, ip] of Object.entries(cfg.auxAddresses ?? {})) {
    if (!alloc.contains(ip)) {
      throw new Forbidden(`auxiliary address: (${name}:${ip}) must belong to the master pool: ${formatCidr6(alloc.subnet)}`);
    }
    if (!alloc.claim(ip)) throw new SystemError(`failed to allocate secondary ip address (${name}:${ip}): Address already in use`);
  }
  return gateway;
}
