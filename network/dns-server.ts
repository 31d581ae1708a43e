// The embedded DNS server: one UDP + one TCP listener per key. Containers on user-defined
// networks each have theirs on 127.0.0.11 inside their own netns, port 53 redirected to them
// (network/dns-in-netns.ts), keyed by container, so the listener a query came in on says who
// asks; a forwarded query leaves from that container's namespace too (from berthd's for the host's
// loopback servers, `host(ip)`), as dockerd's. It mirrors dockerd's libnetwork resolver: A answers for our names
// (TTL 600, shuffled), empty NOERROR for AAAA/MX of our names, PTR for our addresses, everything
// else forwarded verbatim to the upstreams in order (same transport as the client, the client's
// query id kept, SERVFAIL and REFUSED answers skipped), SERVFAIL when none answers (dockerd >= 25;
// 20.10 sends nothing and lets the client time out). Deliberate difference (the plan's): a
// single-label name that is not ours gets NXDOMAIN at once; dockerd 20.10 forwards it
// (measured), which costs the client its full timeout when the upstreams are unreachable.

import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as dnsPacket from 'dns-packet';
import {
  FLAG_QR,
  RCODE_FORMERR,
  RCODE_NOERROR,
  RCODE_NOTIMP,
  RCODE_NXDOMAIN,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  headerOnlyReply,
  parseQuery,
  ptrToIpv4,
  ptrToIpv6,
  reply,
  type Proto,
  type Query,
} from './dns-wire';
import { listenInNetns, redirectInNetns, tcpSocketInNetns, udpSocketInNetns } from './dns-in-netns';

export interface DnsAnswer {
  addresses: string[]; // IPv4 A records
}

/** Who answers: the names the daemon knows, and where the rest goes. */
export interface DnsResolver {
  /** Our answer for `name` (lower-cased, no trailing dot) asked by clientIp on listener `key`; null = not ours. */
  lookup(key: string, clientIp: string, name: string): DnsAnswer | null;
  /** Reverse lookup: the names for ip as seen by clientIp; null = not ours. */
  reverse?(key: string, clientIp: string, ip: string): string[] | null;
  /** The upstream servers (ip or ip:port) for clientIp's queries that are not ours. */
  upstreams(key: string, clientIp: string): string[];
  /** false when clientIp's container has no external network (all internal): names that are not
   *  ours get SERVFAIL, never an upstream (CVE-2024-29018). Default: true. */
  forwards?(key: string, clientIp: string): boolean;
}

export type DnsServerOptions = {
  logger?: { debug(o: object, m: string): void; warn(o: object, m: string): void };
  upstreamTimeoutMs?: number; /* default 2000 per server */
};

/** dockerd's respTTL. */
export const DNS_TTL = 600;
/** dockerd's maxExtDNS: only the first three upstreams are ever tried. */
export const MAX_UPSTREAMS = 3;
/** dockerd's maxConcurrent forwarded queries; past it the client gets REFUSED. */
const MAX_CONCURRENT_FORWARDS = 1024;
/** miekg/dns's default TCP idle timeout (dockerd's server library). */
const TCP_IDLE_MS = 8000;
/** Open TCP connections per listener; past it new ones are closed at once. */
export const MAX_TCP_CONNS = 128;
/** Queries in progress on one TCP connection; past it the connection stops being read. */
const MAX_TCP_PIPELINE = 16;

export interface Upstream {
  host: string;
  port: number;
  /** Queried from berthd's own namespace (`host(ip)`: a loopback server of the host's
   *  resolv.conf, as dockerd's `host(...)` ExtServers), not from the container's. */
  hostNs?: boolean;
}

/** "ip", "ip:port", "[v6]" or "[v6]:port"; null if not one of those. */
export function parseUpstream(s: string): Upstream | null {
  const hostNs = /^host\((.*)\)$/.exec(s.trim());
  if (hostNs) {
    const u = parseUpstream(hostNs[1]);
    return u && !u.hostNs ? { ...u, hostNs: true } : null;
  }
  const str = s.trim();
  if (net.isIP(str)) return { host: str, port: 53 };
  let host: string;
  let portStr: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(str);
  if (bracketed) {
    host = bracketed[1];
    portStr = bracketed[2];
  } else {
    const i = str.lastIndexOf(':');
    if (i < 0) return null;
    host = str.slice(0, i);
    portStr = str.slice(i + 1);
    if (!net.isIPv4(host)) return null;
  }
  if (!net.isIP(host)) return null;
  if (portStr === undefined) return { host, port: 53 };
  if (!/^\d{1,5}$/.test(portStr)) return null;
  const port = Number(portStr);
  if (port < 1 || port > 65535) return null;
  return { host, port };
}

interface Listener {
  key: string;
  ip: string;
  /** The port asked for (in a netns: the one redirected to the listeners' own). */
  port: number;
  netns: string | undefined;
  udp: dgram.Socket;
  tcp: net.Server;
  conns: Set<net.Socket>;
  /** Abort functions of the upstream exchanges under way, so close() does not wait for timeouts. */
  cancels: Set<() => void>;
  closed: boolean;
}

const noopLogger = { debug(): void {}, warn(): void {} };

export class DnsServer {
  private readonly listeners = new Map<string, Listener>();
  /** Per-key chain so a listen() and a close() of the same key never interleave. */
  private readonly ops = new Map<string, Promise<void>>();
  private readonly logger: { debug(o: object, m: string): void; warn(o: object, m: string): void };
  private readonly timeoutMs: number;
  private forwards = 0;

  constructor(
    private readonly resolver: DnsResolver,
    opts: DnsServerOptions = {},
  ) {
    this.logger = opts.logger ?? noopLogger;
    this.timeoutMs = opts.upstreamTimeoutMs ?? 2000;
  }

  /** UDP and TCP listeners on ip:port (port default 53) for the key. In the network namespace at
   *  `netns` (a path), they listen on free ports of ip and NAT rules there send ip:port to them;
   *  else on ip:port in ours, port 0 picking a free port shared by both (tests; see port()).
   *  Listening again on the same address is a no-op; on another address, the old listeners are
   *  closed first. */
  listen(key: string, ip: string, port = 53, netns?: string): Promise<void> {
    return this.serial(key, async () => {
      if (!net.isIP(ip)) throw new Error(`invalid DNS listen address: ${ip}`);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid DNS listen port: ${port}`);
      const old = this.listeners.get(key);
      if (old && old.ip === ip && old.netns === netns && (port === 0 || old.port === port)) return;
      if (old) await this.closeListener(old);
      const l = await this.bind(key, ip, port, netns);
      this.listeners.set(key, l);
      this.logger.debug({ key, ip, port: l.port, netns }, 'dns: listening');
    });
  }

  /** Whether the key has live listeners. */
  has(key: string): boolean {
    return this.listeners.has(key);
  }

  close(key: string): Promise<void> {
    return this.serial(key, async () => {
      const l = this.listeners.get(key);
      if (l) await this.closeListener(l);
    });
  }

  async closeAll(): Promise<void> {
    const keys = new Set([...this.listeners.keys(), ...this.ops.keys()]);
    await Promise.all([...keys].map((k) => this.close(k)));
  }

  /** The port the key's listeners are bound to (useful after listen(key, ip, 0)). */
  port(key: string): number | undefined {
    return this.listeners.get(key)?.port;
  }

  private serial(key: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.ops.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.ops.set(key, tail);
    void tail.then(() => {
      if (this.ops.get(key) === tail) this.ops.delete(key);
    });
    return next;
  }

  private async bind(key: string, ip: string, port: number, netns: string | undefined): Promise<Listener> {
    if (netns !== undefined) {
      if (!net.isIPv4(ip)) throw new Error(`invalid DNS listen address in a netns: ${ip}`);
      const { udp, tcp, udpPort, tcpPort } = await listenInNetns(netns, ip);
      const l: Listener = { key, ip, port, netns, udp, tcp, conns: new Set(), cancels: new Set(), closed: false };
      this.attach(l);
      try {
        await redirectInNetns(netns, ip, port, udpPort, tcpPort);
      } catch (err) {
        await this.closeListener(l);
        throw err;
      }
      return l;
    }
    // Port 0: let the kernel pick the UDP port and take the same one for TCP, retrying if taken.
    const attempts = port === 0 ? 16 : 1;
    let lastErr: unknown;
    for (let i = 0; i < attempts; i++) {
      const udp = await bindUdp(ip, port);
      const udpPort = udp.address().port;
      let tcp: net.Server;
      try {
        tcp = await listenTcp(ip, udpPort);
      } catch (err) {
        await closeUdp(udp);
        lastErr = err;
        if (port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw err;
      }
      const l: Listener = { key, ip, port: udpPort, netns: undefined, udp, tcp, conns: new Set(), cancels: new Set(), closed: false };
      this.attach(l);
      return l;
    }
    throw lastErr;
  }

  private attach(l: Listener): void {
    l.udp.on('error', (err) => this.logger.warn({ key: l.key, err: err.message }, 'dns: udp socket error'));
    l.udp.on('message', (msg, rinfo) => {
      const clientIp = plainIp(rinfo.address);
      this.handle(l, 'udp', clientIp, msg)
        .then((reply) => {
          if (!reply || l.closed) return;
          l.udp.send(reply, rinfo.port, rinfo.address, (err) => {
            if (err) this.logger.debug({ key: l.key, err: err.message }, 'dns: udp send failed');
          });
        })
        .catch((err: unknown) => this.logger.warn({ key: l.key, err: String(err) }, 'dns: udp query failed'));
    });
    l.tcp.on('error', (err) => this.logger.warn({ key: l.key, err: err.message }, 'dns: tcp server error'));
    l.tcp.on('connection', (sock) => this.serveTcp(l, sock));
  }

  private serveTcp(l: Listener, sock: net.Socket): void {
    sock.on('error', (err) => this.logger.debug({ key: l.key, err: err.message }, 'dns: tcp connection error'));
    if (l.closed) {
      sock.destroy();
      return;
    }
    if (l.conns.size >= MAX_TCP_CONNS) {
      this.logger.debug({ key: l.key }, `dns: more than ${MAX_TCP_CONNS} tcp connections`);
      sock.destroy();
      return;
    }
    l.conns.add(sock);
    sock.on('close', () => l.conns.delete(sock));
    sock.setNoDelay(true);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    const clientIp = plainIp(sock.remoteAddress ?? '');
    let buf: Buffer = Buffer.alloc(0);
    let inFlight = 0;
    const drain = (): void => {
      while (buf.length >= 2 && inFlight < MAX_TCP_PIPELINE) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = Buffer.from(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        inFlight++;
        this.handle(l, 'tcp', clientIp, msg)
          .then((reply) => {
            if (!reply || sock.destroyed || !sock.writable) return;
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(reply.length, 0);
            sock.write(Buffer.concat([prefix, reply]));
          })
          .finally(() => {
            inFlight--;
            if (sock.destroyed) return;
            drain();
            if (sock.isPaused() && inFlight < MAX_TCP_PIPELINE) sock.resume();
          })
          .catch((err: unknown) => this.logger.warn({ key: l.key, err: String(err) }, 'dns: tcp query failed'));
      }
      // A client that pipelines faster than we answer is read no further until we catch up.
      if (inFlight >= MAX_TCP_PIPELINE) sock.pause();
    };
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      drain();
    });
  }

  private async closeListener(l: Listener): Promise<void> {
    if (this.listeners.get(l.key) === l) this.listeners.delete(l.key);
    l.closed = true;
    for (const cancel of [...l.cancels]) cancel();
    for (const c of l.conns) c.destroy();
    await Promise.all([closeUdp(l.udp), new Promise<void>((resolve) => l.tcp.close(() => resolve()))]);
    this.logger.debug({ key: l.key, ip: l.ip, port: l.port }, 'dns: closed');
  }

  /** One query in, at most one reply out (null = drop). Never throws on bad input. */
  private async handle(l: Listener, proto: Proto, clientIp: string, msg: Buffer): Promise<Buffer | null> {
    // As miekg/dns (dockerd's server): shorter than a header → drop; a response → ignore;
    // opcode other than QUERY → NOTIMP; not exactly one question, or odd section counts → FORMERR.
    if (msg.length < 12) return null;
    const flags = msg.readUInt16BE(2);
    if (flags & FLAG_QR) return null;
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== 0) return headerOnlyReply(msg, RCODE_NOTIMP);
    if (msg.readUInt16BE(4) !== 1 || msg.readUInt16BE(6) > 1 || msg.readUInt16BE(8) > 1 || msg.readUInt16BE(10) > 2) {
      return headerOnlyReply(msg, RCODE_FORMERR);
    }
    const q = parseQuery(msg);
    if (!q) return headerOnlyReply(msg, RCODE_FORMERR);

    const local = this.answerLocally(l, proto, clientIp, q);
    if (local) return local;

    return this.forward(l, proto, clientIp, msg, q);
  }

  private answerLocally(l: Listener, proto: Proto, clientIp: string, q: Query): Buffer | null {
    let ours: DnsAnswer | null = null;
    let answers: dnsPacket.Answer[] = [];
    try {
      ours = q.name === '' ? null : this.resolver.lookup(l.key, clientIp, q.name);
      if (q.qtype === 'A' && ours) {
        const addrs = ours.addresses.filter((a) => net.isIPv4(a));
        shuffle(addrs); // dockerd shuffles for a poor man's round robin
        answers = addrs.map((a) => ({ type: 'A', name: q.qname, class: 'IN', ttl: DNS_TTL, data: a }));
        return reply(q, RCODE_NOERROR, true, answers, proto);
      }
      // AAAA: the IPv6 addresses of a name of ours (none off IPv6 networks: an empty NOERROR, never
      // forwarded). MX likewise empty (dockerd: "implicit MX", RFC 5321 5.1).
      if (q.qtype === 'AAAA' && ours) {
        const addrs = ours.addresses.filter((a) => net.isIPv6(a));
        shuffle(addrs);
        answers = addrs.map((a) => ({ type: 'AAAA', name: q.qname, class: 'IN', ttl: DNS_TTL, data: a }));
        return reply(q, RCODE_NOERROR, true, answers, proto);
      }
      if (q.qtype === 'MX' && ours) return reply(q, RCODE_NOERROR, true, [], proto);
      if (q.qtype === 'PTR' && this.resolver.reverse) {
        const ip = ptrToIpv4(q.name) ?? ptrToIpv6(q.name);
        const names = ip ? this.resolver.reverse(l.key, clientIp, ip) : null;
        if (names && names.length > 0) {
          answers = names.map((n) => ({ type: 'PTR', name: q.qname, class: 'IN', ttl: DNS_TTL, data: n.replace(/\.$/, '') }));
          return reply(q, RCODE_NOERROR, true, answers, proto);
        }
      }
    } catch (err) {
      this.logger.warn({ key: l.key, name: q.name, type: q.qtype, err: String(err) }, 'dns: local lookup failed');
      return reply(q, RCODE_SERVFAIL, false, [], proto);
    }
    // Single-label names are never sent upstream: ours (another type) → NODATA, else NXDOMAIN.
    if (q.name !== '' && !q.name.includes('.')) {
      return reply(q, ours ? RCODE_NOERROR : RCODE_NXDOMAIN, true, [], proto);
    }
    return null;
  }

  private async forward(l: Listener, proto: Proto, clientIp: string, msg: Buffer, q: Query): Promise<Buffer | null> {
    let list: string[];
    try {
      if (this.resolver.forwards && !this.resolver.forwards(l.key, clientIp)) {
        // dockerd with proxyDNS off: SERVFAIL for every name that is not ours.
        return reply(q, RCODE_SERVFAIL, false, [], proto);
      }
      list = this.resolver.upstreams(l.key, clientIp);
    } catch (err) {
      this.logger.warn({ key: l.key, err: String(err) }, 'dns: upstreams lookup failed');
      list = [];
    }
    const servers: Upstream[] = [];
    for (const s of list) {
      const u = parseUpstream(s);
      if (u) servers.push(u);
      else this.logger.warn({ key: l.key, upstream: s }, 'dns: ignoring invalid upstream');
      if (servers.length === MAX_UPSTREAMS) break;
    }
    for (const server of servers) {
      if (l.closed) return null;
      if (this.forwards >= MAX_CONCURRENT_FORWARDS) {
        this.logger.warn({ key: l.key }, `dns: more than ${MAX_CONCURRENT_FORWARDS} concurrent queries`);
        return reply(q, RCODE_REFUSED, false, [], proto);
      }
      this.forwards++;
      let resp: Buffer | null;
      try {
        resp = await this.exchange(l, proto, server, msg, q.id);
      } finally {
        this.forwards--;
      }
      if (!resp) continue;
      const rcode = resp[3] & 0xf;
      if (rcode === RCODE_SERVFAIL || rcode === RCODE_REFUSED) {
        this.logger.debug({ key: l.key, name: q.name, upstream: server, rcode }, 'dns: upstream failed, trying next');
        continue;
      }
      // Passed as it came (a truncated UDP answer included: the client retries over TCP).
      return resp;
    }
    if (l.closed) return null;
    this.logger.debug({ key: l.key, name: q.name, type: q.qtype }, 'dns: no upstream answered');
    return reply(q, RCODE_SERVFAIL, false, [], proto);
  }

  private exchange(l: Listener, proto: Proto, server: Upstream, msg: Buffer, id: number): Promise<Buffer | null> {
    return new Promise<Buffer | null>((resolve) => {
      let done = false;
      const cleanups: (() => void)[] = [];
      const finish = (resp: Buffer | null, why?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        l.cancels.delete(cancel);
        for (const c of cleanups) {
          try {
            c();
          } catch {
            // already closed
          }
        }
        if (!resp && why)
          this.logger.debug({ key: l.key, upstream: `${server.host}:${server.port}`, proto, why }, 'dns: upstream exchange failed');
        resolve(resp);
      };
      const cancel = (): void => finish(null, 'listener closed');
      l.cancels.add(cancel);
      const timer = setTimeout(() => finish(null, 'timeout'), this.timeoutMs);
      // A reply must be a response to this very query id (miekg/dns checks it too).
      const accept = (resp: Buffer): void => {
        if (resp.length >= 12 && resp.readUInt16BE(0) === id && resp[2] & 0x80) finish(resp);
      };

      // From the container's namespace (its routes, its loopback), unless the server is one of
      // the host's loopback resolvers; a socket made after the exchange ended is closed at once.
      const inNetns = l.netns !== undefined && !server.hostNs && net.isIPv4(server.host) ? l.netns : undefined;
      const adopt = <S>(made: Promise<S>, close: (sock: S) => void, use: (sock: S) => void): void => {
        made.then(
          (sock) => {
            if (done) return close(sock);
            cleanups.push(() => close(sock));
            use(sock);
          },
          (err: unknown) => finish(null, `socket in the container's namespace: ${String(err)}`),
        );
      };
      if (proto === 'udp') {
        const made =
          inNetns !== undefined
            ? udpSocketInNetns(inNetns)
            : Promise.resolve(dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4'));
        adopt(
          made,
          (sock) => sock.close(),
          (sock) => {
            sock.on('error', (err) => finish(null, err.message));
            sock.on('message', accept);
            // connect() so the kernel only delivers datagrams from the upstream itself.
            sock.connect(server.port, server.host, () => {
              if (done) return;
              sock.send(msg, (err) => {
                if (err) finish(null, err.message);
              });
            });
          },
        );
      } else {
        const made = inNetns !== undefined ? tcpSocketInNetns(inNetns) : Promise.resolve(new net.Socket());
        adopt(
          made,
          (sock) => sock.destroy(),
          (sock) => {
            sock.on('error', (err) => finish(null, err.message));
            sock.on('close', () => finish(null, 'connection closed'));
            sock.on('connect', () => {
              const prefix = Buffer.alloc(2);
              prefix.writeUInt16BE(msg.length, 0);
              sock.write(Buffer.concat([prefix, msg]));
            });
            let buf: Buffer = Buffer.alloc(0);
            sock.on('data', (chunk: Buffer) => {
              buf = Buffer.concat([buf, chunk]);
              while (buf.length >= 2 && !done) {
                const len = buf.readUInt16BE(0);
                if (buf.length < 2 + len) break;
                const resp = Buffer.from(buf.subarray(2, 2 + len));
                buf = buf.subarray(2 + len);
                accept(resp);
              }
            });
            sock.connect({ host: server.host, port: server.port });
          },
        );
      }
    });
  }
}

function bindUdp(ip: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    // SO_REUSEADDR: a host resolver bound to 0.0.0.0:53 (dnsmasq and the like set it too) does
    // not keep us off the gateway address, and the more specific binding gets its packets.
    const sock = dgram.createSocket({ type: net.isIPv6(ip) ? 'udp6' : 'udp4', reuseAddr: true });
    const onError = (err: Error): void => {
      try {
        sock.close();
      } catch {
        // never bound
      }
      reject(err);
    };
    sock.once('error', onError);
    sock.bind({ address: ip, port, exclusive: true }, () => {
      sock.off('error', onError);
      resolve(sock);
    });
  });
}

function listenTcp(ip: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    const onError = (err: Error): void => {
      server.close();
      reject(err);
    };
    server.once('error', onError);
    server.listen({ host: ip, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}

function closeUdp(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

function plainIp(addr: string): string {
  return addr.startsWith('::ffff:') && net.isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
}

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
}
