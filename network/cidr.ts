// IPv4 address and CIDR arithmetic on uint32 numbers. IPv4 only: IPv6 networks are refused
// before anything here is reached. Addresses are read by lib/addresses.ts, as strictly as Go's
// netip (which dockerd uses), so what we accept dockerd accepts too.
import { ipv4Octets } from '../lib/addresses';

export interface Cidr4 {
  /** uint32; may have host bits set (e.g. a gateway written as "172.18.0.1/16"). */
  ip: number;
  prefix: number;
}

/** uint32 of a dotted quad, null if `s` is not exactly one. */
export function parseIpv4(s: string): number | null {
  const octets = ipv4Octets(s);
  return octets && octets.reduce((n, o) => n * 256 + o, 0);
}

export function formatIpv4(n: number): string {
  const v = n >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function parseCidr4(s: string): Cidr4 | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIpv4(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (ip === null || !/^(0|[1-9][0-9]?)$/.test(bits)) return null;
  const prefix = Number(bits);
  if (prefix > 32) return null;
  return { ip, prefix };
}

export function formatCidr4(c: Cidr4): string {
  return `${formatIpv4(c.ip)}/${c.prefix}`;
}

/** The netmask as uint32 (shifts by 32 are no-ops in JS, hence the special case). */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function networkAddress(c: Cidr4): number {
  return (c.ip & prefixMask(c.prefix)) >>> 0;
}

export function broadcastAddress(c: Cidr4): number {
  return (networkAddress(c) | ~prefixMask(c.prefix)) >>> 0;
}

/** The CIDR with its host bits cleared ("10.1.2.3/16" → 10.1.0.0/16). */
export function maskedCidr(c: Cidr4): Cidr4 {
  return { ip: networkAddress(c), prefix: c.prefix };
}

/** Number of addresses in the block (2^32 for /0, still exact as a JS number). */
export function cidrSize(c: Cidr4): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(net: Cidr4, ip: number): boolean {
  return ((ip >>> 0) & prefixMask(net.prefix)) >>> 0 === networkAddress(net);
}

/** Two aligned blocks overlap exactly when one contains the other's network address. */
export function cidrOverlaps(a: Cidr4, b: Cidr4): boolean {
  return cidrContains(a, networkAddress(b)) || cidrContains(b, networkAddress(a));
}

/** dockerd's generated MAC for an IPv4 endpoint: 02:42 followed by the 4 address bytes. */
export function macForIp(ip: number): string {
  const v = ip >>> 0;
  const bytes = [0x02, 0x42, v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
