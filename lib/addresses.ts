// IP address syntax as Go's net.ParseIP and netip.ParseAddr accept it (what dockerd checks user
// input with), on ipaddr.js. ipaddr.js alone is laxer than Go: it reads octal, hex and short IPv4
// forms ("0x7f.1", "010.0.0.1") and zones; those are refused here before it is asked.
import ipaddr from 'ipaddr.js';

/** Four decimal octets without leading zeros; ipaddr.js then checks each is at most 255. */
const DOTTED_QUAD = /^(?:(?:0|[1-9][0-9]{0,2})\.){3}(?:0|[1-9][0-9]{0,2})$/;

/** Go's IPv4 text: "10.0.0.1", never "010.0.0.1", "10.1" or "0x0a.0.0.1". */
export function isIPv4(s: string): boolean {
  return DOTTED_QUAD.test(s) && ipaddr.IPv4.isValid(s);
}

/**
 * Go's IPv6 text: groups of at most four hex digits, at most one "::", optionally ending in a
 * dotted quad ("::ffff:10.0.0.1"). A zone ("fe80::1%eth0") only with `zone` (netip.ParseAddr
 * takes one, net.ParseIP does not).
 */
export function isIPv6(s: string, opts: { zone?: boolean } = {}): boolean {
  const pct = s.indexOf('%');
  if (pct >= 0 && (!opts.zone || pct === s.length - 1)) return false;
  const addr = pct < 0 ? s : s.slice(0, pct);
  if (!addr.includes(':') || !/^[0-9a-fA-F:.]+$/.test(addr)) return false;
  const tail = addr.slice(addr.lastIndexOf(':') + 1);
  if (tail.includes('.') && !isIPv4(tail)) return false;
  return ipaddr.IPv6.isValid(addr);
}

/** 4 or 6 for an address Go's net.ParseIP takes (netip.ParseAddr with `zone`), else 0. */
export function ipFamily(s: string, opts: { zone?: boolean } = {}): 0 | 4 | 6 {
  if (isIPv4(s)) return 4;
  return isIPv6(s, opts) ? 6 : 0;
}

/** Go's net.ParseIP(s) != nil (netip.ParseAddr's success with `zone`). */
export function isIP(s: string, opts: { zone?: boolean } = {}): boolean {
  return ipFamily(s, opts) !== 0;
}

/** The four octets of an IPv4 address in Go's syntax, or null. */
export function ipv4Octets(s: string): [number, number, number, number] | null {
  if (!isIPv4(s)) return null;
  const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(s).octets;
  return [a, b, c, d];
}

/** Go's net.SplitHostPort of "host:port" or "[v6]:port", with a decimal port of 0-65535; null if malformed. */
export function splitHostPort(addr: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return null;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** A listen host reachable from this machine only: "localhost", 127.0.0.0/8 or ::1 ('' is every address). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return ipaddr.IPv4.parse(host).range() === 'loopback';
  return isIPv6(host) && ipaddr.IPv6.parse(host).range() === 'loopback';
}
