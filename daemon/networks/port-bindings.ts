// Published ports as the API carries them (HostConfig.PortBindings, Config.ExposedPorts,
// PublishAllPorts) turned into allocation requests, and the mappings made turned back into the
// NetworkSettings.Ports map and the `docker ps` port list.
import { isIP } from '../../lib/addresses';
import { InvalidParameter } from '../../lib/errors';
import { goQuote } from '../../lib/go-quote';
import { tryParsePortRange } from '../../lib/ports';
import type { PortMapping } from './model';
import { compareStrings } from '../../lib/order';

export type Proto = 'tcp' | 'udp' | 'sctp';

export interface PortSpec {
  bindings: Record<string, { HostIp?: string; HostPort?: string }[] | null>;
  exposed: string[];
  publishAll: boolean;
}

export interface PortRequestSpec {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  hostPortStart: number;
  hostPortEnd: number;
  /** The implicit "::" twin of the request before it (no host IP given, default 0.0.0.0): it
   *  takes the same host port, as moby's needSamePort. */
  twin?: boolean;
}

/** "80/tcp" → [80, 'tcp']; "80" is tcp. */
export function parsePortKey(key: string): { port: number; proto: Proto } {
  const [p, proto = 'tcp'] = key.split('/');
  const port = Number(p);
  // dockerd quotes the port part only.
  if (!/^[0-9]+$/.test(p) || port < 1 || port > 65535) throw new InvalidParameter(`invalid port specification: "${p}"`);
  const lower = proto.toLowerCase();
  if (lower !== 'tcp' && lower !== 'udp' && lower !== 'sctp') throw new InvalidParameter(`invalid proto: ${proto}`);
  return { port, proto: lower };
}

/** "", "8080" or "8000-8010" (moby's ParsePortRange, which also takes "8080/tcp") → a range; 0-0 means any ephemeral port. */
export function parseHostPort(raw: string | undefined): [number, number] {
  const text = raw ?? '';
  if (text === '') return [0, 0];
  const range = tryParsePortRange(text);
  if (!range) throw new InvalidParameter(`invalid port specification: ${goQuote(text)}`);
  return [range.start, range.end];
}

/** Checks a create request's ports the way dockerd's validation does, before anything runs. */
export function validatePortSpec(spec: PortSpec): void {
  for (const [key, list] of Object.entries(spec.bindings)) {
    parsePortKey(key);
    for (const b of list ?? []) {
      parseHostPort(b.HostPort);
      // moby decodes HostIP with netip.ParseAddr
      if (b.HostIp && !isIP(b.HostIp, { zone: true })) throw new InvalidParameter(`invalid host IP: ${b.HostIp}`);
    }
  }
  for (const key of spec.exposed) parsePortKey(key);
}

/**
 * The host ports to allocate, in the API's key order. With `ipv6` (the host can listen on IPv6)
 * a binding without a host IP, the default being 0.0.0.0, is published on "::" too, right after
 * its IPv4 one, as dockerd does (20.10 on; docker port prints "[::]:port"); without it IPv6
 * host addresses are left out.
 */
export function portRequests(spec: PortSpec, defaultHostIp: string, ipv6 = false): PortRequestSpec[] {
  const out: PortRequestSpec[] = [];
  const bound = new Set<string>();
  const keys = Object.keys(spec.bindings).sort(comparePortKeys);
  for (const key of keys) {
    const { port, proto } = parsePortKey(key);
    const list = spec.bindings[key] ?? [];
    for (const b of list.length > 0 ? list : spec.publishAll ? [{}] : []) {
      const hostIp = b.HostIp || defaultHostIp;
      if (hostIp.includes(':') && !ipv6) continue;
      const [start, end] = parseHostPort(b.HostPort);
      out.push({ proto, containerPort: port, hostIp, hostPortStart: start, hostPortEnd: end });
      if (ipv6 && !b.HostIp && hostIp === '0.0.0.0')
        out.push({ proto, containerPort: port, hostIp: '::', hostPortStart: start, hostPortEnd: end, twin: true });
    }
    bound.add(`${port}/${proto}`);
  }
  if (spec.publishAll) {
    for (const key of [...spec.exposed].sort(comparePortKeys)) {
      const { port, proto } = parsePortKey(key);
      if (bound.has(`${port}/${proto}`)) continue;
      out.push({ proto, containerPort: port, hostIp: defaultHostIp, hostPortStart: 0, hostPortEnd: 0 });
      if (ipv6 && defaultHostIp === '0.0.0.0')
        out.push({ proto, containerPort: port, hostIp: '::', hostPortStart: 0, hostPortEnd: 0, twin: true });
    }
  }
  return out;
}

function comparePortKeys(a: string, b: string): number {
  const pa = parsePortKey(a);
  const pb = parsePortKey(b);
  return pa.port - pb.port || compareStrings(pa.proto, pb.proto);
}

/** NetworkSettings.Ports: every exposed or published port, with its bindings or null. */
export function portMapView(spec: PortSpec, mappings: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  const keys = new Set<string>();
  for (const k of [...spec.exposed, ...Object.keys(spec.bindings)]) {
    const { port, proto } = parsePortKey(k);
    keys.add(`${port}/${proto}`);
  }
  for (const m of mappings) keys.add(`${m.containerPort}/${m.proto}`);
  for (const k of [...keys].sort(comparePortKeys)) {
    const { port, proto } = parsePortKey(k);
    const list = mappings
      .filter((m) => m.containerPort === port && m.proto === proto)
      .map((m) => ({ HostIp: m.hostIp, HostPort: String(m.hostPort) }));
    out[k] = list.length > 0 ? list : null;
  }
  return out;
}

/** `docker ps`'s Ports: published mappings, then exposed ports without a mapping. */
export function portSummary(
  spec: PortSpec,
  mappings: PortMapping[],
): { IP?: string; PrivatePort: number; PublicPort?: number; Type: Proto }[] {
  const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: Proto }[] = [];
  for (const m of mappings) out.push({ IP: m.hostIp, PrivatePort: m.containerPort, PublicPort: m.hostPort, Type: m.proto });
  const mapped = new Set(mappings.map((m) => `${m.containerPort}/${m.proto}`));
  for (const k of spec.exposed) {
    const { port, proto } = parsePortKey(k);
    if (!mapped.has(`${port}/${proto}`)) out.push({ PrivatePort: port, Type: proto });
  }
  return out;
}
