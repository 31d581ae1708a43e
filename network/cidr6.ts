// IPv6 address and CIDR arithmetic on 128-bit bigints. Addresses are read as strictly as Go's
// netip (lib/addresses.ts, no zones) and written as Go writes them (RFC 5952: lower case, the
// longest run of zero groups as "::").
import ipaddr from 'ipaddr.js';
import { isIPv6 } from '../lib/addresses';

export interface Cidr6 {
  /** 128-bit; may have host bits set (a gateway written as "fd00::1/64"). */
  ip: bigint;
  prefix: number;
}

const ALL = (1n << 128n) - 1n;

/** The address as a 128-bit number, null if `s` is not an IPv6 address in Go's syntax. An
 *  IPv4-mapped address ("::ffff:1.2.3.4") is an IPv6 address here, as netip.Addr.Is6 says. */
export function parseIpv6(s: string): bigint | null {
  if (!isIPv6(s)) return null;
  let n = 0n;
  for (const b of ipaddr.IPv6.parse(s).toByteArray()) n = (n << 8n) | BigInt(b);
  return n;
}

export function formatIpv6(n: bigint): string {
  const bytes: number[] = [];
  for (let i = 15; i >= 0; i--) bytes.push(Number((n >> BigInt(i * 8)) & 0xffn));
  return new ipaddr.IPv6(bytes).toRFC5952String();
}

export function parseCidr6(s: string): Cidr6 | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIpv6(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (ip === null || !/^(0|[1-9][0-9]{0,2})$/.test(bits)) return null;
  const prefix = Number(bits);
  if (prefix > 128) return null;
  return { ip, prefix };
}

export function formatCidr6(c: Cidr6): string {
  return `${formatIpv6(c.ip)}/${c.prefix}`;
}

function mask(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

export function maskedCidr6(c: Cidr6): Cidr6 {
  return { ip: c.ip & mask(c.prefix), prefix: c.prefix };
}

export function lastAddress6(c: Cidr6): bigint {
  return (c.ip & mask(c.prefix)) | (~mask(c.prefix) & ALL);
}

export function cidr6Contains(c: Cidr6, ip: bigint): boolean {
  return (ip & mask(c.prefix)) === (c.ip & mask(c.prefix));
}

export function cidr6Overlaps(a: Cidr6, b: Cidr6): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.ip & mask(p)) === (b.ip & mask(p));
}

/** A subnet in Go's text ("fd00:1::/64"), or the input when it is not one. */
export function canonicalCidr6(s: string): string {
  const c = parseCidr6(s);
  return c ? formatCidr6(c) : s;
}

/** An address in Go's text, or the input when it is not one. */
export function canonicalIpv6(s: string): string {
  const n = parseIpv6(s);
  return n === null ? s : formatIpv6(n);
}

/** Link-local fe80::/10. */
export function isLinkLocal6(n: bigint): boolean {
  return n >> 118n === 0x3fan;
}
