// The HTTP server: fastify set up to behave like dockerd's API server (version prefix, response
// headers, error bodies, 404s), every operation of the spec registered from the route table, and
// listeners on unix sockets and systemd-activated file descriptors.

import * as fs from 'node:fs';
import * as http from 'node:http';
import type { IncomingMessage } from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { InvalidParameter, NotImplemented } from '../lib/errors';
import { engineInfo } from '../daemon/system/engine';
import { JSON_BODY_LIMIT, registerBodyParsers } from './body';
import { installUpgradeRouting } from './hijack';
import './request';
import { errorBody, setPrivatePaths, toHttpError } from './errors';
import { pingFastPath } from './ping-fast-path';
import { sendJson } from './reply';
import type { ApiHandler, Operations } from './routes/operations';
import { imageOperations, type ImageBackend } from './routes/images';
import { containerOperations, type ContainerBackend } from './routes/containers';
import { eventsOperations, type EventsBackend } from './routes/events';
import { containerFileOperations, type ContainerFilesBackend } from './routes/container-files';
import { execOperations, type ExecBackend } from './routes/exec';
import { statsOperations, type StatsBackend } from './routes/stats';
import { volumeOperations, type VolumeBackend } from './routes/volumes';
import { networkOperations, type NetworkBackend } from './routes/networks';
import { diskUsageOperations, type DiskUsageBackend } from './routes/disk-usage';
import { pluginOperations } from './routes/plugins';
import { swarmOperations, type SwarmBackend } from './routes/swarm';
import { pingOperations, systemOperations, type SystemBackend } from './routes/system';
import { registryOperations, type RegistryBackend } from './routes/registry';
import { buildOperations, type BuildBackend } from './routes/build';
import { hasGreedyParam, ROUTES, type OperationId, type RouteSpec } from './routes/table';
import { API_VERSION, negotiateVersion, parseVersionPrefix, versionLessThan } from './version';

/**
 * One backend per API area. An area whose backend is missing answers 501 on all its routes.
 * To add an area: define its backend interface and an `<area>Operations(backend)` function in
 * api/routes/<area>.ts returning handlers keyed by operationId, add the backend here, and one
 * line to `operationsFor` below.
 */
export interface ApiBackends {
  system?: SystemBackend;
  images?: ImageBackend;
  containers?: ContainerBackend;
  events?: EventsBackend;
  stats?: StatsBackend;
  exec?: ExecBackend;
  containerFiles?: ContainerFilesBackend;
  volumes?: VolumeBackend;
  networks?: NetworkBackend;
  diskUsage?: DiskUsageBackend;
  registry?: RegistryBackend;
  build?: BuildBackend;
  /** Swarm mode on a cluster store; without it the swarm routes answer as an inactive node. */
  swarm?: SwarmBackend;
}

function operationsFor(backends: ApiBackends): Operations[] {
  return [
    backends.system ? systemOperations(backends.system) : pingOperations(),
    swarmOperations(backends.swarm),
    pluginOperations(),
    backends.images ? imageOperations(backends.images) : {},
    backends.containers ? containerOperations(backends.containers) : {},
    backends.events ? eventsOperations(backends.events) : {},
    backends.containerFiles ? containerFileOperations(backends.containerFiles) : {},
    backends.exec ? execOperations(backends.exec) : {},
    backends.stats ? statsOperations(backends.stats) : {},
    backends.volumes ? volumeOperations(backends.volumes) : {},
    backends.networks ? networkOperations(backends.networks) : {},
    backends.diskUsage ? diskUsageOperations(backends.diskUsage) : {},
    backends.registry ? registryOperations(backends.registry) : {},
    backends.build ? buildOperations(backends.build) : {},
  ];
}

export interface ApiServerOptions {
  logger: Logger;
  backends: ApiBackends;
  /** Reported in the Docker-Experimental header. */
  experimental?: boolean;
  /** Daemon directories (data root, exec root) whose paths error bodies never show. */
  privatePaths?: string[];
  /** Told of each answered request (not of hijacked ones): route pattern ('' if none matched), method, status, seconds. */
  observeRequest?: (o: { route: string; method: string; status: number; seconds: number }) => void;
}

/** The version named by the request's /vX.Y prefix, kept on the raw request by rewriteUrl. */
const requestedVersion = new WeakMap<IncomingMessage, string>();

/** Open listeners of each server, closed with it. */
const serverListeners = new WeakMap<FastifyInstance, Listener[]>();

interface Listener {
  server: net.Server;
  sockets: Set<net.Socket>;
  address: string;
}

/** Routes whose parameter may span slashes, as the static text around the parameter. */
const GREEDY: ReadonlyArray<{ method: string; prefix: string; suffix: string }> = ROUTES.filter(hasGreedyParam).map((r) => {
  const [prefix, suffix = ''] = r.path.split(/\{[^}]+\}/);
  return { method: r.method, prefix, suffix };
});

/**
 * dockerd matches `{name:.*}` across slashes (`/images/library/ubuntu/json`); fastify's router
 * params stop at '/'. Encode the slashes inside such a parameter so the router sees one segment
 * (it decodes the parameter back). The first route of the table that matches wins.
 */
export function encodeGreedyParams(method: string, url: string): string {
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  for (const g of GREEDY) {
    if (g.method !== method) continue;
    if (pathname.length <= g.prefix.length + g.suffix.length) continue;
    if (!pathname.startsWith(g.prefix) || !pathname.endsWith(g.suffix)) continue;
    const param = pathname.slice(g.prefix.length, pathname.length - g.suffix.length);
    if (!param.includes('/')) return url;
    return g.prefix + param.replace(/\//g, '%2F') + g.suffix + (q === -1 ? '' : url.slice(q));
  }
  return url;
}

function toFastifyPath(specPath: string): string {
  return specPath.replace(/\{([^}]+)\}/g, ':$1');
}

function mergeOperations(all: Operations[]): Map<OperationId, ApiHandler> {
  const merged = new Map<OperationId, ApiHandler>();
  for (const ops of all) {
    for (const [id, handler] of Object.entries(ops) as Array<[OperationId, ApiHandler | undefined]>) {
      if (!handler) continue;
      if (merged.has(id)) throw new Error(`operation ${id} is implemented by two routers`);
      merged.set(id, handler);
    }
  }
  return merged;
}

function notImplemented(operationId: string): ApiHandler {
  return async () => {
    throw new NotImplemented(`${operationId} is not implemented`);
  };
}

function withMinVersion(route: RouteSpec, handler: ApiHandler): ApiHandler {
  const min = route.minVersion;
  if (min === undefined) return handler;
  return async (request, reply) => {
    if (versionLessThan(request.apiVersion, min)) {
      throw new InvalidParameter(`${route.method} ${route.path} requires minimum API version ${min}`);
    }
    return handler(request, reply);
  };
}

/** Answers an error as dockerd does: its status, a {"message": ...} body, logged when unexpected. */
function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply | undefined {
  const { status, message, unexpected } = toHttpError(err, request.headers['content-type']);
  const what = `Handler for ${request.method} ${request.originalUrl ?? request.raw.url ?? ''} returned error`;
  if (unexpected || status === 500) request.log.error({ err, status }, what);
  else if (status > 500) request.log.debug({ err: message, status }, what);
  if (reply.raw.headersSent) {
    // A streamed body failed midway: the status is gone, so cut the connection as dockerd does.
    if (!reply.raw.writableEnded) reply.raw.destroy();
    return undefined;
  }
  if (status === 304) return reply.code(304).send();
  // Every error is JSON, "too old" included: dockerd 20.10 answered API < 1.24 in plain text,
  // but no such version is served any more and current moby dropped that branch.
  return reply.code(status).type('application/json').send(errorBody(message));
}

/**
 * Go's http.DefaultMaxHeaderBytes: Go's net/http reads headers up to 1 MiB; Node stops at
 * 16 KiB, and clients with large X-Registry-Auth or label filters need more.
 */
export const MAX_HEADER_BYTES = 1 << 20;

/**
 * Bytes that are not HTTP (or headers too large): answered 400 (431) with a {"message": ...}
 * body and the connection closed, as Go's server closes it; a vanished client is just dropped.
 */
function clientError(err: Error & { code?: string }, socket: net.Socket): void {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || socket.destroyed) {
    socket.destroy();
    return;
  }
  const [status, text] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
  const body = errorBody(status === 431 ? 'request header fields too large' : 'malformed HTTP request');
  socket.on('error', () => socket.destroy());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    socket.end(body);
  }
  // A client that never reads must not keep the connection: end() waits for the write to drain.
  setTimeout(() => socket.destroy(), 5000).unref();
}

/** How long an idle keep-alive connection stays open (fastify's default; `Keep-Alive: timeout=72`). */
const KEEP_ALIVE_MS = 72_000;

/** Routes take no fastify schemas (bodies are checked by the services' own parsers). */
function noSchemaCompiler(): never {
  throw new Error('berthd routes declare no fastify schemas');
}

export function createApiServer(opts: ApiServerOptions): FastifyInstance {
  // dockerd's middlewares answer every matched route with these, in this order; the version is
  // checked after the first three (a version error carries them but not Docker-Experimental).
  const beforeVersion: ReadonlyArray<readonly [string, string]> = [
    ['server', `Docker/${engineInfo().version} (linux)`],
    ['api-version', API_VERSION],
    ['ostype', 'linux'],
  ];
  const afterVersion: ReadonlyArray<readonly [string, string]> = [['docker-experimental', opts.experimental ? 'true' : 'false']];
  let closing = false;
  const fastPing = pingFastPath({
    apiHeaders: [...beforeVersion, ...afterVersion],
    logger: opts.logger,
    observe: opts.observeRequest,
    closing: () => closing,
    swarmStatus: () => opts.backends.system?.swarmStatus?.() ?? 'inactive',
  });

  if (opts.privatePaths) setPrivatePaths(opts.privatePaths);
  const app = fastify({
    // The server fastify would make (its timeouts below), with /_ping answered before fastify.
    serverFactory: (handler) => {
      const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
        if (!fastPing(req, res)) handler(req, res);
      });
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      server.requestTimeout = 0;
      server.setTimeout(0);
      return server;
    },
    keepAliveTimeout: KEEP_ALIVE_MS,
    loggerInstance: opts.logger as FastifyBaseLogger,
    // Per-request lines are the debug "Calling API" below, as dockerd logs them.
    logController: new LogController({ disableRequestLogging: true }),
    // dockerd answers HEAD only where a route says so (/_ping, container archives).
    exposeHeadRoutes: false,
    // Long uploads (image load) and streams (logs, events) must not be cut by server timeouts.
    requestTimeout: 0,
    connectionTimeout: 0,
    bodyLimit: JSON_BODY_LIMIT,
    routerOptions: { maxParamLength: 4096, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, caseSensitive: true },
    // Malformed URLs reach the error handler, so they answer in dockerd's {"message": ...} shape.
    frameworkErrors: (err, request, reply) => {
      // The reply is thenable but sending is synchronous here; nothing is left to await.
      void sendError(request, reply, err);
    },
    clientErrorHandler: clientError,
    // No route declares a schema: compilers that refuse keep fastify from loading ajv and
    // fast-json-stringify (~0.6 MB of source resident in the heap for nothing).
    schemaController: { compilersFactory: { buildValidator: noSchemaCompiler, buildSerializer: noSchemaCompiler } },
    rewriteUrl(req) {
      const { version, path: rest } = parseVersionPrefix(req.url ?? '/');
      if (version !== undefined) requestedVersion.set(req, version);
      return encodeGreedyParams(req.method ?? 'GET', rest);
    },
  });

  app.decorateRequest('apiVersion', API_VERSION);
  registerBodyParsers(app);
  installUpgradeRouting(app);

  // dockerd's middlewares, for matched routes only (its 404s carry none of these headers).
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return;
    request.log.debug({ method: request.method, url: request.originalUrl }, 'Calling API');
    for (const [name, value] of beforeVersion) reply.header(name, value);
    request.apiVersion = negotiateVersion(requestedVersion.get(request.raw));
    for (const [name, value] of afterVersion) reply.header(name, value);
  });

  const observe = opts.observeRequest;
  if (observe) {
    app.addHook('onResponse', async (request, reply) => {
      observe({
        route: request.is404 ? '' : (request.routeOptions.url ?? ''),
        method: request.method,
        status: reply.statusCode,
        seconds: reply.elapsedTime / 1000,
      });
    });
  }

  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));

  app.setNotFoundHandler((_request, reply) => sendJson(reply, { message: 'page not found' }, 404));

  const implemented = mergeOperations(operationsFor(opts.backends));
  for (const route of ROUTES) {
    const handler = implemented.get(route.operationId) ?? notImplemented(route.operationId);
    app.route({ method: route.method, url: toFastifyPath(route.path), handler: withMinVersion(route, handler) });
  }
  // CORS preflight: dockerd answers OPTIONS on any path with an empty 200.
  app.options('/*', async (_request, reply) => reply.code(200).send());

  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onClose', async (instance) => {
    const listeners = serverListeners.get(instance) ?? [];
    serverListeners.delete(instance);
    await Promise.all(listeners.map(closeListener));
  });

  return app;
}

// ---------------------------------------------------------------- listeners

function closeListener(l: Listener): Promise<void> {
  return new Promise((resolve) => {
    l.server.close(() => resolve());
    // Like Go's http.Server.Close: in-flight requests and hijacked streams end with the daemon.
    for (const s of l.sockets) s.destroy();
  });
}

/** A net.Server whose connections are served by the fastify instance's HTTP server. */
function connectionForwarder(app: FastifyInstance, address: string): Listener {
  const sockets = new Set<net.Socket>();
  // Half-open: an attached client shuts its write side when its stdin ends (StdinOnce), and
  // must keep reading the container's output after that, as Go's hijacked connections allow.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A peer that leaves turns the next write into EPIPE/ECONNRESET, emitted as 'error'. Node's
    // HTTP server listens only until the connection is upgraded or hijacked; this listener
    // stays for the socket's whole life, so no such error is ever unhandled.
    socket.on('error', (err: NodeJS.ErrnoException) => app.log.debug({ err: err.message, code: err.code }, 'client connection error'));
    app.server.emit('connection', socket);
  });
  return { server, sockets, address };
}

/**
 * The accept queue of a socket we listen on: the kernel's limit, net.core.somaxconn, as Go's
 * listeners (and so dockerd's) ask for. Node's default of 511 overflowed under `docker rm` of
 * many IDs in parallel (each CLI opens a connection per container at once): a unix socket
 * whose queue is full refuses the connect with EAGAIN, which the CLI reports as "Cannot connect
 * to the Docker daemon".
 */
export function listenBacklog(file = '/proc/sys/net/core/somaxconn'): number {
  try {
    const n = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    // As Go's maxListenerBacklog: the value read (here at most 2^16-1, the limit of kernels
    // before 4.1), and 128 (SOMAXCONN) when it cannot be read.
    return Number.isSafeInteger(n) && n > 0 ? Math.min(n, 65535) : 128;
  } catch {
    return 128;
  }
}

function listenOn(server: net.Server, target: string | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    const done = (): void => {
      server.removeListener('error', onError);
      resolve();
    };
    if (typeof target === 'string') server.listen({ path: target, backlog: listenBacklog() }, done);
    else server.listen(target, done);
  });
}

/**
 * Serves the API on each of `hosts`: `unix:///path/to.sock`, `fd://` (every socket systemd
 * passed) or `fd://N` (that one). Unix sockets get mode 0660 and group `group` (default
 * "docker", like dockerd: when that group does not exist the socket stays root-only; "" keeps
 * the daemon's own group).
 */
export async function listen(server: FastifyInstance, hosts: string[], opts: { group?: string } = {}): Promise<void> {
  await server.ready();
  const opened: Listener[] = [];
  try {
    for (const host of hosts) {
      const sep = host.indexOf('://');
      const proto = sep === -1 ? '' : host.slice(0, sep);
      const addr = sep === -1 ? host : host.slice(sep + 3);
      if (proto === 'unix') {
        opened.push(await listenUnix(server, addr, opts.group));
      } else if (proto === 'fd') {
        opened.push(...(await listenFd(server, addr)));
      } else {
        throw new Error(`unsupported API host ${JSON.stringify(host)}: use unix:///path or fd://`);
      }
    }
  } catch (err) {
    await Promise.all(opened.map(closeListener));
    throw err;
  }
  for (const l of opened) server.log.info(`API listen on ${l.address}`);
  serverListeners.set(server, [...(serverListeners.get(server) ?? []), ...opened]);
}

/** Removes a socket file left by a daemon that is gone; refuses if something still answers on it. */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`cannot listen on ${socketPath}: the path exists and is not a socket`);
  const probe = await new Promise<'alive' | 'stale' | Error>((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve('alive');
    });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'stale' : err));
  });
  if (probe === 'alive') {
    throw new Error(`cannot listen on ${socketPath}: another process is serving on it (is another daemon running?)`);
  }
  if (probe instanceof Error) throw new Error(`cannot listen on ${socketPath}: ${probe.message}`);
  fs.rmSync(socketPath, { force: true });
}

/** Looks a group up in /etc/group by name or number, as dockerd's lookupGID does. */
export function lookupGroupId(group: string, groupFile = '/etc/group'): number | undefined {
  let text = '';
  try {
    text = fs.readFileSync(groupFile, 'utf8');
  } catch {
    // no group database: only numeric groups can resolve
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (gid !== undefined && (name === group || gid === group)) return Number(gid);
  }
  return /^[0-9]+$/.test(group) ? Number(group) : undefined;
}

const DEFAULT_SOCKET_GROUP = 'docker';

async function listenUnix(app: FastifyInstance, socketPath: string, group = DEFAULT_SOCKET_GROUP): Promise<Listener> {
  if (socketPath === '') throw new Error('unix:// needs a socket path');
  let gid: number | undefined;
  if (group !== '') {
    gid = lookupGroupId(group);
    if (gid === undefined) {
      if (group !== DEFAULT_SOCKET_GROUP) throw new Error(`group ${group} not found`);
      app.log.warn(`could not change group ${socketPath} to ${DEFAULT_SOCKET_GROUP}: group ${DEFAULT_SOCKET_GROUP} not found`);
    }
  }
  fs.mkdirSync(path.dirname(socketPath), { recursive: true });
  await removeStaleSocket(socketPath);
  const l = connectionForwarder(app, socketPath);
  // Create the socket inaccessible to others until its mode and group are set.
  const oldMask = process.umask(0o177);
  try {
    await listenOn(l.server, socketPath);
  } finally {
    process.umask(oldMask);
  }
  if (gid !== undefined) fs.chownSync(socketPath, process.getuid?.() ?? 0, gid);
  fs.chmodSync(socketPath, 0o660);
  return l;
}

let activatedFds: number[] | undefined;

/**
 * The descriptors systemd passed (LISTEN_PID/LISTEN_FDS, starting at fd 3), read once; the
 * variables are then removed so children do not inherit them, as go-systemd does.
 */
export function systemdListenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number[] {
  if (activatedFds !== undefined && env === process.env) return activatedFds;
  let fds: number[] = [];
  const listenPid = Number(env.LISTEN_PID);
  const count = Number(env.LISTEN_FDS);
  if (env.LISTEN_PID && listenPid === pid && Number.isInteger(count) && count > 0) {
    fds = Array.from({ length: count }, (_, i) => 3 + i);
  }
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (env === process.env) activatedFds = fds;
  return fds;
}

async function listenFd(app: FastifyInstance, addr: string): Promise<Listener[]> {
  const fds = systemdListenFds();
  if (fds.length === 0) throw new Error('no sockets found via socket activation: make sure the service was started by systemd');
  let chosen = fds;
  if (addr !== '' && addr !== '*') {
    if (!/^[0-9]+$/.test(addr)) throw new Error(`failed to parse systemd fd address: should be a number: ${addr}`);
    const fd = Number(addr);
    if (fd < 3 || fd - 3 >= fds.length) throw new Error('too few socket activated files passed in by systemd');
    chosen = [fd];
  }
  const out: Listener[] = [];
  for (const fd of chosen) {
    const l = connectionForwarder(app, `fd://${fd}`);
    await listenOn(l.server, { fd });
    out.push(l);
  }
  return out;
}
