// The in-daemon userland proxy for published ports, doing what dockerd's docker-proxy does:
// it holds the host port (so other programs cannot take it) and forwards loopback and any
// other traffic the DNAT rules do not catch to the container.
import dgram from 'node:dgram';
import net from 'node:net';

export interface ProxyTarget {
  proto: 'tcp' | 'udp' | 'sctp';
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

export interface ProxyHandle {
  close(): Promise<void>;
  /** Open TCP connections or UDP flows (tests and diagnostics). */
  active?(): number;
}

export interface ProxyLogger {
  debug(o: object, m: string): void;
  warn(o: object, m: string): void;
}

export interface PortProxyOptions {
  /** A UDP flow without traffic for this long is dropped (dockerd's UDPConnTrackTimeout: 90 s). */
  udpIdleTimeoutMs?: number;
  /** UDP flows (client addresses) per published port; past it the least recently active goes. */
  maxUdpFlows?: number;
  /** Concurrent TCP connections per published port; past it new ones are closed at once. */
  maxTcpConnections?: number;
  logger?: ProxyLogger;
}

/** dockerd's docker-proxy conntrack timeout. */
export const UDP_IDLE_TIMEOUT_MS = 90_000;
/** Default caps: one client cannot make the daemon hold unbounded sockets (each flow and each
 *  connection costs a file descriptor, and the daemon's descriptors are shared by everything). */
export const MAX_UDP_FLOWS = 1024;
export const MAX_TCP_CONNECTIONS = 1024;
/** Datagrams kept per UDP flow while its upstream socket connects; more are dropped, as UDP may. */
const UDP_PENDING_MAX = 64;

/** The listener could not be opened; the message is dockerd's ("Error starting userland proxy: listen tcp4 …"). */
export class UserlandProxyError extends Error {
  override name = 'UserlandProxyError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

// Go's strerror texts, which dockerd's message carries.
const GO_ERRNO_TEXT: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EINVAL: 'invalid argument',
  EAFNOSUPPORT: 'address family not supported by protocol',
};

function errnoCode(err: unknown): string | undefined {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

function listenError(network: string, ip: string, port: number, err: unknown): UserlandProxyError {
  const code = errnoCode(err);
  const addr = net.isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
  const text = (code && GO_ERRNO_TEXT[code]) ?? (err instanceof Error ? err.message : String(err));
  return new UserlandProxyError(`Error starting userland proxy: listen ${network} ${addr}: bind: ${text}`, code);
}

const noLogger: ProxyLogger = { debug() {}, warn() {} };

export class PortProxy {
  private readonly udpIdleTimeoutMs: number;
  private readonly logger: ProxyLogger;
  private readonly handles = new Set<ProxyHandle>();
  private readonly maxUdpFlows: number;
  private readonly maxTcpConnections: number;

  constructor(opts: PortProxyOptions = {}) {
    this.udpIdleTimeoutMs = opts.udpIdleTimeoutMs ?? UDP_IDLE_TIMEOUT_MS;
    this.maxUdpFlows = opts.maxUdpFlows ?? MAX_UDP_FLOWS;
    this.maxTcpConnections = opts.maxTcpConnections ?? MAX_TCP_CONNECTIONS;
    this.logger = opts.logger ?? noLogger;
  }

  /** Resolves once listening; rejects with a UserlandProxyError when the bind fails. */
  async open(t: ProxyTarget): Promise<ProxyHandle> {
    const target: ProxyTarget = { ...t, hostIp: t.hostIp === '' ? '0.0.0.0' : t.hostIp };
    let handle: ProxyHandle;
    switch (target.proto) {
      case 'tcp':
        handle = await this.openTcp(target);
        break;
      case 'udp':
        handle = await this.openUdp(target);
        break;
      default:
        // sctp: Node has no SCTP sockets; the DNAT rules alone carry it (see docs/divergence.md).
        return { close: async () => {} };
    }
    this.handles.add(handle);
    return handle;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.handles].map((h) => h.close()));
  }

  private closeOnce(close: () => Promise<void>, self: () => ProxyHandle): () => Promise<void> {
    let done: Promise<void> | undefined;
    return () => {
      done ??= close().finally(() => this.handles.delete(self()));
      return done;
    };
  }

  private openTcp(t: ProxyTarget): Promise<ProxyHandle> {
    const family = net.isIPv6(t.hostIp) ? 6 : 4;
    const sockets = new Set<net.Socket>();
    const clients = new Set<net.Socket>();
    // allowHalfOpen: a client's FIN is passed on as a FIN to the container, not a full close.
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      clients.add(client);
      client.once('close', () => clients.delete(client));
      this.tcpConnection(t, client, sockets);
    });
    // Node closes connections past this count as they arrive (it counts accepted client sockets).
    server.maxConnections = this.maxTcpConnections;
    server.on('drop', () =>
      this.logger.debug({ target: t, max: this.maxTcpConnections }, 'userland proxy: tcp connection over the cap closed'),
    );
    return new Promise<ProxyHandle>((resolve, reject) => {
      const onListenError = (err: Error): void => {
        reject(listenError(`tcp${family}`, t.hostIp, t.hostPort, err));
      };
      server.once('error', onListenError);
      server.listen({ host: t.hostIp, port: t.hostPort, ipv6Only: family === 6, exclusive: true }, () => {
        server.off('error', onListenError);
        server.on('error', (err) => this.logger.warn({ err, target: t }, 'userland proxy listener error'));
        const handle: ProxyHandle = {
          active: () => clients.size,
          close: this.closeOnce(
            () =>
              new Promise<void>((done) => {
                server.close(() => done());
                for (const s of sockets) s.destroy();
              }),
            () => handle,
          ),
        };
        resolve(handle);
      });
    });
  }

  private tcpConnection(t: ProxyTarget, client: net.Socket, sockets: Set<net.Socket>): void {
    const upstream = net.connect({ host: t.containerIp, port: t.containerPort, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    let failed = false;
    const destroyBoth = (err: Error): void => {
      if (!failed) {
        failed = true;
        this.logger.debug({ err: err.message, target: t }, 'userland proxy connection ended with an error');
      }
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    // pipe() ends the other side when one side ends: half-close in each direction.
    client.pipe(upstream);
    upstream.pipe(client);
    const onClose = (self: net.Socket, other: net.Socket) => (hadError: boolean) => {
      sockets.delete(self);
      // Torn down (reset, error, close()): the other side goes too. A clean close only
      // happens after both directions ended, so the other side ends on its own.
      if (hadError || !self.readableEnded) other.destroy();
    };
    client.on('close', onClose(client, upstream));
    upstream.on('close', onClose(upstream, client));
  }

  private openUdp(t: ProxyTarget): Promise<ProxyHandle> {
    const family = net.isIPv6(t.hostIp) ? 6 : 4;
    const upType = net.isIPv6(t.containerIp) ? 'udp6' : 'udp4';
    const listener = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
    const flows = new Map<string, UdpFlow>();
    let closed = false;

    const dropFlow = (key: string, flow: UdpFlow): void => {
      if (flows.get(key) === flow) flows.delete(key);
      flow.close();
    };

    const onDatagram = (msg: Buffer, from: dgram.RemoteInfo): void => {
      if (closed) return;
      const key = `${from.address}|${from.port}`;
      let flow = flows.get(key);
      if (flow) {
        // Most recently active last: Map order is then the eviction order.
        flows.delete(key);
        flows.set(key, flow);
      } else {
        if (flows.size >= this.maxUdpFlows) {
          const [oldKey, oldest] = flows.entries().next().value as [string, UdpFlow];
          this.logger.debug({ target: t, max: this.maxUdpFlows }, 'userland proxy: udp flow cap reached, least recent flow dropped');
          dropFlow(oldKey, oldest);
        }
        const created: UdpFlow = new UdpFlow(
          upType,
          t,
          this.udpIdleTimeoutMs,
          (reply) => {
            listener.send(reply, from.port, from.address, (err) => {
              if (err) this.logger.debug({ err: err.message, target: t }, 'userland proxy: udp reply not sent');
            });
          },
          () => dropFlow(key, created),
          this.logger,
        );
        flow = created;
        flows.set(key, flow);
      }
      flow.send(msg);
    };

    return new Promise<ProxyHandle>((resolve, reject) => {
      const onBindError = (err: Error): void => {
        closed = true;
        try {
          listener.close();
        } catch {
          // never bound: nothing to close
        }
        reject(listenError(`udp${family}`, t.hostIp, t.hostPort, err));
      };
      listener.once('error', onBindError);
      listener.bind({ address: t.hostIp, port: t.hostPort, exclusive: true }, () => {
        listener.off('error', onBindError);
        listener.on('error', (err) => this.logger.warn({ err, target: t }, 'userland proxy udp listener error'));
        listener.on('message', onDatagram);
        const handle: ProxyHandle = {
          active: () => flows.size,
          close: this.closeOnce(
            () =>
              new Promise<void>((done) => {
                closed = true;
                for (const [key, flow] of flows) dropFlow(key, flow);
                listener.close(() => done());
              }),
            () => handle,
          ),
        };
        resolve(handle);
      });
    });
  }
}

/** One client address's conversation with the container: its own upstream socket, as docker-proxy's conntrack entry. */
class UdpFlow {
  private readonly sock: dgram.Socket;
  private readonly timer: NodeJS.Timeout;
  private pending: Buffer[] | null = [];
  private closed = false;

  constructor(
    type: 'udp4' | 'udp6',
    private readonly t: ProxyTarget,
    idleMs: number,
    reply: (msg: Buffer) => void,
    private readonly onEnd: () => void,
    private readonly logger: ProxyLogger,
  ) {
    this.sock = dgram.createSocket(type);
    this.timer = setTimeout(() => this.onEnd(), idleMs);
    this.timer.unref();
    this.sock.on('message', (msg) => {
      this.timer.refresh();
      reply(msg);
    });
    this.sock.on('error', (err) => {
      // An ICMP port unreachable from the container (nothing listening yet) surfaces as
      // ECONNREFUSED; dockerd keeps the flow until its timeout, so do we.
      if (errnoCode(err) === 'ECONNREFUSED') return;
      this.logger.debug({ err: err.message, target: this.t }, 'userland proxy: udp flow error');
      this.onEnd();
    });
    this.sock.connect(t.containerPort, t.containerIp, (err?: Error) => {
      if (err) {
        this.logger.debug({ err: err.message, target: this.t }, 'userland proxy: udp upstream connect failed');
        this.onEnd();
        return;
      }
      const queued = this.pending ?? [];
      this.pending = null;
      for (const m of queued) this.write(m);
    });
  }

  send(msg: Buffer): void {
    if (this.closed) return;
    this.timer.refresh();
    if (this.pending) {
      if (this.pending.length < UDP_PENDING_MAX) this.pending.push(msg);
      return;
    }
    this.write(msg);
  }

  private write(msg: Buffer): void {
    if (this.closed) return;
    this.sock.send(msg, (err) => {
      if (err && errnoCode(err) !== 'ECONNREFUSED') {
        this.logger.debug({ err: err.message, target: this.t }, 'userland proxy: udp datagram not forwarded');
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    try {
      this.sock.close();
    } catch {
      // already closed by a failed connect
    }
  }
}
