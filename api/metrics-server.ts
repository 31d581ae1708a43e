// The metrics listener (`--metrics-addr`): plain HTTP on a TCP address, answering `GET /metrics`
// in the Prometheus text format and nothing else, as dockerd's metrics listener does. It is a
// server of its own, apart from the Engine API socket, so opening it opens nothing else.

import * as http from 'node:http';
import type * as net from 'node:net';
import type { Logger } from 'pino';
import { splitHostPort } from '../lib/addresses';

export interface MetricsBackend {
  contentType: string;
  render(): Promise<string>;
}

export interface MetricsListener {
  /** host:port as bound (the port filled in when 0 was asked for). */
  address: string;
  close(): Promise<void>;
}

export function serveMetrics(addr: string, backend: MetricsBackend, logger: Logger): Promise<MetricsListener> {
  const hp = splitHostPort(addr);
  if (!hp) return Promise.reject(new Error(`invalid metrics address "${addr}": want host:port`));
  const { host, port } = hp;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    res.on('error', () => undefined);
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    backend.render().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': backend.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        logger.warn({ err }, 'rendering metrics failed');
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('error rendering metrics\n');
      },
    );
  });
  // A scrape is one small request; a client that trickles headers or holds the connection idle
  // must not hold a socket for ever.
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
      server.on('error', (err) => logger.warn({ err }, 'metrics listener error'));
      const a = server.address() as net.AddressInfo;
      const bound = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
      resolve({
        address: bound,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
