// Proxies from the environment, as Go's http.ProxyFromEnvironment (which dockerd's registry client
// uses): HTTPS_PROXY for https, HTTP_PROXY for http, NO_PROXY exceptions, loopback never proxied.
// https goes through an HTTP CONNECT tunnel; http is sent to the proxy with the absolute URL.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

type Env = Record<string, string | undefined>;

function envAny(env: Env, ...names: string[]): string {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') return v;
  }
  return '';
}

function parseProxy(raw: string): URL | undefined {
  try {
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
    return u;
  } catch {
    return undefined;
  }
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** NO_PROXY match: `*`, IPs, CIDRs, domains (with or without a leading dot, subdomains match), optional :port. */
export function bypassProxy(url: URL, noProxy: string): boolean {
  const host = stripBrackets(url.hostname.toLowerCase());
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of noProxy.split(',')) {
    let e = raw.trim().toLowerCase();
    if (e === '') continue;
    if (e === '*') return true;
    if (e.includes('/')) {
      const [addr, bits] = e.split('/');
      const fam = net.isIP(addr);
      const ipFam = net.isIP(host);
      if (fam !== 0 && ipFam === fam) {
        const bl = new net.BlockList();
        try {
          bl.addSubnet(addr, Number(bits), fam === 6 ? 'ipv6' : 'ipv4');
          if (bl.check(host, fam === 6 ? 'ipv6' : 'ipv4')) return true;
        } catch {
          // malformed entry: ignored, as Go does
        }
      }
      continue;
    }
    let ePort = '';
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(e);
    if (m !== null) {
      e = m[1];
      ePort = m[2];
    }
    e = stripBrackets(e);
    if (ePort !== '' && ePort !== port) continue;
    if (net.isIP(e) !== 0) {
      if (e === host) return true;
      continue;
    }
    const domain = e.startsWith('.') ? e.slice(1) : e.startsWith('*.') ? e.slice(2) : e;
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

function isLoopback(host: string): boolean {
  const h = stripBrackets(host.toLowerCase());
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const fam = net.isIP(h);
  if (fam === 4) return h.startsWith('127.');
  if (fam === 6) return h === '::1';
  return false;
}

/** The proxy for a request URL, or undefined for a direct connection. */
export function proxyFor(url: URL, env: Env = process.env): URL | undefined {
  if (isLoopback(url.hostname)) return undefined;
  const raw = url.protocol === 'https:' ? envAny(env, 'HTTPS_PROXY', 'https_proxy') : envAny(env, 'HTTP_PROXY', 'http_proxy');
  if (raw === '') return undefined;
  if (bypassProxy(url, envAny(env, 'NO_PROXY', 'no_proxy'))) return undefined;
  return parseProxy(raw);
}

export function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '') return undefined;
  return `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`;
}

/**
 * An https agent whose connections are CONNECT tunnels through an http proxy; TLS (with the
 * endpoint's settings) runs end to end inside the tunnel.
 */
export class TunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    opts: https.AgentOptions,
    private readonly connectTimeoutMs: number,
  ) {
    super(opts);
  }

  override createConnection(
    reqOptions: http.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    // The agent hands its TLS options (ca, cert, rejectUnauthorized, servername) through here.
    const options = reqOptions as tls.ConnectionOptions & { host?: string; port?: number | string };
    const cb = (err: Error | null, sock?: Duplex): void => {
      // The agent's callback only reads the socket when there is no error.
      callback?.(err, sock as Duplex);
    };
    const target = `${options.host ?? 'localhost'}:${options.port ?? 443}`;
    const headers: Record<string, string> = { host: target };
    const pa = proxyAuthorization(this.proxy);
    if (pa !== undefined) headers['proxy-authorization'] = pa;
    const req = http.request({
      host: this.proxy.hostname,
      port: Number(this.proxy.port || 80),
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
    });
    let done = false;
    const finish = (err: Error | null, sock?: Duplex): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cb(err, sock);
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish(new Error(`proxyconnect tcp: timeout after ${this.connectTimeoutMs} ms`));
    }, this.connectTimeoutMs);
    req.on('error', (err) => finish(new Error(`proxyconnect tcp: ${err.message}`)));
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        finish(new Error(`proxy refused the tunnel: ${res.statusCode ?? 0} ${res.statusMessage ?? ''}`.trim()));
        return;
      }
      const servername = options.servername ?? (net.isIP(options.host ?? '') === 0 ? options.host : undefined);
      const { port: _port, ...rest } = options;
      const t = tls.connect({ ...rest, socket, ...(servername !== undefined ? { servername } : {}) });
      t.once('secureConnect', () => finish(null, t));
      t.once('error', (err: Error) => finish(err));
    });
    req.end();
    return undefined;
  }
}
