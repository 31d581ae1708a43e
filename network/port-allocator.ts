// Host port bookkeeping for published ports, after dockerd's libnetwork portallocator:
// a requested port is taken or refused; a range or "any" (0-0) is searched sequentially
// from just after the last port handed out for that same range, wrapping around.
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';

export type PortProto = 'tcp' | 'udp' | 'sctp';

export interface PortRequest {
  proto: PortProto;
  hostIp: string;
  /** 0,0 = any port of the ephemeral range; start === end = exactly that port; otherwise the first free in start-end. */
  hostPortStart: number;
  hostPortEnd: number;
}

/** dockerd's fallback when ip_local_port_range cannot be read (libnetwork portallocator_unix.go). */
export const DEFAULT_EPHEMERAL_RANGE: readonly [number, number] = [49153, 60999];
const PORT_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';

/** Base of the allocator's errors, so callers can catch them as one kind. */
export class PortAllocatorError extends Error {
  override name = 'PortAllocatorError';
}

/** The requested host port is already allocated (dockerd's ErrPortAlreadyAllocated). */
export class PortAllocatedError extends PortAllocatorError {
  override name = 'PortAllocatedError';
  constructor(
    readonly ip: string,
    readonly port: number,
  ) {
    super(`Bind for ${ip}:${port} failed: port is already allocated`);
  }
}

/** Every port of the searched range is taken (dockerd's ErrAllPortsAllocated). */
export class AllPortsAllocatedError extends PortAllocatorError {
  override name = 'AllPortsAllocatedError';
  constructor() {
    super('all ports are allocated');
  }
}

/** A malformed range or an unknown protocol (dockerd's texts). */
export class InvalidPortRequestError extends PortAllocatorError {
  override name = 'InvalidPortRequestError';
}

/** Reads the kernel's ephemeral port range; dockerd's fallback when the file is missing or odd. */
export function readEphemeralRange(file: string = PORT_RANGE_FILE): [number, number] {
  try {
    const m = /^\s*(\d+)\s+(\d+)/.exec(readFileSync(file, 'utf8'));
    if (m) {
      const start = Number(m[1]);
      const end = Number(m[2]);
      if (start >= 1 && end <= 65535 && start <= end) return [start, end];
    }
  } catch {
    // fall through to the default, as dockerd does
  }
  return [DEFAULT_EPHEMERAL_RANGE[0], DEFAULT_EPHEMERAL_RANGE[1]];
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

function normaliseIp(ip: string | undefined): string {
  return ip === undefined || ip === '' ? '0.0.0.0' : ip;
}

function isProto(p: string): p is PortProto {
  return p === 'tcp' || p === 'udp' || p === 'sctp';
}

interface IpPorts {
  used: Set<number>;
  /** Last port handed out per searched range ("start-end"), as dockerd's portRange.last. */
  cursors: Map<string, number>;
}

export class PortAllocator {
  readonly begin: number;
  readonly end: number;
  /** proto → host ip → ports */
  private readonly maps = new Map<PortProto, Map<string, IpPorts>>();

  constructor(range?: [number, number]) {
    const [begin, end] = range ?? readEphemeralRange();
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 1 || end > 65535 || begin > end) {
      throw new InvalidPortRequestError(`invalid port range: ${begin}-${end}`);
    }
    this.begin = begin;
    this.end = end;
  }

  allocate(req: PortRequest): number {
    const { proto } = req;
    if (!isProto(proto)) throw new InvalidPortRequestError('unknown protocol');
    const ip = normaliseIp(req.hostIp);
    const start = req.hostPortStart;
    const end = req.hostPortEnd;
    const own = this.ipPorts(proto, ip);

    if (start > 0 && start === end) {
      if (start > 65535) throw new InvalidPortRequestError(`invalid port range: ${start}-${end}`);
      if (this.taken(proto, ip, start)) throw new PortAllocatedError(ip, start);
      own.used.add(start);
      return start;
    }

    let lo: number;
    let hi: number;
    if (start === 0 && end === 0) {
      lo = this.begin;
      hi = this.end;
    } else {
      if (start <= 0 || end <= 0 || end < start || end > 65535) {
        throw new InvalidPortRequestError(`invalid port range: ${start}-${end}`);
      }
      lo = start;
      hi = end;
    }
    const key = `${lo}-${hi}`;
    // A fresh range starts at its end, so that the first port handed out is its beginning.
    let port = own.cursors.get(key) ?? hi;
    for (let i = 0; i <= hi - lo; i++) {
      port = port >= hi ? lo : port + 1;
      if (!this.taken(proto, ip, port)) {
        own.used.add(port);
        own.cursors.set(key, port);
        return port;
      }
    }
    throw new AllPortsAllocatedError();
  }

  release(proto: string, hostIp: string, port: number): void {
    if (!isProto(proto)) return;
    this.maps.get(proto)?.get(normaliseIp(hostIp))?.used.delete(port);
  }

  /** Whether a bind of ip:port would conflict with an allocation (a wildcard address conflicts with every address of its family). */
  isAllocated(proto: string, hostIp: string, port: number): boolean {
    return isProto(proto) && this.taken(proto, normaliseIp(hostIp), port);
  }

  private taken(proto: PortProto, ip: string, port: number): boolean {
    const byIp = this.maps.get(proto);
    if (!byIp) return false;
    const v6 = isIPv6(ip);
    const wildcard = WILDCARDS.has(ip);
    for (const [other, ports] of byIp) {
      if (!ports.used.has(port)) continue;
      if (other === ip) return true;
      if (isIPv6(other) !== v6) continue;
      if (wildcard || WILDCARDS.has(other)) return true;
    }
    return false;
  }

  private ipPorts(proto: PortProto, ip: string): IpPorts {
    let byIp = this.maps.get(proto);
    if (!byIp) {
      byIp = new Map();
      this.maps.set(proto, byIp);
    }
    let p = byIp.get(ip);
    if (!p) {
      p = { used: new Set(), cursors: new Map() };
      byIp.set(ip, p);
    }
    return p;
  }
}
