// The HTTP listeners berthd opens besides the Engine API socket (metrics, dashboard): on a TCP
// address of their own, with the same bounds on slow or idle clients, and closed with every
// connection they hold.

import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Logger } from 'pino';

export interface TcpListener {
  /** host:port as bound (the port filled in when 0 was asked for; IPv6 hosts bracketed). */
  address: string;
  /** The bound address and port. */
  bound: net.AddressInfo;
  close(): Promise<void>;
}

/** Serves `server` on host:port ('' host: every address); rejects if it cannot listen. */
export function listenTcp(server: http.Server, host: string, port: number, logger: Logger, what: string): Promise<TcpListener> {
  const sockets = new Set<net.Socket>();
  // A client that trickles its headers or holds the connection idle must not keep a socket.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.once('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: host || undefined, port }, () => {
      server.off('error', reject);
      server.on('error', (err) => logger.warn({ err }, `${what} listener error`));
      const a = server.address() as net.AddressInfo;
      resolve({
        address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
        bound: a,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
