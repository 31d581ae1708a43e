// HTTP(S) to one registry endpoint with node:http/https: a keep-alive agent per endpoint (its TLS
// settings apply to every host the endpoint redirects to, as Go's http.Transport does), connect and
// idle timeouts (never a whole-transfer timeout: a layer may take an hour), redirects followed with
// Authorization dropped across hosts, and capped reads for JSON answers (the registry is untrusted).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { Readable } from 'node:stream';
import { goTlsErrorText } from './tls-errors';
import { proxyAuthorization, proxyFor, TunnelAgent } from './proxy';
import { RegistryError, type Endpoint } from './types';

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const MAX_REDIRECTS = 10;
/** Cap for manifests and JSON answers. */
export const JSON_BODY_CAP = 4 * 1024 * 1024;

export interface TransportOptions {
  userAgent: string;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export interface HttpRequest {
  method: string;
  /** Absolute URL. */
  url: string;
  headers?: Record<string, string>;
  /** A Buffer can be replayed across redirects; a stream is sent once and redirects are not followed. */
  body?: Buffer | AsyncIterable<Buffer>;
  /** Default true. */
  followRedirects?: boolean;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** The URL that answered (after redirects). */
  url: string;
}

/** The value of a header that may repeat, as one string (first value). */
export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  if (Array.isArray(v)) return v[0];
  return v;
}

/** All values of a header that may repeat (WWW-Authenticate). */
export function headerAll(res: HttpResponse, name: string): string[] {
  const v = res.headers[name.toLowerCase()];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function sameHostOrSubdomain(from: URL, to: URL): boolean {
  // Go keeps sensitive headers when the new host equals the old one or is a subdomain of it.
  const a = from.hostname.toLowerCase();
  const b = to.hostname.toLowerCase();
  return a === b || b.endsWith(`.${a}`);
}

/** The PEM bundle NODE_EXTRA_CA_CERTS names, which Node adds to its default roots. */
function extraCaCerts(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (file === undefined || file === '') return [];
  try {
    return [readFileSync(file, 'utf8')];
  } catch {
    return [];
  }
}

export class Transport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly httpsOptions: https.AgentOptions;
  /** Per proxy: CONNECT-tunnel agents for https, plain agents for http (absolute-URL requests). */
  private readonly tunnels = new Map<string, https.Agent>();
  private readonly proxyAgents = new Map<string, http.Agent>();
  /** The environment proxies are read from (tests pass their own). */
  env: Record<string, string | undefined> = process.env;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  readonly userAgent: string;

  constructor(
    readonly endpoint: Endpoint,
    opts: TransportOptions,
  ) {
    this.userAgent = opts.userAgent;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const t = endpoint.tls;
    this.httpsOptions = {
      keepAlive: true,
      maxSockets: 16,
      rejectUnauthorized: !(t?.skipVerify ?? false),
      // Extra CAs join the default roots (passing `ca` alone would replace them, NODE_EXTRA_CA_CERTS too).
      ...(t?.ca && t.ca.length > 0 ? { ca: [...tls.rootCertificates, ...extraCaCerts(), ...t.ca.map((b) => b.toString('utf8'))] } : {}),
      ...(t?.cert && t.key ? { cert: t.cert, key: t.key } : {}),
    };
    this.httpsAgent = new https.Agent(this.httpsOptions);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    for (const a of this.tunnels.values()) a.destroy();
    for (const a of this.proxyAgents.values()) a.destroy();
    this.tunnels.clear();
    this.proxyAgents.clear();
  }

  /** Where and how to send a request for `url`: directly, via a tunnel, or to an http proxy. */
  private route(url: URL, headers: Record<string, string>): { target: URL | string; options: http.RequestOptions } {
    const isHttps = url.protocol === 'https:';
    const proxy = proxyFor(url, this.env);
    if (proxy === undefined) return { target: url, options: { agent: isHttps ? this.httpsAgent : this.httpAgent } };
    if (proxy.protocol !== 'http:') {
      // Go also speaks https and socks5 proxies; going direct instead would bypass the user's proxy.
      throw new RegistryError(`proxyconnect: unsupported proxy scheme ${proxy.protocol.replace(/:$/, '')}`, 0, undefined, true);
    }
    if (isHttps) {
      let a = this.tunnels.get(proxy.href);
      if (a === undefined) {
        a = new TunnelAgent(proxy, this.httpsOptions, this.connectTimeoutMs);
        this.tunnels.set(proxy.href, a);
      }
      return { target: url, options: { agent: a } };
    }
    let a = this.proxyAgents.get(proxy.href);
    if (a === undefined) {
      a = new http.Agent({ keepAlive: true, maxSockets: 16 });
      this.proxyAgents.set(proxy.href, a);
    }
    const pa = proxyAuthorization(proxy);
    if (pa !== undefined) headers['proxy-authorization'] = pa;
    headers.host = url.host;
    return { target: url.href, options: { agent: a, host: proxy.hostname, port: Number(proxy.port || 80), path: url.href } };
  }

  /** Sends a request, following redirects; non-2xx statuses are answers, not errors. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    let url = new URL(req.url);
    let method = req.method;
    let body = req.body;
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...lowerKeys(req.headers ?? {}) };
    const follow = req.followRedirects ?? true;
    for (let hop = 0; ; hop++) {
      const res = await this.once(method, url, headers, body);
      const loc = res.headers.location;
      const redirect = [301, 302, 303, 307, 308].includes(res.status) && loc !== undefined;
      const replayable = body === undefined || Buffer.isBuffer(body);
      if (!redirect || !follow || !replayable) return res;
      res.body.resume();
      if (hop >= MAX_REDIRECTS) throw new RegistryError(`stopped after ${MAX_REDIRECTS} redirects`, res.status);
      const next = new URL(loc, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new RegistryError(`redirect to unsupported URL scheme ${next.protocol}`, res.status);
      }
      if (!sameHostOrSubdomain(url, next)) {
        delete headers.authorization;
        delete headers.cookie;
      }
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        // As Go: these become a GET without body.
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
        delete headers['content-type'];
        delete headers['content-length'];
      }
      url = next;
    }
  }

  private once(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer | AsyncIterable<Buffer> | undefined,
    retried = false,
  ): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const isHttps = url.protocol === 'https:';
      const hdrs: Record<string, string> = { ...headers };
      if (Buffer.isBuffer(body)) hdrs['content-length'] = String(body.length);
      else if (body === undefined && (method === 'POST' || method === 'PUT' || method === 'PATCH')) hdrs['content-length'] = '0';
      const route = this.route(url, hdrs);
      const req =
        typeof route.target === 'string'
          ? http.request({ ...route.options, method, headers: hdrs })
          : (isHttps ? https : http).request(route.target, { ...route.options, method, headers: hdrs });
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        // A kept-alive connection the server had closed meanwhile: retry once on a fresh one, as Go does.
        if (req.reusedSocket && !retried && (body === undefined || Buffer.isBuffer(body))) {
          this.once(method, url, headers, body, true).then(resolve, reject);
          return;
        }
        reject(err instanceof RegistryError ? err : transportError(url, err, method));
      };
      let connectTimer: NodeJS.Timeout | undefined;
      req.on('socket', (sock) => {
        const s = sock as import('node:net').Socket & { connecting?: boolean };
        if (s.connecting) {
          connectTimer = setTimeout(
            () => req.destroy(new Error(`connect timeout after ${this.connectTimeoutMs} ms`)),
            this.connectTimeoutMs,
          );
          s.once(isHttps ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
          s.once('close', () => clearTimeout(connectTimer));
        }
      });
      // Idle: no byte in either direction for this long (the socket's timeout, also while the body streams).
      req.setTimeout(this.idleTimeoutMs, () => req.destroy(new Error(`no data for ${this.idleTimeoutMs} ms`)));
      req.on('error', fail);
      req.on('response', (res) => {
        clearTimeout(connectTimer);
        if (settled) {
          res.resume();
          return;
        }
        settled = true;
        // Until the caller attaches its own handler, a body error must not be unhandled.
        res.on('error', () => undefined);
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: res, url: url.toString() });
      });
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        const src = Readable.from(body, { objectMode: false });
        // The caller's stream failing is its error, not the endpoint's (no fallback, no retry).
        src.on('error', (err) => {
          if (!settled) {
            settled = true;
            reject(err);
          }
          req.destroy(err);
        });
        src.pipe(req);
      }
    });
  }
}

/** A failure to reach the endpoint, worded as Go's client words it (`Get "url": …`, TLS failures in Go's words). */
export function transportError(url: URL, err: Error, method = 'GET'): RegistryError {
  const verb = method.charAt(0) + method.slice(1).toLowerCase();
  const text = (url.protocol === 'https:' ? goTlsErrorText(err, url.hostname) : undefined) ?? err.message;
  const e = new RegistryError(`${verb} "${url.toString()}": ${text}`, 0, undefined, true);
  (e as { cause?: unknown }).cause = err;
  return e;
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

/** Reads a whole body, refusing more than `cap` bytes (the socket is destroyed at the cap). */
export async function readBody(res: HttpResponse, cap = JSON_BODY_CAP): Promise<Buffer> {
  const declared = Number(header(res, 'content-length'));
  if (Number.isFinite(declared) && declared > cap) {
    res.body.destroy();
    throw new RegistryError(`response from ${res.url} is ${declared} bytes, more than the ${cap} allowed`, res.status, 'TOO_LARGE');
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > cap) {
        res.body.destroy();
        throw new RegistryError(`response from ${res.url} is more than the ${cap} bytes allowed`, res.status, 'TOO_LARGE');
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw transportError(new URL(res.url), err as Error);
  }
  return Buffer.concat(chunks, total);
}

/** Drains a body we do not need, so the connection can be reused. */
export function discard(res: HttpResponse): void {
  res.body.resume();
}
