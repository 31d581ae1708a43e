// The metrics listener (`--metrics-addr`): plain HTTP on a TCP address, answering `GET /metrics`
// in the Prometheus text format and nothing else, as dockerd's metrics listener does. It is a
// server of its own, apart from the Engine API socket, so opening it opens nothing else.

import * as http from 'node:http';
import type { Logger } from 'pino';
import { splitHostPort } from '../lib/addresses';
import { listenTcp, type TcpListener } from './tcp-listener';

export interface MetricsBackend {
  contentType: string;
  render(): Promise<string>;
}

export type MetricsListener = TcpListener;

export function serveMetrics(addr: string, backend: MetricsBackend, logger: Logger): Promise<MetricsListener> {
  const hp = splitHostPort(addr);
  if (!hp) return Promise.reject(new Error(`invalid metrics address "${addr}": want host:port`));
  const { host, port } = hp;
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
  return listenTcp(server, host, port, logger, 'metrics');
}
