// GET and HEAD /_ping answered before fastify: clients ping before nearly every command (the
// docker CLI, testcontainers' and compose's health loops, load balancers), and at 32 concurrent
// connections fastify's routing, hooks and reply object were most of berthd's CPU per ping. The
// answer is the route's own (api/routes/system.ts pingHeaders and PING_BODY, after the headers
// every matched route gets), so only requests the route would answer 200 take this path: any
// other method, path, version outside the supported range or request with a body goes on to
// fastify, which answers it (errors included) as before.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { PING_BODY, pingHeaders } from './routes/system';
import { negotiateVersion, parseVersionPrefix } from './version';

export interface PingFastPathOptions {
  /** The headers the server's onRequest hook gives every matched route, in its order. */
  apiHeaders: ReadonlyArray<readonly [string, string]>;
  logger: Logger;
  /** Told of each answered ping, as the server's onResponse hook tells of routed requests. */
  observe?: (o: { route: string; method: string; status: number; seconds: number }) => void;
  /** True once the server is closing: fastify then answers (503), not this path. */
  closing: () => boolean;
  /** The `Swarm` header's value now (inactive, active/manager, active/worker...). */
  swarmStatus: () => string;
}

/** Answers the request and returns true, or returns false and leaves it untouched. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The route's path, once any /vX.Y prefix and query string are taken off. */
const PING_PATH = '/_ping';

/** True when `url` is /_ping, with or without a version prefix and query, at a served version. */
export function isPingUrl(url: string): boolean {
  if (!url.includes(PING_PATH)) return false;
  const { version, path } = parseVersionPrefix(url);
  const q = path.indexOf('?');
  if ((q === -1 ? path : path.slice(0, q)) !== PING_PATH) return false;
  if (version === undefined) return true;
  try {
    negotiateVersion(version);
    return true;
  } catch {
    return false; // fastify answers the version error
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function pingFastPath(o: PingFastPathOptions): FastPath {
  type Heads = Record<'GET' | 'HEAD', Record<string, string>>;
  // Built once per swarm state (a handful of values), not per ping.
  const bySwarm = new Map<string, Heads>();
  const headersFor = (swarm: string): Heads => {
    let heads = bySwarm.get(swarm);
    if (heads === undefined) {
      const base: Record<string, string> = {};
      for (const [name, value] of [...o.apiHeaders, ...pingHeaders(swarm)]) base[name] = value;
      heads = {
        GET: { ...base, 'content-length': String(Buffer.byteLength(PING_BODY)) },
        HEAD: { ...base, 'content-length': '0' },
      };
      bySwarm.set(swarm, heads);
    }
    return heads;
  };
  return (req, res) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    if (!isPingUrl(req.url ?? '') || hasBody(req) || o.closing()) return false;
    const t0 = o.observe ? process.hrtime.bigint() : 0n;
    if (o.logger.isLevelEnabled('debug')) o.logger.debug({ method, url: req.url }, 'Calling API');
    res.writeHead(200, headersFor(o.swarmStatus())[method]);
    // A string body goes out in the same write as the head.
    if (method === 'GET') res.end(PING_BODY);
    else res.end();
    o.observe?.({ route: PING_PATH, method, status: 200, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
    return true;
  };
}
