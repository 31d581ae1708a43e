// The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf that dockerd generates and
// bind-mounts, from the container's settings and the host's resolver configuration.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidParameter } from '../../lib/errors';

export interface EtcInput {
  hostname: string;
  domainname: string;
  /** The container's addresses on its networks. */
  addresses: string[];
  /** The embedded DNS server's address (containers on user-defined networks), else null. */
  embeddedDns?: string | null;
  /** Legacy --link targets on the default bridge: their address and names. */
  links?: { ip: string; names: string[] }[];
  /** HostConfig.ExtraHosts: "name:ip" or "name=ip"; ip may be host-gateway. */
  extraHosts: string[];
  hostGatewayIp: string;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  /** Host networking shares the host's hosts and resolver files. */
  hostNetwork: boolean;
}

const DEFAULT_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** Public resolvers dockerd falls back to when the host only has loopback ones. */
const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

export function hostnameFile(input: EtcInput): string {
  return `${input.hostname}\n`;
}

export function extraHostLines(input: EtcInput): string[] {
  return input.extraHosts.map((h) => {
    const sep = h.includes('=') ? h.indexOf('=') : h.indexOf(':');
    const name = h.slice(0, sep);
    let ip = h.slice(sep + 1).replace(/^\[|\]$/g, '');
    if (ip === 'host-gateway') {
      if (!input.hostGatewayIp) throw new InvalidParameter('unable to derive the IP value for host-gateway');
      ip = input.hostGatewayIp;
    }
    return `${ip}\t${name}`;
  });
}

export function hostsFile(input: EtcInput, hostHosts: string): string {
  const lines: string[] = input.hostNetwork ? [hostHosts.replace(/\n+$/, '')] : [...DEFAULT_HOSTS];
  lines.push(...extraHostLines(input));
  for (const l of input.links ?? []) lines.push(`${l.ip}\t${l.names.join(' ')}`);
  if (!input.hostNetwork) {
    const fqdn = input.domainname ? `${input.hostname}.${input.domainname} ${input.hostname}` : input.hostname;
    for (const ip of input.addresses) lines.push(`${ip}\t${fqdn}`);
  }
  return `${lines.join('\n')}\n`;
}

interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
  other: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [], other: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
    else out.other.push(line);
  }
  return out;
}

const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1';

export function resolvConfFile(input: EtcInput, hostResolv: string): string {
  const host = parseResolvConf(hostResolv);
  let nameservers = input.dns.length > 0 ? input.dns : host.nameservers;
  if (!input.hostNetwork && input.dns.length === 0) {
    nameservers = nameservers.filter((ns) => !isLoopback(ns));
    if (nameservers.length === 0) nameservers = FALLBACK_NAMESERVERS;
  }
  // With the embedded DNS, the container asks it alone; it forwards to --dns or the host's servers.
  if (input.embeddedDns) nameservers = [input.embeddedDns];
  const search = input.dnsSearch.length > 0 ? input.dnsSearch.filter((s) => s !== '.') : host.search;
  let options = input.dnsOptions.length > 0 ? input.dnsOptions : host.options;
  if (input.embeddedDns && !options.some((o) => o.startsWith('ndots:'))) options = [...options, 'ndots:0'];
  const lines: string[] = [];
  if (search.length > 0) lines.push(`search ${search.join(' ')}`);
  for (const ns of nameservers) lines.push(`nameserver ${ns}`);
  if (options.length > 0) lines.push(`options ${options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** The host's resolver file, skipping systemd-resolved's stub in favour of the real servers. */
export function readHostResolvConf(): string {
  for (const p of ['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf']) {
    try {
      const text = fs.readFileSync(p, 'utf8');
      const parsed = parseResolvConf(text);
      if (parsed.nameservers.length > 0 && parsed.nameservers.every((ns) => ns === '127.0.0.53')) continue;
      return text;
    } catch {
      // try the next
    }
  }
  return '';
}

export function readHostHosts(): string {
  try {
    return fs.readFileSync('/etc/hosts', 'utf8');
  } catch {
    return DEFAULT_HOSTS.join('\n');
  }
}

/** Writes the three files into the container's directory; returns their paths. */
export function writeEtcFiles(dir: string, input: EtcInput): { hostnamePath: string; hostsPath: string; resolvConfPath: string } {
  const hostnamePath = path.join(dir, 'hostname');
  const hostsPath = path.join(dir, 'hosts');
  const resolvConfPath = path.join(dir, 'resolv.conf');
  fs.writeFileSync(hostnamePath, hostnameFile(input), { mode: 0o644 });
  fs.writeFileSync(hostsPath, hostsFile(input, readHostHosts()), { mode: 0o644 });
  fs.writeFileSync(resolvConfPath, resolvConfFile(input, readHostResolvConf()), { mode: 0o644 });
  return { hostnamePath, hostsPath, resolvConfPath };
}
