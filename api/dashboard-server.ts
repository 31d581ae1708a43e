// The dashboard listener (`--dashboard-addr`): a small web page (api/dashboard-static/, plain
// HTML, CSS and JS, no build step, nothing from elsewhere) and what it reads and does, on a
// loopback TCP address of its own, apart from the Engine API socket:
//   GET  /                                the page (with ?token=: sets the cookie, redirects)
//   GET  /static/<file>                   its script and style sheet
//   GET  /api/containers                  event stream: the container list, again on each change
//   GET  /api/logs?id=ID                  event stream: the container's log, followed
//   GET  /api/stats?id=ID                 event stream: CPU, memory, network figures each second
//   POST /api/containers/ID/ACTION        start, stop, restart, remove
// Every request passes api/dashboard-auth.ts first. The data and actions come from a
// DashboardBackend (daemon/dashboard/), which uses the same services as the Engine API.

import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { splitHostPort } from '../lib/addresses';
import { DASHBOARD_ACTIONS, type DashboardBackend } from '../daemon/dashboard/backend';
import { dashboardAuth } from './dashboard-auth';
import { openSse, streamContainers, streamLogs } from './dashboard-sse';
import { toHttpError } from './errors';

export interface DashboardListener {
  /** host:port as bound. */
  address: string;
  /** The page's URL with the token: what the log shows the operator. */
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
/** Open event streams at most (each holds a socket and a subscription). */
const MAX_STREAMS = 64;

/** The page's files, read once at start: next to the compiled server if copied there, else in the source tree. */
function loadStatic(): Map<string, { type: string; body: Buffer }> {
  const candidates = [path.join(__dirname, 'dashboard-static'), path.resolve(__dirname, '..', '..', 'api', 'dashboard-static')];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'index.html')));
  if (!dir) throw new Error(`dashboard files not found (looked in ${candidates.join(', ')})`);
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of fs.readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (type) files.set(name, { type, body: fs.readFileSync(path.join(dir, name)) });
  }
  return files;
}

const SECURITY_HEADERS: http.OutgoingHttpHeaders = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
};

function reply(res: http.ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

export function serveDashboard(addr: string, backend: DashboardBackend, logger: Logger): Promise<DashboardListener> {
  const hp = splitHostPort(addr);
  if (!hp) return Promise.reject(new Error(`invalid dashboard address "${addr}": want host:port`));
  let files: Map<string, { type: string; body: Buffer }>;
  try {
    files = loadStatic();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  const sockets = new Set<net.Socket>();
  let streams = 0;
  // Set once bound: the Host check needs the real port.
  let auth: ReturnType<typeof dashboardAuth> | undefined;
  const failed = (res: http.ServerResponse, err: unknown): void => {
    const e = toHttpError(err);
    if (e.unexpected) logger.warn({ err }, 'dashboard request failed');
    if (!res.headersSent) reply(res, e.status, e.message);
    else res.destroy();
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (v !== undefined) res.setHeader(k, v);
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const verdict = auth ? auth.check(req, url) : ({ ok: false, status: 403, message: 'not ready' } as const);
    req.resume();
    if (!verdict.ok) return reply(res, verdict.status, verdict.message);
    const p = url.pathname;
    if (req.method === 'POST') {
      const m = /^\/api\/containers\/([^/]+)\/([a-z]+)$/.exec(p);
      if (!m) return reply(res, 404, 'not found');
      const [, raw = '', action = ''] = m;
      let id: string;
      try {
        id = decodeURIComponent(raw);
      } catch {
        return reply(res, 400, 'malformed container name');
      }
      if (!(DASHBOARD_ACTIONS as readonly string[]).includes(action)) return reply(res, 404, 'not found');
      backend.act(id, action).then(
        () => res.writeHead(204).end(),
        (err: unknown) => failed(res, err),
      );
      return;
    }
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET, POST');
      return reply(res, 405, 'method not allowed');
    }
    if (p === '/') {
      if (verdict.setCookie) {
        res.writeHead(303, { 'Set-Cookie': verdict.setCookie, Location: '/' }).end();
        return;
      }
      const page = files.get('index.html');
      if (page) res.writeHead(200, { 'Content-Type': page.type }).end(page.body);
      return;
    }
    const stat = /^\/static\/([a-z0-9-]+\.(?:js|css))$/.exec(p);
    if (stat) {
      const f = files.get(stat[1] ?? '');
      if (!f) return reply(res, 404, 'not found');
      res.writeHead(200, { 'Content-Type': f.type }).end(f.body);
      return;
    }
    if (!p.startsWith('/api/')) return reply(res, 404, 'not found');
    if (streams >= MAX_STREAMS) return reply(res, 503, 'too many open streams');
    const id = url.searchParams.get('id') ?? '';
    try {
      if (p === '/api/containers') {
        const sse = openSse(res);
        streams++;
        sse.onClose(() => streams--);
        streamContainers(backend, sse, (err) => logger.warn({ err }, 'dashboard list failed'));
      } else if (p === '/api/logs') {
        const abort = new AbortController();
        const lines = backend.logs(id, 200, abort.signal);
        const sse = openSse(res);
        streams++;
        sse.onClose(() => {
          streams--;
          abort.abort();
        });
        streamLogs(lines, sse).catch((err: unknown) => {
          logger.warn({ err, container: id }, 'dashboard log stream failed');
          res.destroy();
        });
      } else if (p === '/api/stats') {
        let sse: ReturnType<typeof openSse> | undefined;
        let ended = false;
        const stop = backend.stats(
          id,
          (s) => sse?.send('sample', s),
          () => {
            ended = true;
            sse?.send('end', {});
          },
        );
        sse = openSse(res);
        streams++;
        sse.onClose(() => {
          streams--;
          stop();
        });
        if (ended) sse.send('end', {});
      } else {
        reply(res, 404, 'not found');
      }
    } catch (err) {
      failed(res, err);
    }
  };

  const server = http.createServer((req, res) => {
    res.on('error', () => undefined);
    try {
      handle(req, res);
    } catch (err) {
      failed(res, err);
    }
  });
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
    server.listen({ host: hp.host || undefined, port: hp.port }, () => {
      server.off('error', reject);
      server.on('error', (err) => logger.warn({ err }, 'dashboard listener error'));
      const a = server.address() as net.AddressInfo;
      const bound = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
      auth = dashboardAuth(a.address, a.port);
      resolve({
        address: bound,
        url: `http://${bound}/?token=${auth.token}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
