// Connection hijacking for attach (and exec start): the client asks to `Upgrade: tcp`, the
// answer is a 101 and the socket then carries raw or multiplexed bytes both ways, as dockerd
// does. Node hands upgrade requests to the 'upgrade' event, detached from its HTTP parser; we
// route them through fastify like any request, so version prefixes, headers and errors before
// the hijack behave as everywhere else.
import * as http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type * as net from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidParameter } from '../lib/errors';
import { JSON_BODY_LIMIT, JsonBody } from './body';
import { decodeGoJson, JsonSyntaxError, parseMediaType } from './json';
import { MEDIA_TYPE_MULTIPLEXED_STREAM, MEDIA_TYPE_RAW_STREAM } from './streams';
import { versionLessThan } from './version';

const upgraded = new WeakSet<http.IncomingMessage>();
/** Bodies of upgraded requests, read off the socket before routing. */
const upgradedBodies = new WeakMap<http.IncomingMessage, Buffer>();

export function installUpgradeRouting(app: FastifyInstance): void {
  app.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    upgraded.add(req);
    // Node's server drops its own error listener when it hands an upgrade over: without this
    // one, a client that leaves before the answer turns the reply's write into an unhandled EPIPE.
    if (socket.listenerCount('error') === 0) socket.on('error', () => undefined);
    req.on('error', () => undefined);
    if (head.length > 0) socket.unshift(head);
    const res = new http.ServerResponse(req);
    res.on('error', () => undefined);
    res.assignSocket(socket);
    res.shouldKeepAlive = false;
    res.on('finish', () => {
      if (!socket.destroyed) socket.end();
    });
    // The client left before the answer: nothing to route to, and writes would only fail.
    if (socket.destroyed) return;
    const route = (): void => app.routing(req, res);
    const length = Number(req.headers['content-length'] ?? '0');
    if (!(length > 0)) return route();
    // Node detaches an upgraded request from its parser without reading a body (exec start
    // sends JSON): read the Content-Length bytes here, and hide the length from fastify, whose
    // parser would otherwise see an empty stream of a non-zero declared length.
    readUpgradedBody(socket, Math.min(length, JSON_BODY_LIMIT)).then(
      (body) => {
        upgradedBodies.set(req, body);
        delete req.headers['content-length'];
        route();
      },
      () => socket.destroy(),
    );
  });
  // Hands the body read above to the handler as the JSON parser would have.
  app.addHook('preHandler', async (request) => {
    const body = upgradedBodies.get(request.raw);
    if (body === undefined) return;
    const ct = parseMediaType(request.headers['content-type'] ?? '');
    if ('error' in ct || ct.mediaType !== 'application/json') return;
    try {
      request.body = new JsonBody(body, decodeGoJson(body.toString('utf8')));
    } catch (err) {
      if (err instanceof JsonSyntaxError) throw new InvalidParameter(`invalid JSON: ${err.message}`);
      throw err;
    }
  });
}

/** Reads exactly `length` bytes off a socket; whatever follows them is put back, paused. */
function readUpgradedBody(socket: net.Socket, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const cleanup = (): void => {
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('error', onEnd);
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error('connection closed before the request body was read'));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got < length) return;
      cleanup();
      socket.pause();
      const all = Buffer.concat(chunks);
      if (all.length > length) socket.unshift(all.subarray(length));
      resolve(all.subarray(0, length));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
  });
}

export function isUpgraded(request: FastifyRequest): boolean {
  return upgraded.has(request.raw);
}

/** The media type of a hijacked stream: raw for a TTY, multiplexed otherwise (named since 1.42). */
export function streamMediaType(tty: boolean, apiVersion: string): string {
  if (tty || versionLessThan(apiVersion, '1.42')) return MEDIA_TYPE_RAW_STREAM;
  return MEDIA_TYPE_MULTIPLEXED_STREAM;
}

/**
 * Takes the connection over: writes the status line and headers (101 when the client asked to
 * upgrade, else 200) and returns the socket, which the caller now owns.
 */
export function hijack(request: FastifyRequest, reply: FastifyReply, contentType: string): net.Socket {
  reply.hijack();
  const socket = request.raw.socket;
  const lines = upgraded.has(request.raw)
    ? ['HTTP/1.1 101 UPGRADED', `Content-Type: ${contentType}`, 'Connection: Upgrade', 'Upgrade: tcp']
    : ['HTTP/1.1 200 OK', `Content-Type: ${contentType}`];
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value === undefined || /^content-type$/i.test(name)) continue;
    lines.push(`${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
  }
  socket.setNoDelay(true);
  socket.setTimeout(0);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  // Reading a request body off the socket (readUpgradedBody) leaves it explicitly paused, and a
  // 'data' listener does not resume such a stream: what the client writes after the upgrade
  // (stdin) would never be read. Flowing starts on the next tick, once the caller's listeners are on.
  socket.resume();
  return socket;
}

/**
 * Takes the response over to stream a body whose headers must reach the client at once (wait,
 * logs): fastify's headers plus the content type, flushed before any body byte exists.
 */
export function startRawResponse(reply: FastifyReply, contentType: string): http.ServerResponse {
  reply.hijack();
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined && !/^content-type$/i.test(name)) headers[name] = value;
  }
  headers['Content-Type'] = contentType;
  const res = reply.raw;
  res.writeHead(200, headers);
  res.flushHeaders();
  return res;
}

/**
 * Writes `chunk` and resolves once the socket has taken it (so its buffer may be reused), or
 * the response is gone.
 */
export function writeFlushed(res: http.ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('close', done);
      resolve();
    };
    res.once('close', done);
    res.write(chunk, done);
  });
}

/** Resolves once a response (or a hijacked socket) can take more, or is gone. */
export function writableOrGone(res: http.ServerResponse | net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
    if (res.destroyed) done();
  });
}

const websockets = new WebSocketServer({ noServer: true });

/**
 * Completes a websocket handshake on an upgraded request (attach/ws). Bytes that came with the
 * headers were put back on the socket, so no head is passed on.
 */
export function acceptWebsocket(request: FastifyRequest, reply: FastifyReply): Promise<WebSocket> {
  if (!upgraded.has(request.raw) || !/websocket/i.test(request.headers.upgrade ?? '')) {
    return Promise.reject(new InvalidParameter('this endpoint needs a websocket upgrade request'));
  }
  reply.hijack();
  return new Promise((resolve) => {
    websockets.handleUpgrade(request.raw, request.raw.socket, Buffer.alloc(0), (ws) => resolve(ws));
  });
}
